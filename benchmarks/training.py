"""Training speed and memory: seconds per 100 steps and peak RSS, CNN vs transformer.

    python benchmarks/training.py [--steps 100] [--eval-frequency 100]

Each (corpus, config) pair is one ``python -m spacy train`` subprocess (the
command line conflict_ner.training.train runs, plus ``--code
benchmarks/_train_hooks.py`` for the clocks), with a config copy bounded to
--steps updates, --eval-frequency, patience off and the dev set capped at
--dev-limit docs. Corpora:

- seed: corpus/train.spacy and dev.spacy (a snapshot; made from
  corpus/gold.jsonl with training.make_docbins, as `conflict-ner data` does,
  if missing);
- fashion: the Prodigy fashion-brands exports in ../shared/datasets, converted
  here with conflict_ner.convert (rejected tasks dropped). Their label is
  FASHION_BRAND: neither config lists labels, so the NER takes its labels
  from the data on initialisation.

Figures: seconds per 100 updates, timed from before_update to before_update
and leaving out the steps that end in an evaluation (and model-best saving);
the same including evaluations; words per update and training words per
second; wall time of the whole subprocess (start-up, initialisation and
backbone loading included); peak RSS of the subprocess (os.wait4's
ru_maxrss). Ratio: trf / cnn per corpus.

--allocators names the malloc settings to train each pair under (ALLOCATORS):
shipped (the default) as `conflict-ner train` does (training.allocator_env:
mimalloc, lazy purging), glibc with glibc's defaults, mmap-1m-thp (shipped until
2026-12-07), and the settings that were measured against them.
The first one named is the baseline: every other is printed as a ratio to it
(seconds per 100 steps, peak RSS, system CPU, minor page faults).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, console, finish, machine_info, print_machine, ratio, table
from rich.progress import Progress
from thinc.api import Config

from conflict_ner.convert import convert
from conflict_ner.training import (
    GLIBC_ALLOCATOR_ENV,
    MIMALLOC_ENV,
    OFFLINE_ENV,
    allocator_env,
    make_docbins,
    mimalloc_library,
)

HOOKS = Path(__file__).resolve().parent / "_train_hooks.py"
FASHION = ROOT.parent / "shared/datasets/prodigy_fashion_brands"
CONFIGS = {"cnn": ROOT / "configs/ner_cnn.cfg", "trf": ROOT / "configs/ner_trf.cfg"}
# The malloc settings a run can train under; each replaces the caller's own.
# The mimalloc ones need the cmeel-mimalloc package (a dependency on Linux).
THP = {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
MIMALLOC_LIBRARY = mimalloc_library()
MIMALLOC = {"LD_PRELOAD": str(MIMALLOC_LIBRARY)} if MIMALLOC_LIBRARY else {}
ALLOCATORS: dict[str, dict[str, str]] = {
    "shipped": allocator_env(),
    "glibc": {},
    "mmap-1m": {"MALLOC_MMAP_THRESHOLD_": "1048576"},
    "mmap-1m-thp": GLIBC_ALLOCATOR_ENV,
    "mmap-4m-thp": {"MALLOC_MMAP_THRESHOLD_": "4194304", **THP},
    "thp": THP,
}
if MIMALLOC:  # without the package these would silently measure glibc
    ALLOCATORS |= {
        "mimalloc": MIMALLOC,
        "mimalloc-large": {**MIMALLOC, "MIMALLOC_ALLOW_LARGE_OS_PAGES": "1"},
        "mimalloc-lazy": {**MIMALLOC, **MIMALLOC_ENV},
    }
ALLOCATOR_VARIABLES = ("MALLOC_", "GLIBC_TUNABLES", "LD_PRELOAD", "MIMALLOC_")


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="training.max_steps")
    parser.add_argument("--eval-frequency", type=int, default=100)
    parser.add_argument("--dev-limit", type=int, default=200, help="dev docs per evaluation")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the runs here (steps.txt holds the memory per step)")
    parser.add_argument("--allocators", nargs="+", default=["shipped"], choices=list(ALLOCATORS),
                        help="malloc settings to train under; the first is the baseline")
    parser.add_argument("--corpora", nargs="+", default=["seed", "fashion"],
                        choices=["seed", "fashion"])  # fmt: skip
    parser.add_argument("--fashion-dir", type=Path, default=FASHION)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args()


# -- corpora -----------------------------------------------------------------------------------
def seed_corpus(out: Path) -> tuple[Path, Path]:
    """A snapshot of the seed train/dev .spacy files (made from the gold if missing)."""
    train, dev = ROOT / "corpus/train.spacy", ROOT / "corpus/dev.spacy"
    out.mkdir(parents=True, exist_ok=True)
    if train.is_file() and dev.is_file():
        return Path(shutil.copy(train, out)), Path(shutil.copy(dev, out))
    made = make_docbins(ROOT / "corpus/gold.jsonl", ROOT / "corpus/splits.json", out)
    return made["train"], made["dev"]


def fashion_corpus(src: Path, out: Path) -> tuple[Path, Path]:
    """The Prodigy fashion-brands exports as train/dev .spacy files, via our converter."""
    paths = []
    for name, part in (("fashion_brands_training.jsonl", "train"),
                       ("fashion_brands_eval.jsonl", "dev")):  # fmt: skip
        dst = out / f"{part}.spacy"
        report = convert(src / name, dst)
        left_out, issues = len(report.skipped), len(report.issues)
        console.print(f"fashion {part}: {report.written} docs from {name} "
                      f"({left_out} left out, {issues} span issues)")  # fmt: skip
        paths.append(dst)
    return paths[0], paths[1]


# -- one training run ----------------------------------------------------------------------------
def bounded_config(config: Path, work: Path, args: argparse.Namespace) -> Path:
    """A copy of a config bounded to the benchmark's steps, with the clock hooks in."""
    cfg = Config().from_disk(config, interpolate=False)
    training = cfg["training"]
    training.update(max_steps=args.steps, eval_frequency=args.eval_frequency, patience=0)
    clock: dict[str, Any] = {"@callbacks": "bench.step_clock.v1", "path": str(work / "steps.txt")}
    if training.get("before_update"):
        clock["then"] = training["before_update"]
    training["before_update"] = clock
    training["logger"] = {"@loggers": "bench.words_logger.v1", "path": str(work / "words.jsonl")}
    cfg["corpora"]["dev"]["limit"] = args.dev_limit
    path = work / config.name
    cfg.to_disk(path)
    return path


