"""Training hooks for benchmarks/training.py, loaded by ``spacy train --code``.

- ``bench.step_clock.v1`` (training.before_update): appends "step seconds
  rss in_use free mmapped" (bytes) for every update, so the benchmark times
  updates apart from evaluations and can tell live memory (glibc's in-use heap
  plus mmapped blocks) from memory the heap holds free but has not returned;
- ``bench.words_logger.v1`` (training.logger): spaCy's console logger, plus a
  JSON line with the step and the words seen so far at every evaluation.
"""

# No "from __future__ import annotations": spaCy validates registered functions
# against their real annotations.
import ctypes
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from spacy.language import Language
from spacy.util import registry

StepHook = Callable[[Language, dict[str, Any]], None]
LogStep = Callable[[dict[str, Any] | None], None]


class MallInfo2(ctypes.Structure):
    """glibc's struct mallinfo2 (all arenas summed), glibc >= 2.33."""

    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]  # fmt: skip


def memory_now() -> tuple[int, int, int, int]:
    """RSS, heap bytes in use, heap bytes free but kept, mmapped bytes (0s where unknown)."""
    rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except AttributeError:  # not glibc, or an older one
        return rss, 0, 0, 0
    mallinfo2.restype = MallInfo2
    info = mallinfo2()
    return rss, info.uordblks, info.fordblks, info.hblkhd


@registry.callbacks("bench.step_clock.v1")
def step_clock(path: str, then: StepHook | None = None) -> StepHook:
    """A before_update callback that records when each update starts and the memory then,
    and then runs the config's own before_update (``then``), if it had one."""

    def before_update(nlp: Language, args: dict[str, Any]) -> None:
        now = time.perf_counter()
        rss, in_use, free, mmapped = memory_now()
        with Path(path).open("a", encoding="utf8") as out:
            out.write(f"{args['step']} {now:.6f} {rss} {in_use} {free} {mmapped}\n")
        if then is not None:
            then(nlp, args)

    return before_update


@registry.loggers("bench.words_logger.v1")
def words_logger(path: str) -> Callable[..., tuple[LogStep, Callable[[], None]]]:
    """spaCy's ConsoleLogger.v3 (no bar), also writing {"step", "words"} at each evaluation."""
    console = registry.loggers.get("spacy.ConsoleLogger.v3")(progress_bar=None)

    def setup(
        nlp: Language, stdout: IO[str] | None = None, stderr: IO[str] | None = None
    ) -> tuple[LogStep, Callable[[], None]]:
        log_console, finalize = console(nlp, stdout, stderr)

        def log_step(info: dict[str, Any] | None) -> None:
            log_console(info)
            if info is not None:
                with Path(path).open("a", encoding="utf8") as out:
                    out.write(json.dumps({"step": info["step"], "words": info["words"]}) + "\n")

        return log_step, finalize

    return setup
