"""Inter-annotator agreement, a pure function of the votes (no I/O): pairwise
span F1 (exact start, end and label) and Cohen's kappa over tokens."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
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


@dataclass(frozen=True)
class PairAgreement:
    """How two annotators agree on the examples both annotated."""

    a: str
    b: str
    examples: int
    spans_a: int
    spans_b: int
    matching_spans: int
    span_f1: float
    tokens: int
    token_kappa: float | None


@dataclass
class Agreement:
    """Pairwise agreement of every two annotators (as saved in agreement.json)."""

    annotators: list[str]
    pairs: list[PairAgreement] = field(default_factory=list)

    SPAN_MATCH = "exact start, end and label"
    KAPPA_UNIT = "token; label per token (O, FACTION, PLACE); spaCy blank English tokens"

    def to_json(self) -> dict[str, Any]:
        """The JSON form, with what the figures count."""
        return {
            "annotators": self.annotators,
            "span_match": self.SPAN_MATCH,
            "kappa_unit": self.KAPPA_UNIT,
            "pairs": [asdict(p) for p in self.pairs],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Agreement:
        """Read back what ``to_json`` wrote (other keys are ignored)."""
        return cls(list(data["annotators"]), [PairAgreement(**p) for p in data["pairs"]])


def agreement(votes: list[ExampleVotes]) -> Agreement:
    """Pairwise span F1 (exact start, end, label) and Cohen's kappa over tokens."""
    users = sorted({u for ex in votes for u in ex.spans})
    result = Agreement(users)
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
        result.pairs.append(
            PairAgreement(a, b, len(shared), na, nb, tp, round(f1, 4), len(ya), _kappa(ya, yb))
        )
    return result


def _kappa(ya: list[str], yb: list[str]) -> float | None:
    """Cohen's kappa; 1.0 for identical labelings (sklearn's is undefined with one class)."""
    if ya == yb:
        return 1.0
    value = float(cohen_kappa_score(ya, yb))
    return None if value != value else round(value, 4)  # NaN -> None


