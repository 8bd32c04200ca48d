"""The harness: score a model and its baselines on gold articles, and gate regressions."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.tokens import Doc

from conflict_ner.articles import meta_of
from conflict_ner.convert import doc_article_id
from conflict_ner.evaluation.crosscheck import cross_check, ents_of
from conflict_ner.evaluation.errors import KINDS, ErrorRow, error_rows, token_confusion
from conflict_ner.evaluation.models import System, Systems, predict
from conflict_ner.evaluation.scoring import SCHEMES, DocCounts, count_doc, summarise, total
from conflict_ner.evaluation.uncertainty import Interval, bootstrap_all
from conflict_ner.files import safe_file_name
from conflict_ner.scheme import LABELS


@dataclass
class Scored:
    """One system's predictions and scores on the gold articles."""

    system: System
    ids: list[str]
    pairs: list[tuple[Doc, Doc]]  # (gold, predicted), gold tokenization
    docs: list[DocCounts]
    summary: dict[str, Any]
    intervals: dict[str, Interval]


def score_labels(pairs: Sequence[tuple[Doc, Doc]]) -> list[str]:
    """The scheme's labels, then any other label gold or predictions use (so none hides)."""
    seen = {e.label_ for g, p in pairs for e in (*g.ents, *p.ents)}
    return [*LABELS, *sorted(seen - set(LABELS))]


def score_system(
    system: System, gold: Sequence[Doc], resamples: int = 1000, seed: int = 0
) -> Scored:
    """Predict with a system on every gold article and score it (all schemes, bootstrap)."""
    ids = [doc_article_id(doc) for doc in gold]
    pairs = list(zip(gold, predict(system, gold), strict=True))
    docs = [count_doc(i, ents_of(g), ents_of(p)) for i, (g, p) in zip(ids, pairs, strict=True)]
    summary = summarise(total(docs), labels=score_labels(pairs))
    return Scored(system, ids, pairs, docs, summary, bootstrap_all(docs, resamples, seed=seed))


def _micro_row(doc: DocCounts) -> dict[str, Any]:
    """Micro scores of one article under every scheme."""
    summary = summarise(doc, labels=[])
    return {scheme: summary[scheme]["micro"] for scheme in SCHEMES}


def article_rows(scored: Scored) -> list[dict[str, Any]]:
    """Per-article micro scores, with the title when the gold Doc carries meta."""
    rows = []
    for doc_id, (gold, _), counts in zip(scored.ids, scored.pairs, scored.docs, strict=True):
        meta = meta_of(gold.user_data)
        rows.append({
            "article": doc_id,
            "title": meta.get("title") or gold.text.split("\n", 1)[0][:80],
            "page": f"articles/{safe_file_name(doc_id)}.html",
            **_micro_row(counts),
        })
    return rows


def baseline_entry(scored: Scored) -> dict[str, Any]:
    """A baseline's figures for the report: micro and per label per scheme, and its interval."""
    return {
        "name": scored.system.name,
        "note": scored.system.note,
        "overall": scored.summary,
        "bootstrap": {s: i.to_dict() for s, i in scored.intervals.items()},
    }


def all_errors(scored: Scored) -> list[ErrorRow]:
    """Every strict error of a system, article by article."""
    return [
        row
        for doc_id, (gold, pred) in zip(scored.ids, scored.pairs, strict=True)
        for row in error_rows(doc_id, gold, pred)
    ]


