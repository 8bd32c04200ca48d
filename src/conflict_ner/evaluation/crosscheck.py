"""Cross-checks: our strict scores against spaCy's Scorer and nervaluate on the same spans."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from nervaluate import Evaluator
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example

from conflict_ner.evaluation.scoring import PRF, Ent, SchemeScores, count_doc, summarise, total

TOLERANCE = 1e-9


@dataclass
class CrossCheck:
    """Our strict micro scores beside spaCy's and nervaluate's, and every difference found.

    ``details`` keeps the other scorers' own figures (micro and per label, every
    scheme for nervaluate) for metrics.json.
    """

    agree: bool
    differences: list[str]
    ours: PRF
    spacy: PRF
    nervaluate: PRF | None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def ents_of(doc: Doc) -> list[Ent]:
    """A Doc's entities as token-offset spans."""
    return [Ent(e.start, e.end, e.label_) for e in doc.ents]


def spacy_strict(pairs: Sequence[tuple[Doc, Doc]]) -> dict[str, Any]:
    """spaCy's own span scores (Scorer.score_spans on ``ents``) for (gold, pred) Docs."""
    for gold, pred in pairs:
        # Gold and predictions may come from different vocabs (a DocBin, a model);
        # spaCy aligns predicted spans onto the gold Doc, which must know the labels.
        for ent in pred.ents:
            gold.vocab.strings.add(ent.label_)
    examples = [Example(pred, gold) for gold, pred in pairs]
    scores = Scorer.score_spans(examples, "ents")
    per_type = scores.get("ents_per_type") or {}
    return {
        "micro": {"p": scores["ents_p"] or 0.0, "r": scores["ents_r"] or 0.0,
                  "f1": scores["ents_f"] or 0.0},
        "per_label": {k: {"p": v["p"], "r": v["r"], "f1": v["f"]} for k, v in per_type.items()},
    }


def _nervaluate_docs(docs: Sequence[Sequence[Ent]]) -> list[list[dict[str, Any]]]:
    # nervaluate's ends are inclusive; its list order is its matching order.
    return [
        [{"label": e.label, "start": e.start, "end": e.end - 1} for e in sorted(doc)]
        for doc in docs
    ]


def nervaluate_scores(gold: Sequence[Sequence[Ent]], pred: Sequence[Sequence[Ent]]) -> dict:
    """nervaluate's results per scheme (our names: ``ent_type`` is ``type``)."""
    tags = sorted({e.label for doc in (*gold, *pred) for e in doc})
    if not tags:
        return {}
    evaluator = Evaluator(_nervaluate_docs(gold), _nervaluate_docs(pred), tags=tags, loader="dict")
    results = evaluator.evaluate()
    renamed = {"ent_type": "type"}
    out: dict[str, Any] = {}
    for scheme, res in results["overall"].items():
        out.setdefault(renamed.get(scheme, scheme), {})["micro"] = _nerv_dict(res)
    for label, by_scheme in results["entities"].items():
        for scheme, res in by_scheme.items():
            out[renamed.get(scheme, scheme)].setdefault("per_label", {})[label] = _nerv_dict(res)
    return out


def _nerv_dict(res: Any) -> dict[str, Any]:
    return {
        "p": res.precision, "r": res.recall, "f1": res.f1,
        "cor": res.correct, "inc": res.incorrect, "par": res.partial,
        "mis": res.missed, "spu": res.spurious,
    }


def _as_dict(scores: SchemeScores) -> dict[str, Any]:
    """One scheme's scores in the {micro, per_label} shape the other scorers use."""
    return {"micro": asdict(scores.micro),
            "per_label": {k: asdict(v) for k, v in scores.per_label.items()}}


def _prf(scores: dict[str, Any]) -> PRF:
    return PRF(scores["p"], scores["r"], scores["f1"])


def _differences(ours: dict, theirs: dict, name: str, keys: Sequence[str]) -> list[str]:
    """Human-readable mismatches between two {micro, per_label} score dicts."""
    diffs: list[str] = []
    rows = [("micro", ours["micro"], theirs.get("micro", {}))]
    labels = set(ours["per_label"]) | set(theirs.get("per_label", {}))
    rows += [
        (label, ours["per_label"].get(label, {}), theirs.get("per_label", {}).get(label, {}))
        for label in sorted(labels)
    ]
    for row, mine, other in rows:
        for key in keys:
            a, b = mine.get(key, 0.0), other.get(key, 0.0)
            if not math.isclose(float(a), float(b), abs_tol=TOLERANCE):
                diffs.append(f"{name} {row} {key}: ours {a} vs {b}")
    return diffs


def cross_check(pairs: Sequence[tuple[Doc, Doc]]) -> CrossCheck:
    """Compare our scores with spaCy (strict) and nervaluate (all four schemes).

    ``agree`` is true when strict P/R/F1 (micro and per label) equal spaCy's and
    nervaluate's, and every scheme's counts and scores equal nervaluate's.
    """
    gold = [ents_of(g) for g, _ in pairs]
    pred = [ents_of(p) for _, p in pairs]
    docs = [count_doc(str(i), g, p) for i, (g, p) in enumerate(zip(gold, pred, strict=True))]
    ours = {scheme: _as_dict(s) for scheme, s in summarise(total(docs)).items()}
    spacy_scores = spacy_strict(pairs)
    nerv = nervaluate_scores(gold, pred)
    diffs = _differences(ours["strict"], spacy_scores, "spacy strict", ("p", "r", "f1"))
    for scheme, theirs in nerv.items():
        keys = ("p", "r", "f1", "cor", "inc", "par", "mis", "spu")
        diffs += _differences(ours[scheme], theirs, f"nervaluate {scheme}", keys)
    nerv_strict = nerv.get("strict", {}).get("micro")
    return CrossCheck(
        agree=not diffs, differences=diffs, ours=_prf(ours["strict"]["micro"]),
        spacy=_prf(spacy_scores["micro"]), nervaluate=_prf(nerv_strict) if nerv_strict else None,
        details={"spacy": spacy_scores, "nervaluate": nerv},
    )
