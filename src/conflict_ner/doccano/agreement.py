"""Inter-annotator agreement, a pure function of the votes (no I/O): pairwise
span F1 (exact start, end and label) and Cohen's kappa over tokens."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import Any

from sklearn.metrics import cohen_kappa_score

from conflict_ner.convert import SpanTuple
from conflict_ner.doccano.votes import ExampleVotes
from conflict_ner.tasks import make_tokens


def token_labels(text: str, spans: Iterable[SpanTuple]) -> list[str]:
    """One label per token (O outside spans), on the blank English tokenizer's tokens."""
    tokens = make_tokens(text)
    labels = ["O"] * len(tokens)
    for start, end, label in spans:
        for i, tok in enumerate(tokens):
            if tok["start"] >= start and tok["end"] <= end:
                labels[i] = label
    return labels


def agreement(votes: list[ExampleVotes]) -> dict[str, Any]:
    """Pairwise span F1 (exact start, end, label) and Cohen's kappa over tokens."""
    users = sorted({u for ex in votes for u in ex.spans})
    pairs = []
    for a, b in combinations(users, 2):
        shared = [ex for ex in votes if a in ex.spans and b in ex.spans]
        if not shared:
            continue
        tp = sum(len(set(ex.spans[a]) & set(ex.spans[b])) for ex in shared)
        na = sum(len(set(ex.spans[a])) for ex in shared)
        nb = sum(len(set(ex.spans[b])) for ex in shared)
        ya = [lab for ex in shared for lab in token_labels(ex.text, ex.spans[a])]
        yb = [lab for ex in shared for lab in token_labels(ex.text, ex.spans[b])]
        f1 = 2 * tp / (na + nb) if na + nb else 1.0
        pairs.append(
            {
                "a": a,
                "b": b,
                "examples": len(shared),
                "spans_a": na,
                "spans_b": nb,
                "matching_spans": tp,
                "span_f1": round(f1, 4),
                "tokens": len(ya),
                "token_kappa": _kappa(ya, yb),
            }
        )
    return {
        "annotators": users,
        "span_match": "exact start, end and label",
        "kappa_unit": "token; label per token (O, FACTION, PLACE); spaCy blank English tokens",
        "pairs": pairs,
    }


def _kappa(ya: list[str], yb: list[str]) -> float | None:
    """Cohen's kappa; 1.0 for identical labelings (sklearn's is undefined with one class)."""
    if ya == yb:
        return 1.0
    value = float(cohen_kappa_score(ya, yb))
    return None if value != value else round(value, 4)  # NaN -> None