def run_training(cfg: Path, train: Path, dev: Path, work: Path, steps: int,
                 allocator: str) -> tuple[float, Any]:  # fmt: skip
    """Run spacy train as a subprocess; return wall seconds and its resource usage."""
    command = [sys.executable, "-m", "spacy", "train", str(cfg), "--output", str(work / "out"),
               "--paths.train", str(train), "--paths.dev", str(dev),
               "--code", str(HOOKS)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(ALLOCATOR_VARIABLES)}
    env.update({**OFFLINE_ENV, **ALLOCATORS[allocator]})
    log = work / "train.log"
    start = time.perf_counter()
    with log.open("wb") as out, Progress(console=console, transient=True) as progress:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        task = progress.add_task(f"spacy train {cfg.name}", total=steps + 1)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            progress.update(task, completed=len(read_clock(work / "steps.txt")))
            time.sleep(0.5)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"spacy train failed ({proc.returncode}); end of {log}:\n{tail}")
    return time.perf_counter() - start, usage


def read_clock(path: Path) -> list[tuple[int, float]]:
    """(step, seconds) pairs written by bench.step_clock.v1."""
    if not path.is_file():
        return []
    return [(int(row[0]), float(row[1])) for row in read_steps(path)]


def read_steps(path: Path) -> list[list[str]]:
    """The rows bench.step_clock.v1 wrote: step, time, then the memory figures."""
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def step_figures(clock: list[tuple[int, float]], eval_frequency: int) -> dict[str, float]:
    """Seconds per 100 updates, without and with the steps that end in an evaluation."""
    durations = [(a[0], b[1] - a[1]) for a, b in itertools.pairwise(clock)]
    plain = [d for step, d in durations if step % eval_frequency]
    all_ = [d for _, d in durations]
    return {
        "steps": len(clock) - 1,
        "timed_steps": len(plain),
        "s_per_100": 100 * statistics.mean(plain) if plain else float("nan"),
        "s_per_100_median": 100 * statistics.median(plain) if plain else float("nan"),
        "s_per_100_with_eval": 100 * statistics.mean(all_) if all_ else float("nan"),
    }


def memory_at_last_step(path: Path) -> dict[str, float]:
    """RSS, glibc heap in use, heap free but kept, and mmapped MiB before the last update."""
    rows = read_steps(path)
    names = ("rss_mib", "heap_in_use_mib", "heap_free_mib", "mmapped_mib")
    if not rows or len(rows[-1]) < 6:
        return {}
    return {name: int(value) / 2**20 for name, value in zip(names, rows[-1][2:6], strict=True)}


