"""Training hooks for benchmarks/training.py, loaded by ``spacy train --code``.

- ``bench.step_clock.v1`` (training.before_update): appends "step seconds" for
  every update, so the benchmark times updates apart from evaluations;
- ``bench.words_logger.v1`` (training.logger): spaCy's console logger, plus a
  JSON line with the step and the words seen so far at every evaluation.
"""

# No "from __future__ import annotations": spaCy validates registered functions
# against their real annotations.
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from spacy.language import Language
from spacy.util import registry

StepHook = Callable[[Language, dict[str, Any]], None]
LogStep = Callable[[dict[str, Any] | None], None]


@registry.callbacks("bench.step_clock.v1")
def step_clock(path: str) -> StepHook:
    """A before_update callback that records when each update starts."""

    def before_update(nlp: Language, args: dict[str, Any]) -> None:
        now = time.perf_counter()
        with Path(path).open("a", encoding="utf8") as out:
            out.write(f"{args['step']} {now:.6f}\n")

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
