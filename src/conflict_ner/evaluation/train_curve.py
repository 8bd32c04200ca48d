"""The train-curve: will more annotated articles help?

Trains a config on growing, nested shares of the training articles (whole
articles, in one seeded order, so each share holds the one before it) and
scores every model on the same held-out articles. Unseen names are those
outside the rules and the *full* training split, so the unseen group is the
same mentions at every step. As in cross-validation, the held-out articles
never steer training: early stopping is off and model-last is scored.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.tokens import Doc

from conflict_ner.convert import doc_article_id, write_docbin
from conflict_ner.evaluation.harness import Scored, known_to, score_system
from conflict_ner.evaluation.novelty import Known, NoveltyRow
from conflict_ner.evaluation.plots import pyplot, save_png
from conflict_ner.evaluation.results import JsonRecord
from conflict_ner.evaluation.scoring import Score
from conflict_ner.evaluation.systems import (
    MODEL,
    RULES_ALONE,
    System,
    ablations,
    load_gold,
    load_pipeline,
)
from conflict_ner.evaluation.tables import Table, interval, pct, to_markdown
from conflict_ner.evaluation.uncertainty import Interval
from conflict_ner.files import write_text_atomic

FRACTIONS = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class CurveStep:
    """One share of the training articles and the held-out scores of its model."""

    fraction: float
    articles: int
    words: int
    strict: Score
    interval: Interval
    unseen: NoveltyRow


@dataclass
class TrainCurve(JsonRecord):
    """train_curve.json: every step, and whether the last one still helped."""

    config: str
    held_out: str
    max_steps: int | None
    seed: int
    steps: list[CurveStep]
    improved: bool | None  # None with a single step
    verdict: str


def check_fractions(fractions: Sequence[float]) -> list[float]:
    """The fractions in increasing order; ValueError unless each is in (0, 1]."""
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad or not fractions:
        raise ValueError(f"fractions must lie in (0, 1], got {list(fractions) or 'none'}")
    return sorted(set(fractions))


def nested_shares(
    docs: Sequence[Doc], fractions: Sequence[float], seed: int = 0
) -> list[list[Doc]]:
    """Whole articles, in one seeded order; share f holds the first ceil(f * n) of them."""
    order = sorted(docs, key=doc_article_id)
    random.Random(seed).shuffle(order)
    return [order[: max(1, math.ceil(f * len(order)))] for f in fractions]


def words(docs: Sequence[Doc]) -> int:
    """Tokens that are neither punctuation nor white space."""
    return sum(1 for doc in docs for t in doc if not (t.is_punct or t.is_space))


def verdict(steps: Sequence[CurveStep]) -> tuple[bool | None, str]:
    """Whether the last step raised F1 above the previous step's bootstrap interval, in words."""
    if len(steps) < 2:
        return None, "one step only: no curve to read"
    prev, last = steps[-2], steps[-1]
    change = (f"going from {prev.words} to {last.words} training words moved strict F1 from "
              f"{prev.strict.f1:.3f} to {last.strict.f1:.3f}")
    bounds = f"the previous step's interval ({prev.interval.low:.3f}–{prev.interval.high:.3f})"
    if last.strict.f1 > prev.interval.high:
        return True, f"still improving: {change}, above {bounds}; more articles should help"
    return False, (f"flat within the noise: {change}, inside or below {bounds}; more articles "
                   "like these are unlikely to help much")


def step(fraction: float, train: Sequence[Doc], scored: Scored, known: Known) -> CurveStep:
    """One step's row."""
    result = scored.result(known)
    return CurveStep(fraction, len(train), words(train), result.strict,
                     result.bootstrap["strict"], result.unseen)


