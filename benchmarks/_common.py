"""What every benchmark prints: the machine, the load on it, and figures with ratios.

Benchmarks run as plain scripts (``python benchmarks/inference.py``), so this
module is imported by its bare name from the scripts' own folder. Each script
can also write its figures as JSON (``--json PATH``) for docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from spacy.tokens import Doc

ROOT = Path(__file__).resolve().parent.parent
# The composed corpus (the seeds and the composed reports) and its split by theatre.
GOLD = [ROOT / "corpus/gold.jsonl", ROOT / "corpus/composed"]
SPLITS = ROOT / "corpus/splits.json"
# The transformer must never reach for a model hub (there is none here).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Wide enough for the tables when the output goes to a file (as in a background run).
console = Console(width=None if sys.stdout.isatty() else 120)


def cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0))


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float:
    """Total memory in GiB, from /proc/meminfo."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def package_version(name: str) -> str:
    """An installed distribution's version, or 'not installed'."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    """Cores, CPU, RAM, versions, date and load: the context of every figure."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": cores(),
        "cpu": cpu_model(),
        "ram_gib": round(ram_gib(), 1),
        "python": sys.version.split()[0],
        "spacy": package_version("spacy"),
        "spacy_transformers": package_version("spacy-transformers"),
        "torch": package_version("torch"),
        "transformers": package_version("transformers"),
        "load_start": load_average(),
    }


def print_machine(info: dict[str, Any]) -> None:
    """Print the machine block that heads every benchmark's output."""
    console.rule("machine")
    console.print(
        f"date {info['date']} | {info['cores']} cores | {info['cpu']} | "
        f"{info['ram_gib']} GiB RAM\npython {info['python']} | spaCy {info['spacy']} | "
        f"spacy-transformers {info['spacy_transformers']} | torch {info['torch']} | "
        f"transformers {info['transformers']}\nload average at start (1/5/15 min): "
        f"{info['load_start']}"
    )


def composed_splits() -> dict[str, list[Doc]]:
    """Gold Docs of the composed corpus by split of corpus/splits.json."""
    # Imported here: the other benchmarks' helpers need no spaCy.
    from conflict_ner.articles import load_splits
    from conflict_ner.convert import doc_article_id, gold_docs

    where = load_splits(SPLITS).split_of()
    by_split: dict[str, list[Doc]] = {"train": [], "dev": [], "test": []}
    for doc in (d for path in GOLD for d in gold_docs(path)):
        by_split[where[doc_article_id(doc)]].append(doc)
    return by_split


def step_budget_overrides(steps: int, seed: int, evaluations: int = 4) -> dict[str, int]:
    """Training overrides for a fixed step budget: that many steps, a few evaluations
    on dev, and patience of at least two evaluations.

    spaCy counts patience in steps since the best evaluation, at every step: with a
    patience shorter than the gap between evaluations, a run stops before its first
    evaluation after step 0 and keeps the untrained model as model-best.
    """
    frequency = max(steps // evaluations, 10)
    return {
        "training.max_steps": steps,
        "training.eval_frequency": frequency,
        "training.patience": max(400, 2 * frequency),
        "system.seed": seed,
    }


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is zero."""
    return numerator / denominator if denominator else float("nan")


def table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    """A rich table with the first column left-aligned and the rest right-aligned."""
    out = Table(title=title)
    for i, name in enumerate(columns):
        out.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        out.add_row(*row)
    return out


def finish(info: dict[str, Any], results: dict[str, Any], json_path: Path | None) -> None:
    """Print the end-of-run load and write every figure as JSON if asked."""
    info["load_end"] = load_average()
    console.print(f"load average at end (1/5/15 min): {info['load_end']}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "results": results, "argv": sys.argv}
        json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf8")
        console.print(f"figures written to {json_path}")
