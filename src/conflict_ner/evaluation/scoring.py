"""Entity scoring under the four SemEval-2013 task 9.1 schemes, written out by hand.

Each document is a pair of span sets (gold, predicted) in token offsets. A
prediction is aligned to at most one gold span and a gold span to at most one
prediction; each aligned pair, unaligned prediction and unaligned gold span then
falls into one of the SemEval/nervaluate categories:

=========================  =======  =======  =======  =======
case                       strict   exact    partial  type
=========================  =======  =======  =======  =======
same boundaries and label  COR      COR      COR      COR
same boundaries, label     INC      COR      COR      INC
overlap, same label        INC      INC      PAR      COR
overlap, other label       INC      INC      PAR      INC
prediction overlaps none   SPU      SPU      SPU      SPU
gold overlapped by none    MIS      MIS      MIS      MIS
=========================  =======  =======  =======  =======

POS = COR + INC + PAR + MIS (gold spans), ACT = COR + INC + PAR + SPU (predictions);
precision = (COR + w*PAR) / ACT and recall = (COR + w*PAR) / POS, with w = 0.5
for partial and 0 otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

SCHEMES: tuple[str, ...] = ("strict", "exact", "partial", "type")
CATEGORIES: tuple[str, ...] = ("cor", "inc", "par", "mis", "spu")


@dataclass(frozen=True, order=True)
class Ent:
    """One entity span in token offsets (end exclusive), as spaCy's ``Span``."""

    start: int
    end: int
    label: str

    def overlaps(self, other: Ent) -> bool:
        """True when the two spans share at least one token."""
        return self.start < other.end and other.start < self.end

    def same_bounds(self, other: Ent) -> bool:
        """True when both spans cover exactly the same tokens."""
        return self.start == other.start and self.end == other.end


@dataclass
class Counts:
    """SemEval counts for one scheme, summed over any number of documents."""

    cor: int = 0
    inc: int = 0
    par: int = 0
    mis: int = 0
    spu: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        """(COR, INC, PAR, MIS, SPU), the order of ``CATEGORIES``."""
        return (self.cor, self.inc, self.par, self.mis, self.spu)

    @property
    def possible(self) -> int:
        """POS: how many gold spans there are."""
        return self.cor + self.inc + self.par + self.mis

    @property
    def actual(self) -> int:
        """ACT: how many predicted spans there are."""
        return self.cor + self.inc + self.par + self.spu


@dataclass(frozen=True)
class PRF:
    """Precision, recall and F1."""

    p: float
    r: float
    f1: float

    def to_dict(self) -> dict[str, float]:
        return {"p": self.p, "r": self.r, "f1": self.f1}


@dataclass(frozen=True)
class Score:
    """P/R/F1 of summed counts under one scheme, with the counts, POS and ACT."""

    p: float
    r: float
    f1: float
    cor: int
    inc: int
    par: int
    mis: int
    spu: int
    possible: int
    actual: int

    @classmethod
    def of(cls, counts: Counts, scheme: str) -> Score:
        """The score of summed counts under a scheme."""
        prf = prf_from_tuple(*counts.as_tuple(), scheme=scheme)
        return cls(prf.p, prf.r, prf.f1, *counts.as_tuple(), counts.possible, counts.actual)


@dataclass(frozen=True)
class SchemeScores:
    """One scheme's micro score (with counts), macro P/R/F1 and per-label scores."""

    micro: Score
    macro: PRF
    per_label: dict[str, Score]


def prf_from_tuple(
    cor: float, inc: float, par: float, mis: float, spu: float, scheme: str
) -> PRF:
    """P/R/F1 from raw counts; 0 where a denominator is 0 (as spaCy and nervaluate)."""
    weight = 0.5 if scheme == "partial" else 0.0
    hits = cor + weight * par
    actual = cor + inc + par + spu
    possible = cor + inc + par + mis
    p = hits / actual if actual else 0.0
    r = hits / possible if possible else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return PRF(p, r, f1)


def prf(counts: Counts, scheme: str) -> PRF:
    """P/R/F1 of summed counts under a scheme."""
    return prf_from_tuple(*counts.as_tuple(), scheme=scheme)


def align(
    gold: Sequence[Ent], pred: Sequence[Ent], prefer_label: bool = False
) -> list[tuple[Ent | None, Ent | None]]:
    """Pair predictions with gold spans: (gold, pred), (gold, None) missed, (None, pred) spurious.

    Predictions are taken left to right; each takes the still-free gold span
    with the same boundaries, else (for the type scheme, ``prefer_label``) the
    closest overlapping gold span with its label, else the leftmost overlapping
    one. This is the greedy order nervaluate uses, so the counts (not just the
    scores) can be compared with it.
    """
    golds = sorted(gold)
    free = set(range(len(golds)))
    pairs: list[tuple[Ent | None, Ent | None]] = []
    for p in sorted(pred):
        choice = _choose(golds, free, p, prefer_label)
        if choice is None:
            pairs.append((None, p))
        else:
            free.discard(choice)
            pairs.append((golds[choice], p))
    pairs.extend((golds[i], None) for i in sorted(free))
    return pairs


