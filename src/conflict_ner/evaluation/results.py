"""Typed evaluation results: what metrics.json holds, written and read as dataclasses.

Every record is a dataclass; ``to_json`` gives plain JSON data and
``from_json`` reads it back (pydantic checks the types and ignores extra
keys). The schema is documented in docs/evaluation.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import parse_obj_as

from conflict_ner.evaluation.crosscheck import CrossCheck
from conflict_ner.evaluation.error_analysis import ErrorRow
from conflict_ner.evaluation.novelty import NoveltyRow, unseen
from conflict_ner.evaluation.scoring import SchemeScores, Score
from conflict_ner.evaluation.systems import Skipped
from conflict_ner.evaluation.uncertainty import Interval

R = TypeVar("R", bound="JsonRecord")
MIN_ARTICLES = 3  # below this many held-out articles the headline says the figure is weak


class JsonRecord:
    """``to_json``/``from_json`` for a dataclass of JSON-able fields and nested records."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls: type[R], data: Any) -> R:
        """The record from JSON data; ValueError (pydantic's) naming what is wrong."""
        return parse_obj_as(cls, data)


@dataclass
class SystemResult(JsonRecord):
    """One system's scores: every scheme, the bootstrap intervals and seen/unseen rows."""

    name: str
    role: str
    note: str
    overall: dict[str, SchemeScores]
    bootstrap: dict[str, Interval]
    novelty: list[NoveltyRow]

    @property
    def strict(self) -> Score:
        """Strict micro scores."""
        return self.overall["strict"].micro

    @property
    def unseen(self) -> NoveltyRow:
        return unseen(self.novelty)


@dataclass(frozen=True)
class GroupScore:
    """Strict micro scores of the articles sharing one value of a meta field."""

    field: str
    value: str
    articles: int
    strict: Score
    interval: Interval


@dataclass(frozen=True)
class ArticleRow:
    """One article's micro scores under every scheme, and its side-by-side page."""

    article: str
    title: str
    page: str
    scores: dict[str, Score]


@dataclass
class ErrorSummary:
    """Strict errors: how many of each kind, and every one with its context."""

    counts: dict[str, int]
    rows: list[ErrorRow]


@dataclass
class Confusion:
    """The token confusion matrix (rows gold, columns predicted) and its picture."""

    labels: list[str]
    matrix: list[list[int]]
    png: str


@dataclass(frozen=True)
class Headline:
    """The figures a reader needs first, and the caveats that go with them."""

    f1: float
    low: float
    high: float
    articles: int
    unseen_recall: float | None
    unseen_mentions: int
    rules_alone_f1: float | None
    caveats: list[str]

    @classmethod
    def of(cls, model: SystemResult, rules_alone: SystemResult | None) -> Headline:
        """The headline of a model, with the rules-alone figure beside it when there is one."""
        ci, unseen_row = model.bootstrap["strict"], model.unseen
        rules_f1 = rules_alone.strict.f1 if rules_alone is not None else None
        caveats = []
        if ci.articles < MIN_ARTICLES:
            caveats.append(f"only {ci.articles} held-out article(s): too few for the figure "
                           "or its interval to mean much")
        if rules_f1 is not None and rules_f1 >= ci.low:
            caveats.append(f"the rules alone reach {rules_f1:.3f}, within the model's interval: "
                           "this score does not show that the network learned anything")
        return cls(ci.f1, ci.low, ci.high, ci.articles, unseen_row.r, unseen_row.gold,
                   rules_f1, caveats)

    def lines(self) -> list[str]:
        """The headline in words: F1, interval, articles, unseen recall, rules alone, caveats."""
        unseen_text = ("no unseen gold mentions" if self.unseen_recall is None else
                       f"unseen recall {self.unseen_recall:.3f} "
                       f"(of {self.unseen_mentions} unseen gold mentions)")
        rules = "" if self.rules_alone_f1 is None else f"; rules alone {self.rules_alone_f1:.3f}"
        first = (f"strict F1 {self.f1:.3f} (95% CI {self.low:.3f}–{self.high:.3f}, "
                 f"{self.articles} articles); {unseen_text}{rules}")
        return [first, *(f"caveat: {c}" for c in self.caveats)]


@dataclass
class Metrics(JsonRecord):
    """Everything an evaluation report shows: the content of metrics.json."""

    model: str
    data: str
    train: str | None
    articles: int
    labels: list[str]
    headline: Headline
    overall: dict[str, SchemeScores]
    bootstrap: dict[str, Interval]
    novelty: list[NoveltyRow]
    ablations: list[SystemResult]
    baselines: list[SystemResult]
    skipped: list[Skipped]
    groups: list[GroupScore]
    crosscheck: CrossCheck
    per_article: list[ArticleRow]
    errors: ErrorSummary
    confusion: Confusion
    format_version: int = 2  # bumped when a field changes meaning or goes

    @property
    def strict(self) -> Score:
        """The model's strict micro scores."""
        return self.overall["strict"].micro

    def as_system(self) -> SystemResult:
        """The model as shipped, as one system among its ablations and baselines."""
        return SystemResult("model", "model", f"as shipped: {self.model}", self.overall,
                            self.bootstrap, self.novelty)

    def write(self, path: Path) -> None:
        """metrics.json, atomically."""
        from conflict_ner.files import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def read(cls, path: Path) -> Metrics:
        """A metrics.json written by an evaluation; ValueError naming the file otherwise."""
        try:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf8")))
        except ValueError as err:
            raise ValueError(f"{path}: not an evaluation metrics.json of this version "
                             f"({str(err).splitlines()[0]})") from None