def build_metrics(
    model: Scored,
    baselines: Sequence[Scored],
    systems: Systems,
    sources: dict[str, str],
) -> dict[str, Any]:
    """The metrics.json content: everything the report shows, for machines."""
    errors = all_errors(model)
    names, matrix = token_confusion(model.pairs, LABELS)
    return {
        **sources,
        "articles": len(model.ids),
        "labels": list(LABELS),
        "overall": model.summary,
        "bootstrap": {s: i.to_dict() for s, i in model.intervals.items()},
        "crosscheck": cross_check(model.pairs),
        "per_article": article_rows(model),
        "baselines": [baseline_entry(b) for b in baselines],
        "skipped_baselines": [{"name": s.name, "reason": s.reason} for s in systems.skipped],
        "errors": {
            "counts": {kind: Counter(r.kind for r in errors)[kind] for kind in KINDS},
            "rows": [r.to_dict() for r in errors],
        },
        "confusion": {"labels": names, "matrix": matrix.tolist(), "png": "confusion.png"},
    }


def run(
    systems: Systems,
    gold: Sequence[Doc],
    sources: dict[str, str],
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[dict[str, Any], Scored, list[Scored]]:
    """Score the model and every baseline; returns (metrics, model scores, baseline scores)."""
    model = score_system(systems.model, gold, resamples, seed)
    baselines = [score_system(b, gold, resamples, seed) for b in systems.baselines]
    return build_metrics(model, baselines, systems, sources), model, baselines


# -- regression gate ----------------------------------------------------------


def load_metrics(path: Path) -> dict[str, Any]:
    """A metrics.json written by an earlier evaluation."""
    return json.loads(Path(path).read_text(encoding="utf8"))


def gate(
    metrics: dict[str, Any], min_f1: float | None = None, baseline: dict[str, Any] | None = None
) -> list[str]:
    """Why the model fails the regression gate (an empty list when it passes).

    Against ``min_f1`` the strict micro F1 itself must reach it; against a
    baseline report the model may fall short of the baseline's strict micro F1
    by at most this run's bootstrap half-width (differences inside the noise
    margin are not called regressions).
    """
    f1 = metrics["overall"]["strict"]["micro"]["f1"]
    failures = []
    if min_f1 is not None and f1 < min_f1:
        failures.append(f"strict micro F1 {f1:.4f} is below --min-f1 {min_f1:.4f}")
    if baseline is not None:
        base = baseline["overall"]["strict"]["micro"]["f1"]
        margin = metrics["bootstrap"]["strict"]["half_width"]
        if f1 < base - margin:
            failures.append(
                f"strict micro F1 {f1:.4f} is below the baseline's {base:.4f} by "
                f"{base - f1:.4f}, more than the bootstrap half-width {margin:.4f}"
            )
    return failures


# -- one call for the CLI -----------------------------------------------------


def build_systems(
    model: str | Path,
    train: Path | None = None,
    baseline_models: Sequence[str] = (),
    label_map: dict[str, str] | None = None,
    patterns: bool = True,
) -> Systems:
    """The model and the baselines asked for; those that cannot run are listed as skipped."""
    from conflict_ner.evaluation.models import (
        load_pipeline,
        memorisation_system,
        named_system,
        pattern_system,
    )

    systems = Systems(System(str(model), load_pipeline(model)))
    candidates = [pattern_system()] if patterns else []
    if train is not None:
        candidates.append(memorisation_system(train))
    candidates += [named_system(name, label_map or {}) for name in baseline_models]
    for candidate in candidates:
        if isinstance(candidate, System):
            systems.baselines.append(candidate)
        else:
            systems.skipped.append(candidate)
    return systems


def evaluate(
    model: str | Path,
    data: Path,
    out: Path,
    train: Path | None = None,
    baseline_models: Sequence[str] = (),
    label_map: dict[str, str] | None = None,
    patterns: bool = True,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Score a model and its baselines on DATA and write the full report under OUT."""
    from conflict_ner.evaluation.models import load_gold
    from conflict_ner.evaluation.report import write_report

    gold = load_gold(data)
    if not gold:
        raise ValueError(f"{data} holds no gold articles")
    systems = build_systems(model, train, baseline_models, label_map, patterns)
    metrics, scored, _ = run(systems, gold, {"model": str(model), "data": str(data)},
                             resamples, seed)
    write_report(out, metrics, scored.pairs)
    return metrics