def _choose(golds: list[Ent], free: set[int], p: Ent, prefer_label: bool) -> int | None:
    """Index of the gold span a prediction is paired with, or None."""
    candidates = [i for i in sorted(free) if golds[i].overlaps(p)]
    exact = [i for i in candidates if golds[i].same_bounds(p)]
    same_label = [i for i in exact if golds[i].label == p.label] or exact
    if same_label:
        return same_label[0]
    if prefer_label:
        labelled = [i for i in candidates if golds[i].label == p.label]
        if labelled:
            # Closest boundaries win; ties go to the leftmost (min is stable).
            return min(labelled, key=lambda i: _distance(golds[i], p))
    return candidates[0] if candidates else None


def _distance(a: Ent, b: Ent) -> int:
    return abs(a.start - b.start) + abs(a.end - b.end)


def category(gold: Ent | None, pred: Ent | None, scheme: str) -> str:
    """The SemEval category of one aligned pair under a scheme."""
    if gold is None:
        return "spu"
    if pred is None:
        return "mis"
    bounds = gold.same_bounds(pred)
    label = gold.label == pred.label
    if scheme == "strict":
        return "cor" if bounds and label else "inc"
    if scheme == "exact":
        return "cor" if bounds else "inc"
    if scheme == "partial":
        return "cor" if bounds else "par"
    if scheme == "type":
        return "cor" if label else "inc"
    raise ValueError(f"unknown scheme {scheme!r}; expected one of {SCHEMES}")


def count(gold: Sequence[Ent], pred: Sequence[Ent], scheme: str) -> Counts:
    """SemEval counts of one document under one scheme."""
    result = Counts()
    for g, p in align(gold, pred, prefer_label=scheme == "type"):
        cat = category(g, p, scheme)
        setattr(result, cat, getattr(result, cat) + 1)
    return result


@dataclass
class DocCounts:
    """Counts of one document: scheme -> (None for all labels | label) -> Counts."""

    doc_id: str
    counts: dict[str, dict[str | None, Counts]]

    def __add__(self, other: DocCounts) -> DocCounts:
        merged: dict[str, dict[str | None, Counts]] = {}
        for scheme in SCHEMES:
            keys = set(self.counts[scheme]) | set(other.counts[scheme])
            merged[scheme] = {
                k: self.counts[scheme].get(k, Counts()) + other.counts[scheme].get(k, Counts())
                for k in keys
            }
        return DocCounts("all", merged)


def count_doc(doc_id: str, gold: Sequence[Ent], pred: Sequence[Ent]) -> DocCounts:
    """Counts of one document, overall and per label (labels of gold or pred), every scheme.

    Per label, gold and predictions are both restricted to that label first
    (the nervaluate definition), so a wrong-label prediction is spurious for its
    own label and the gold span it hit is missed for the gold label.
    """
    labels = {e.label for e in (*gold, *pred)}
    table: dict[str, dict[str | None, Counts]] = {}
    for scheme in SCHEMES:
        table[scheme] = {None: count(gold, pred, scheme)}
        for label in labels:
            g = [e for e in gold if e.label == label]
            p = [e for e in pred if e.label == label]
            table[scheme][label] = count(g, p, scheme)
    return DocCounts(doc_id, table)


def total(docs: Iterable[DocCounts]) -> DocCounts:
    """The counts of a collection of documents, summed."""
    result = DocCounts("all", {s: {None: Counts()} for s in SCHEMES})
    for doc in docs:
        result = result + doc
    return result


def summarise(doc: DocCounts, labels: Sequence[str] | None = None) -> dict[str, SchemeScores]:
    """Scheme -> micro (with counts), macro and per-label scores of summed counts.

    Macro averages P, R and F1 over ``labels`` (default: every label seen in
    gold or predictions); a label with neither gold nor predictions scores 0.
    """
    result: dict[str, SchemeScores] = {}
    for scheme in SCHEMES:
        table = doc.counts[scheme]
        names = list(labels) if labels is not None else sorted(k for k in table if k is not None)
        per_label = {name: Score.of(table.get(name, Counts()), scheme) for name in names}
        n = len(per_label)
        macro = PRF(*(sum(getattr(v, key) for v in per_label.values()) / n if n else 0.0
                      for key in ("p", "r", "f1")))
        result[scheme] = SchemeScores(Score.of(table[None], scheme), macro, per_label)
    return result