def words_per_step(path: Path) -> float:
    """Mean words per update, from the last evaluation's running total."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    last = rows[-1]
    return last["words"] / (last["step"] + 1)


def benchmark(name: str, corpus: str, data: tuple[Path, Path], work: Path,
              args: argparse.Namespace, allocator: str) -> dict[str, Any]:  # fmt: skip
    """Train one config on one corpus; return its figures."""
    work.mkdir(parents=True)
    cfg = bounded_config(CONFIGS[name], work, args)
    wall, usage = run_training(cfg, data[0], data[1], work, args.steps, allocator)
    figures: dict[str, Any] = step_figures(read_clock(work / "steps.txt"), args.eval_frequency)
    wps = words_per_step(work / "words.jsonl")
    figures.update(config=name, corpus=corpus, allocator=allocator, wall_s=wall,
                   peak_rss_mib=usage.ru_maxrss / 1024, words_per_step=wps,
                   user_s=usage.ru_utime, system_s=usage.ru_stime, minor_faults=usage.ru_minflt,
                   train_wps=wps / (figures["s_per_100"] / 100),
                   memory_last_step=memory_at_last_step(work / "steps.txt"))  # fmt: skip
    console.print(f"{corpus}/{name} ({allocator}): {figures['s_per_100']:.1f} s per 100 steps, "
                  f"peak RSS {figures['peak_rss_mib']:,.0f} MiB, wall {wall:.0f} s, "
                  f"CPU {usage.ru_utime:.0f} s user + {usage.ru_stime:.0f} s system")  # fmt: skip
    split = ", ".join(f"{k} {v:,.0f}" for k, v in figures["memory_last_step"].items())
    console.print(f"  memory before the last update (MiB): {split}")
    return figures


# -- report ----------------------------------------------------------------------------------
def report(runs: list[dict[str, Any]], baseline: str) -> dict[str, float]:
    """Print every run and the trf/cnn ratios per corpus; return the ratios."""
    columns = ["corpus/config", "steps timed", "s/100 steps", "median", "with eval",
               "words/step", "train wps", "peak RSS MiB", "wall s", "user s", "system s",
               "minor faults"]  # fmt: skip
    rows = [[f"{r['corpus']}/{r['config']} {r['allocator']}", str(r["timed_steps"]),
             f"{r['s_per_100']:.1f}",
             f"{r['s_per_100_median']:.1f}", f"{r['s_per_100_with_eval']:.1f}",
             f"{r['words_per_step']:,.0f}", f"{r['train_wps']:,.0f}",
             f"{r['peak_rss_mib']:,.0f}", f"{r['wall_s']:.0f}", f"{r['user_s']:.0f}",
             f"{r['system_s']:.0f}", f"{r['minor_faults']:,}"] for r in runs]  # fmt: skip
    console.print(table("training speed and memory", columns, rows))
    ratios: dict[str, float] = {}
    by_key = {(r["corpus"], r["config"], r["allocator"]): r for r in runs}
    for corpus, allocator in dict.fromkeys((r["corpus"], r["allocator"]) for r in runs):
        trf, cnn = by_key.get((corpus, "trf", allocator)), by_key.get((corpus, "cnn", allocator))
        if trf is None or cnn is None:
            continue
        for key in ("s_per_100", "train_wps", "peak_rss_mib"):
            ratios[f"{corpus} ({allocator}) trf/cnn {key}"] = ratio(trf[key], cnn[key])
    for corpus, name, allocator in by_key:
        base = by_key[(corpus, name, baseline)]
        if allocator == baseline:
            continue
        for key in ("s_per_100", "peak_rss_mib", "system_s", "minor_faults"):
            ratios[f"{corpus}/{name} {allocator}/{baseline} {key}"] = ratio(
                by_key[(corpus, name, allocator)][key], base[key])
    for name, value in ratios.items():
        console.print(f"ratio {name}: {value:.2f}")
    return ratios


def main() -> None:
    """Prepare the corpora, train every config on each, print figures and ratios."""
    args = parse_args()
    info = machine_info()
    print_machine(info)
    work = args.work or Path(tempfile.mkdtemp(prefix="conflict-ner-bench-train-"))
    runs: list[dict[str, Any]] = []
    try:
        corpora = {}
        if "seed" in args.corpora:
            corpora["seed"] = seed_corpus(work / "seed")
        if "fashion" in args.corpora:
            corpora["fashion"] = fashion_corpus(args.fashion_dir, work / "fashion")
        for corpus, data in corpora.items():
            for name, allocator in itertools.product(args.configs, args.allocators):
                runs.append(benchmark(name, corpus, data, work / f"{corpus}-{name}-{allocator}",
                                      args, allocator))  # fmt: skip
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    ratios = report(runs, args.allocators[0])
    settings = {k: getattr(args, k) for k in ("steps", "eval_frequency", "dev_limit", "allocators")}
    settings["allocator_env"] = {name: ALLOCATORS[name] for name in args.allocators}
    finish(info, {"runs": runs, "ratios": ratios, "settings": settings}, args.json)


if __name__ == "__main__":
    main()
