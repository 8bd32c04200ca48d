"""Bootstrap confidence intervals that resample whole articles.

Entities in one article are not independent (the same names recur), so the
unit of resampling is the article: draw articles with replacement, sum their
counts and recompute micro F1 from the sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from conflict_ner.evaluation.scoring import SCHEMES, DocCounts, prf_from_tuple


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap percentile interval."""

    f1: float
    low: float
    high: float
    level: float
    resamples: int
    seed: int
    articles: int

    @property
    def half_width(self) -> float:
        """Half the interval's width: the noise margin the regression gate allows."""
        return (self.high - self.low) / 2

    def to_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "half_width": self.half_width}


def _f1(counts: np.ndarray, scheme: str) -> float:
    """Micro F1 of one (COR, INC, PAR, MIS, SPU) row."""
    cor, inc, par, mis, spu = (float(x) for x in counts)
    return prf_from_tuple(cor, inc, par, mis, spu, scheme=scheme).f1


def _micro_f1(sums: np.ndarray, scheme: str) -> np.ndarray:
    """Micro F1 per row of summed (COR, INC, PAR, MIS, SPU) counts."""
    return np.array([_f1(row, scheme) for row in sums])


def bootstrap(
    docs: Sequence[DocCounts],
    scheme: str = "strict",
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of micro F1 over articles (seeded, deterministic)."""
    matrix = np.array([d.counts[scheme][None].as_tuple() for d in docs], dtype=float)
    point = _f1(matrix.sum(axis=0), scheme) if len(docs) else 0.0
    if not len(docs):
        return Interval(point, point, point, level, 0, seed, 0)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(docs), size=(resamples, len(docs)))
    scores = _micro_f1(matrix[picks].sum(axis=1), scheme)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return Interval(point, float(low), float(high), level, resamples, seed, len(docs))


def bootstrap_all(
    docs: Sequence[DocCounts], resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> dict[str, Interval]:
    """One interval per scheme, each from the same seed."""
    return {s: bootstrap(docs, s, resamples, level, seed) for s in SCHEMES}
