"""Leave-one-group-out cross-validation: train on all but one group of articles, score it.

Near-duplicate articles form one group (articles.article_folds), so a retold
story is never on both sides. training.make_docbins writes each fold's held-out
articles as its "dev" set, and spacy train uses dev for early stopping and for
choosing model-best; to keep the held-out articles unseen we switch early
stopping off (patience 0) and score model-last.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conflict_ner.articles import article_folds, load_splits
from conflict_ner.evaluation.harness import Scored, score_system
from conflict_ner.evaluation.models import System, load_gold, load_pipeline
from conflict_ner.evaluation.report import Table, md_block, pct
from conflict_ner.evaluation.scoring import SCHEMES, summarise, total
from conflict_ner.evaluation.uncertainty import bootstrap_all
from conflict_ner.files import write_text_atomic
from conflict_ner.scheme import LABELS

# What each fold reports and the summary averages: (name, scheme, label or None).
FIGURES: tuple[tuple[str, str, str | None], ...] = (
    *((f"{s} F1", s, None) for s in SCHEMES),
    ("strict P", "strict", None),
    ("strict R", "strict", None),
    *((f"{label} strict F1", "strict", label) for label in LABELS),
)


def _figure(summary: dict[str, Any], name: str, scheme: str, label: str | None) -> float:
    """One figure of a summary: micro P/R/F1 or a label's strict F1."""
    if label is not None:
        return summary[scheme]["per_label"][label]["f1"]
    key = {"P": "p", "R": "r"}.get(name.split()[-1], "f1")
    return summary[scheme]["micro"][key]


def fold_row(n: int, held_out: list[str], n_train: int, scored: Scored) -> dict[str, Any]:
    """One fold's figures, for the table and JSON."""
    return {
        "fold": n,
        "held_out": held_out,
        "train_articles": n_train,
        **{name: _figure(scored.summary, name, s, lab) for name, s, lab in FIGURES},
    }


def mean_std(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation (0 for a single fold) of every figure."""
    out = {}
    for name, _, _ in FIGURES:
        values = [row[name] for row in rows]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        out[name] = {"mean": statistics.fmean(values), "std": std}
    return out


def train_fold(
    n: int, config: Path, gold: Path, splits: Path, work: Path, overrides: dict[str, Any]
) -> Path:
    """Write fold n's data and train on it; the model-last directory."""
    from conflict_ner import training

    paths = training.make_docbins(gold, splits, work, fold=n)
    output = Path(work) / "folds" / str(n) / "model"
    training.train(config, output, paths["train"], paths["dev"], overrides=overrides)
    return output / "model-last"


def crossval(
    config: Path,
    gold: Path,
    splits: Path,
    work: Path,
    max_steps: int | None = None,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Train and score every fold; per-fold rows, mean and std, and pooled held-out scores."""
    folds = article_folds(load_splits(splits))
    overrides: dict[str, Any] = {"training.patience": 0}
    if max_steps is not None:
        overrides["training.max_steps"] = max_steps
    rows, all_docs = [], []
    for n, (train_ids, held_out) in enumerate(folds):
        model = train_fold(n, config, gold, splits, work, overrides)
        held = load_gold(Path(work) / "folds" / str(n) / "dev.spacy")
        scored = score_system(System(f"fold {n}", load_pipeline(model)), held, resamples, seed)
        rows.append(fold_row(n, held_out, len(train_ids), scored))
        all_docs += scored.docs
    pooled = summarise(total(all_docs), labels=list(LABELS))
    intervals = bootstrap_all(all_docs, resamples, seed=seed)
    return {
        "config": str(config), "gold": str(gold), "splits": str(splits),
        "max_steps": max_steps, "folds": rows, "summary": mean_std(rows),
        "pooled": {"overall": pooled,
                   "bootstrap": {s: i.to_dict() for s, i in intervals.items()}},
        "note": "held-out articles are each fold's dev set; early stopping is off and "
                "model-last is scored, so they never steer training",
    }


def folds_table(result: dict[str, Any]) -> Table:
    """Per-fold figures, then mean ± std."""
    table = Table(["fold", "held out", *(name for name, _, _ in FIGURES)])
    for row in result["folds"]:
        table.rows.append([str(row["fold"]), ", ".join(row["held_out"]),
                           *(pct(row[name]) for name, _, _ in FIGURES)])
    summary = result["summary"]
    table.rows.append(["mean ± std", "",
                       *(f"{pct(summary[n]['mean'])} ± {pct(summary[n]['std'])}"
                         for n, _, _ in FIGURES)])
    return table


def render_markdown(result: dict[str, Any]) -> str:
    """crossval.md: the folds table, pooled scores and how the folds were made."""
    pooled = result["pooled"]
    ci = pooled["bootstrap"]["strict"]
    lines = [
        f"# Cross-validation of {result['config']}", "",
        f"Leave-one-group-out over `{result['splits']}` groups ({len(result['folds'])} folds); "
        f"max_steps {result['max_steps'] or 'from the config'}. {result['note']}.", "",
        md_block(folds_table(result)), "",
        f"Pooled over all held-out articles: strict micro F1 "
        f"{pct(pooled['overall']['strict']['micro']['f1'])} "
        f"(95% CI {pct(ci['low'])}–{pct(ci['high'])}, bootstrap over articles).", "",
    ]
    return "\n".join(lines)


def write_crossval(out: Path, result: dict[str, Any]) -> dict[str, Path]:
    """crossval.json and crossval.md under OUT, atomically."""
    files = {"json": Path(out) / "crossval.json", "markdown": Path(out) / "crossval.md"}
    write_text_atomic(files["markdown"], render_markdown(result))
    write_text_atomic(files["json"], json.dumps(result, indent=2) + "\n")
    return files
