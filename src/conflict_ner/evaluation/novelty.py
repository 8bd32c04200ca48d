"""Seen and unseen names: which gold mentions a model could have known, and how it did on each.

A mention (gold or predicted) falls into the first group that holds it:

- **in the rules**: the model's own rule components, run alone on the article,
  mark exactly this span with this label;
- **in training**: its surface and label occur as a gold span of the training data;
- **unseen**: neither, so only what the network learned from context can find it.

Per group and label: gold mentions, predictions, gold mentions predicted
exactly (strict), and strict P/R/F1. Precision (and so F1) is None where the
group holds no prediction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from spacy.tokens import Doc

from conflict_ner.evaluation.crosscheck import ents_of
from conflict_ner.evaluation.scoring import Ent

IN_RULES, IN_TRAINING, UNSEEN = "in the rules", "in training", "unseen"
GROUPS: tuple[str, ...] = (IN_RULES, IN_TRAINING, UNSEEN)
ALL = "all"  # the label of a group's row over every label

Surface = tuple[str, str]  # (text, label)


@dataclass(frozen=True)
class Known:
    """What a model could know: per article, the spans its rules mark; the training surfaces."""

    ruled: list[frozenset[Ent]]
    train: frozenset[Surface]


@dataclass(frozen=True)
class NoveltyRow:
    """Strict figures of one group of mentions (one label, or ``all``)."""

    group: str
    label: str
    gold: int
    predicted: int
    found: int  # gold mentions predicted with the same tokens and label
    p: float | None
    r: float | None
    f1: float | None

    @classmethod
    def of(cls, group: str, label: str, gold: int, predicted: int, found: int) -> NoveltyRow:
        """A row from its counts; a ratio with no denominator is None."""
        p = found / predicted if predicted else None
        r = found / gold if gold else None
        f1 = None if p is None or r is None else (2 * p * r / (p + r) if p + r else 0.0)
        return cls(group, label, gold, predicted, found, p, r, f1)


def train_surfaces(docs: Iterable[Doc]) -> frozenset[Surface]:
    """Every (surface, label) of the gold spans of training Docs."""
    return frozenset((e.text, e.label_) for doc in docs for e in doc.ents)


def group_of(doc: Doc, ent: Ent, ruled: frozenset[Ent], train: frozenset[Surface]) -> str:
    """The group of one mention of a Doc."""
    if ent in ruled:
        return IN_RULES
    if (doc[ent.start : ent.end].text, ent.label) in train:
        return IN_TRAINING
    return UNSEEN


def novelty_rows(
    pairs: Sequence[tuple[Doc, Doc]], known: Known, labels: Sequence[str]
) -> list[NoveltyRow]:
    """Per group, one row over all labels then one per label, for (gold, predicted) Docs."""
    gold: Counter[tuple[str, str]] = Counter()
    predicted: Counter[tuple[str, str]] = Counter()
    found: Counter[tuple[str, str]] = Counter()
    for (g, p), ruled in zip(pairs, known.ruled, strict=True):
        gold_ents, pred_ents = set(ents_of(g)), set(ents_of(p))
        for ent in gold_ents:
            key = (group_of(g, ent, ruled, known.train), ent.label)
            gold[key] += 1
            found[key] += ent in pred_ents
        for ent in pred_ents:
            predicted[group_of(g, ent, ruled, known.train), ent.label] += 1
    rows = []
    for group in GROUPS:
        rows.append(NoveltyRow.of(group, ALL, *(_group_total(c, group)
                                                for c in (gold, predicted, found))))
        rows += [NoveltyRow.of(group, label, gold[group, label], predicted[group, label],
                               found[group, label]) for label in labels]
    return rows


def _group_total(counter: Counter[tuple[str, str]], group: str) -> int:
    """A group's count over every label."""
    return sum(n for (name, _), n in counter.items() if name == group)


def unseen(rows: Sequence[NoveltyRow]) -> NoveltyRow:
    """The unseen group's row over all labels."""
    return next(r for r in rows if r.group == UNSEEN and r.label == ALL)
