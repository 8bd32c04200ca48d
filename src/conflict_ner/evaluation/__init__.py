"""The evaluation harness: scoring, cross-checks, uncertainty, baselines, errors and reports."""

from conflict_ner.evaluation.crosscheck import cross_check, ents_of
from conflict_ner.evaluation.scoring import (
    SCHEMES,
    Counts,
    DocCounts,
    Ent,
    count,
    count_doc,
    prf,
    summarise,
    total,
)
from conflict_ner.evaluation.uncertainty import Interval, bootstrap, bootstrap_all

__all__ = [
    "SCHEMES",
    "Counts",
    "DocCounts",
    "Ent",
    "Interval",
    "bootstrap",
    "bootstrap_all",
    "count",
    "count_doc",
    "cross_check",
    "ents_of",
    "prf",
    "summarise",
    "total",
]
