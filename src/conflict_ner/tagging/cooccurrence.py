"""Who fought where: FACTION x PLACE pairs, and the top names.

A pair's strong evidence is the sentences that name both (``sentences``, and
``articles``: the articles holding such a sentence). Reports often name the place
once and then say "the city", so the table also keeps pairs named in the same
article but never in one sentence (``sentences`` 0), with ``articles_together``
counting the articles that name both anywhere; dates and evidence run over those
articles, the ones with the most shared sentences first.

Each pair also carries its ``confidence``, the share of its sentences naming both
that pass the pairing rule of its kind (``pairs.PRESENCE``, ``pairs.FIGHTING``),
and its ``evidence_sentence``, the best of them. The ``mode`` chooses the rows:
"cooccurrence" lists every pair as above; "model" only the pairs with a sentence
that passes the rule, the most such sentences first. Factions named together
(FACTION x FACTION, unordered) make the who-fought-whom table the same way.

Counts are built one article at a time (an article's mentions arrive together),
so memory holds the pair tables, never the mentions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from conflict_ner.tagging.options import PAIR_MODES
from conflict_ner.tagging.pairs import RULES, Sighting, article_pairs

EVIDENCE = 3  # article ids kept per pair
PAIR_COLUMNS = (
    "faction", "place", "sentences", "articles", "articles_together", "first_date", "last_date",
    "evidence", "faction_matched", "place_matched", "place_geonameid", "place_country",
    "place_latitude", "place_longitude", "confidence", "evidence_sentence",
)
WHOM_COLUMNS = (
    "faction_a", "faction_b", "sentences", "articles", "articles_together", "first_date",
    "last_date", "evidence", "faction_a_matched", "faction_b_matched", "confidence",
    "evidence_sentence",
)


@dataclass
class Pair:
    """What is known of two names seen in the same sentences or articles."""

    sentences: int = 0
    passed: int = 0  # of the sentences, those that pass the pairing rule
    articles: int = 0
    together: int = 0
    first_date: str | None = None
    last_date: str | None = None
    # (-sentences in the article, article id): the articles that say it most, then by id.
    evidence: list[tuple[int, str]] = field(default_factory=list)
    evidence_sentence: str = ""
    _best: tuple[int, int] = (0, 0)  # (passing sentences, sentences) of its article

    def add_article(self, article_id: str, date: str | None, seen: Sighting) -> None:
        """Add one article's sighting of the pair."""
        self.sentences += seen.sentences
        self.passed += seen.passed
        self.articles += seen.sentences > 0
        self.together += 1
        if date:
            self.first_date = min(self.first_date or date, date)
            self.last_date = max(self.last_date or date, date)
        self.evidence = sorted([*self.evidence, (-seen.sentences, article_id)])[:EVIDENCE]
        # The evidence sentence comes from the article with the most passing sentences
        # (then the most naming both); the first such article keeps it.
        if seen.sentences and (seen.passed, seen.sentences) > self._best:
            self._best, self.evidence_sentence = (seen.passed, seen.sentences), seen.evidence

    @property
    def confidence(self) -> float:
        """The share of the sentences naming both that pass the pairing rule."""
        return round(self.passed / self.sentences, 3) if self.sentences else 0.0


@dataclass
class Names:
    """Mentions and articles per canonical name of one label."""

    mentions: Counter[str] = field(default_factory=Counter)
    articles: Counter[str] = field(default_factory=Counter)

    def top(self, n: int) -> list[tuple[str, int, int]]:
        """(name, mentions, articles) of the n most mentioned names, ties by name."""
        names = sorted(self.mentions, key=lambda k: (-self.mentions[k], k))[:n]
        return [(k, self.mentions[k], self.articles[k]) for k in names]


@dataclass
class WhoFoughtWhere:
    """The pair tables and the per-label name counts over a tagged corpus."""

    mode: str = "cooccurrence"
    pairs: dict[tuple[str, str], Pair] = field(default_factory=dict)
    whom: dict[tuple[str, str], Pair] = field(default_factory=dict)
    names: dict[str, Names] = field(default_factory=lambda: defaultdict(Names))
    # The first mention row of each canonical name: whether it matched, its GeoNames facts.
    facts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in PAIR_MODES:
            raise ValueError(f"unknown pairs {self.mode!r}; expected one of {PAIR_MODES}")

    def add_article(self, mentions: list[dict[str, Any]]) -> None:
        """Count one article's mentions (rows with canonical names, sentence indexes and
        offsets)."""
        if not mentions:
            return
        names: dict[str, set[str]] = defaultdict(set)
        for row in mentions:
            self.names[row["label"]].mentions[row["canonical"]] += 1
            self.facts.setdefault((row["label"], row["canonical"]), row)
            names[row["label"]].add(row["canonical"])
        for label, found in names.items():
            self.names[label].articles.update(found)
        article_id, date = mentions[0]["article_id"], mentions[0]["date"]
        for kind, table in (("where", self.pairs), ("whom", self.whom)):
            for key, seen in article_pairs(mentions, kind, RULES[kind]).items():
                table.setdefault(key, Pair()).add_article(article_id, date, seen)

    def _ordered(self, table: dict[tuple[str, str], Pair]) -> list[tuple[tuple[str, str], Pair]]:
        """The rows of the mode: co-occurrence, most shared sentences first, then most
        articles naming both; model, only pairs passing the rule, most passing first."""
        if self.mode == "model":
            kept = [(k, p) for k, p in table.items() if p.passed]
            return sorted(kept, key=lambda kv: (-kv[1].passed, -kv[1].sentences, kv[0]))
        return sorted(table.items(), key=lambda kv: (-kv[1].sentences, -kv[1].together, kv[0]))

    def rows(self) -> list[dict[str, Any]]:
        """who_fought_where.csv rows, in the mode's order (see ``_ordered``)."""
        return [self._row(faction, place, pair)
                for (faction, place), pair in self._ordered(self.pairs)]

    def whom_rows(self) -> list[dict[str, Any]]:
        """who_fought_whom.csv rows, in the mode's order; the two names sorted."""
        return [{"faction_a": a, "faction_b": b, **self._counts(pair),
                 "faction_a_matched": self.facts[("FACTION", a)]["matched"],
                 "faction_b_matched": self.facts[("FACTION", b)]["matched"],
                 "confidence": pair.confidence, "evidence_sentence": pair.evidence_sentence}
                for (a, b), pair in self._ordered(self.whom)]

    @staticmethod
    def _counts(pair: Pair) -> dict[str, Any]:
        return {
            "sentences": pair.sentences, "articles": pair.articles,
            "articles_together": pair.together, "first_date": pair.first_date or "",
            "last_date": pair.last_date or "",
            "evidence": " ".join(article for _, article in pair.evidence),
        }

    def _row(self, faction: str, place: str, pair: Pair) -> dict[str, Any]:
        where = self.facts[("PLACE", place)]
        return {
            "faction": faction, "place": place, **self._counts(pair),
            "faction_matched": self.facts[("FACTION", faction)]["matched"],
            "place_matched": where["matched"], "place_geonameid": where["geonameid"],
            "place_country": where["country"], "place_latitude": where["latitude"],
            "place_longitude": where["longitude"], "confidence": pair.confidence,
            "evidence_sentence": pair.evidence_sentence,
        }


def who_fought_where(articles: Iterable[list[dict[str, Any]]],
                     mode: str = "cooccurrence") -> WhoFoughtWhere:  # fmt: skip
    """The tables over articles given as lists of their mention rows."""
    table = WhoFoughtWhere(mode)
    for mentions in articles:
        table.add_article(mentions)
    return table
