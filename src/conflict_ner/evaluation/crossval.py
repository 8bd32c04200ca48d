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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conflict_ner.articles import article_folds, load_splits
from conflict_ner.evaluation.harness import Scored, score_system
from conflict_ner.evaluation.report import md_block
from conflict_ner.evaluation.results import JsonRecord
from conflict_ner.evaluation.scoring import SCHEMES, SchemeScores, summarise, total
from conflict_ner.evaluation.systems import System, load_gold, load_pipeline
from conflict_ner.evaluation.tables import Table, interval, pct
from conflict_ner.evaluation.uncertainty import Interval, bootstrap_all
from conflict_ner.files import write_text_atomic
from conflict_ner.scheme import LABELS

NOTE = ("held-out articles are each fold's dev set; early stopping is off and model-last is "
        "scored, so they never steer training")


def figures(scores: dict[str, SchemeScores]) -> dict[str, float]:
    """What each fold reports and the summary averages, by name."""
    strict = scores["strict"]
    return {
        **{f"{s} F1": scores[s].micro.f1 for s in SCHEMES},
        "strict P": strict.micro.p,
        "strict R": strict.micro.r,
        **{f"{label} strict F1": strict.per_label[label].f1 for label in LABELS},
    }


FIGURES: tuple[str, ...] = (*(f"{s} F1" for s in SCHEMES), "strict P", "strict R",
                            *(f"{label} strict F1" for label in LABELS))


@dataclass(frozen=True)
class FoldRow:
    """One fold: the articles held out, how many trained on, and its figures."""

    fold: int
    held_out: list[str]
    train_articles: int
    figures: dict[str, float]


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation of one figure over the folds."""

    mean: float
    std: float


@dataclass
class CrossvalResult(JsonRecord):
    """crossval.json: per-fold rows, mean and std, and the pooled held-out scores."""

    config: str
    gold: str
    splits: str
    max_steps: int | None
    folds: list[FoldRow]
    summary: dict[str, Spread]
    pooled: dict[str, SchemeScores]
    pooled_bootstrap: dict[str, Interval]
    note: str = NOTE


def fold_row(n: int, held_out: list[str], n_train: int, scored: Scored) -> FoldRow:
    """One fold's figures."""
    return FoldRow(n, held_out, n_train, figures(scored.summary))


def mean_std(rows: Sequence[FoldRow]) -> dict[str, Spread]:
    """Mean and sample standard deviation (0 for a single fold) of every figure."""
    out = {}
    for name in FIGURES:
        values = [row.figures[name] for row in rows]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        out[name] = Spread(statistics.fmean(values), std)
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
) -> CrossvalResult:
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
    return CrossvalResult(
        str(config), str(gold), str(splits), max_steps, rows, mean_std(rows),
        summarise(total(all_docs), labels=list(LABELS)),
        bootstrap_all(all_docs, resamples, seed=seed),
    )


def folds_table(result: CrossvalResult) -> Table:
    """Per-fold figures (how many articles held out: crossval.json lists them), then mean ± std;
    the terminal shows the scheme F1 columns."""
    shown = [f"{s} F1" for s in SCHEMES]
    table = Table(["fold", "held out", *FIGURES], terminal=["fold", "held out", *shown])
    for row in result.folds:
        table.rows.append([str(row.fold), str(len(row.held_out)),
                           *(pct(row.figures[name]) for name in FIGURES)])
    table.rows.append(["mean ± std", "", *(f"{pct(result.summary[n].mean)} ± "
                                           f"{pct(result.summary[n].std)}" for n in FIGURES)])
    return table


def render_markdown(result: CrossvalResult) -> str:
    """crossval.md: the folds table, pooled scores and how the folds were made."""
    ci = result.pooled_bootstrap["strict"]
    lines = [
        f"# Cross-validation of {result.config}", "",
        f"Leave-one-group-out over `{result.splits}` groups ({len(result.folds)} folds); "
        f"max_steps {result.max_steps or 'from the config'}. {result.note}.", "",
        md_block(folds_table(result)), "",
        f"Pooled over all held-out articles: strict micro F1 "
        f"{pct(result.pooled['strict'].micro.f1)} "
        f"(95% CI {interval(ci.low, ci.high)}, bootstrap over articles).", "",
    ]
    return "\n".join(lines)


def write_crossval(out: Path, result: CrossvalResult) -> dict[str, Path]:
    """crossval.json and crossval.md under OUT, atomically."""
    files = {"json": Path(out) / "crossval.json", "markdown": Path(out) / "crossval.md"}
    write_text_atomic(files["markdown"], render_markdown(result))
    write_text_atomic(files["json"], json.dumps(result.to_json(), indent=2) + "\n")
    return files