def train_curve(
    config: Path,
    data: dict[str, Path],
    work: Path,
    fractions: Sequence[float] = FRACTIONS,
    held_out: str = "dev",
    max_steps: int | None = None,
    resamples: int = 1000,
    seed: int = 0,
    announce: Callable[[str], None] = lambda _: None,
) -> TrainCurve:
    """Train on each share of DATA["train"], score on DATA[held_out] (paths of DocBins);
    ``announce`` hears which step starts."""
    from conflict_ner import training

    fractions = check_fractions(fractions)
    train_docs, held = load_gold(data["train"]), load_gold(data[held_out])
    if not train_docs or not held:
        raise ValueError(f"no articles to train on or to score: {data['train']}, {data[held_out]}")
    overrides: dict[str, Any] = {"training.patience": 0}
    if max_steps is not None:
        overrides["training.max_steps"] = max_steps
    steps: list[CurveStep] = []
    known: Known | None = None
    for fraction, share in zip(fractions, nested_shares(train_docs, fractions, seed), strict=True):
        announce(f"share {fraction:g}: {len(share)} of {len(train_docs)} training articles")
        folder = Path(work) / f"share-{fraction:g}"
        train_path = write_docbin(folder / "train.spacy", share)
        training.train(config, folder / "model", train_path, data["dev"], overrides=overrides)
        model = System(f"{fraction:g}", load_pipeline(folder / "model" / "model-last"), role=MODEL)
        scored = score_system(model, held, resamples, seed)
        if known is None:  # the rules are the config's: the same at every step
            rules = [s for s in ablations(model) if isinstance(s, System) and s.role == RULES_ALONE]
            ruled = score_system(rules[0], held, resamples, seed) if rules else None
            known = known_to(ruled, held, train_docs)
        steps.append(step(fraction, share, scored, known))
    improved, words_verdict = verdict(steps)
    return TrainCurve(str(config), held_out, max_steps, seed, steps, improved, words_verdict)


def curve_table(curve: TrainCurve) -> Table:
    """One row per step: share, articles, words, strict P/R/F1 with interval, unseen recall."""
    table = Table(["share", "articles", "words", "strict P", "strict R", "strict F1", "95% CI",
                   "unseen R"], title=f"train-curve, scored on {curve.held_out}")
    for s in curve.steps:
        table.rows.append([f"{s.fraction:g}", str(s.articles), str(s.words), pct(s.strict.p),
                           pct(s.strict.r), pct(s.strict.f1),
                           interval(s.interval.low, s.interval.high), pct(s.unseen.r)])
    return table


def plot_curve(curve: TrainCurve, path: Path) -> Path:
    """Strict F1 (with its interval) and unseen recall against training words, as a PNG."""
    fig, ax = pyplot().subplots(figsize=(5.6, 3.8), dpi=120)
    x = [s.words for s in curve.steps]
    f1 = [s.strict.f1 for s in curve.steps]
    ax.errorbar(x, f1, yerr=[[v - s.interval.low for v, s in zip(f1, curve.steps, strict=True)],
                             [s.interval.high - v for v, s in zip(f1, curve.steps, strict=True)]],
                marker="o", capsize=3, label="strict F1 (95% CI)")
    unseen = [(s.words, s.unseen.r) for s in curve.steps if s.unseen.r is not None]
    if unseen:
        ax.plot(*zip(*unseen, strict=True), marker="s", linestyle="--", label="unseen recall")
    ax.set_xlabel("training words")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{Path(curve.config).name}, scored on {curve.held_out}", fontsize=10)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def write_train_curve(out: Path, curve: TrainCurve) -> dict[str, Path]:
    """train_curve.json, train_curve.md and train_curve.png under OUT."""
    out = Path(out)
    files = {"json": out / "train_curve.json", "markdown": out / "train_curve.md",
             "png": out / "train_curve.png"}
    plot_curve(curve, files["png"])
    markdown = [f"# Train-curve of {curve.config}", "",
                f"Nested seeded shares (seed {curve.seed}) of the training articles; each model "
                f"scored on the same {curve.held_out} articles; max_steps "
                f"{curve.max_steps or 'from the config'}.", "", to_markdown(curve_table(curve)),
                "", f"Verdict: {curve.verdict}.", "", "![train-curve](train_curve.png)", ""]
    write_text_atomic(files["markdown"], "\n".join(markdown))
    write_text_atomic(files["json"], json.dumps(curve.to_json(), indent=2) + "\n")
    return files
