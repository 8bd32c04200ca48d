"""Who fought where: FACTION x PLACE pairs, and the top names.

A pair's strong evidence is the sentences that name both (``sentences``, and
``articles``: the articles holding such a sentence). Reports often name the place
once and then say "the city", so the table also keeps pairs named in the same
article but never in one sentence (``sentences`` 0), with ``articles_together``
counting the articles that name both anywhere; dates and evidence run over those
articles, the ones with the most shared sentences first.

Counts are built one article at a time (an article's mentions arrive together),
so memory holds the pair table, never the mentions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

EVIDENCE = 3  # article ids kept per pair
PAIR_COLUMNS = (
    "faction", "place", "sentences", "articles", "articles_together", "first_date", "last_date",
    "evidence", "faction_matched", "place_matched", "place_geonameid", "place_country",
    "place_latitude", "place_longitude",
)


@dataclass
class Pair:
    """What is known of one faction and place seen in the same sentences."""

    sentences: int = 0
    articles: int = 0
    together: int = 0
    first_date: str | None = None
    last_date: str | None = None
    # (-sentences in the article, article id): the articles that say it most, then by id.
    evidence: list[tuple[int, str]] = field(default_factory=list)

    def add_article(self, article_id: str, date: str | None, sentences: int) -> None:
        self.sentences += sentences
        self.articles += sentences > 0
        self.together += 1
        if date:
            self.first_date = min(self.first_date or date, date)
            self.last_date = max(self.last_date or date, date)
        self.evidence = sorted([*self.evidence, (-sentences, article_id)])[:EVIDENCE]


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
    """The pair table and the per-label name counts over a tagged corpus."""

    pairs: dict[tuple[str, str], Pair] = field(default_factory=dict)
    names: dict[str, Names] = field(default_factory=lambda: defaultdict(Names))
    # The first mention row of each canonical name: whether it matched, its GeoNames facts.
    facts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def add_article(self, mentions: list[dict[str, Any]]) -> None:
        """Count one article's mentions (rows with canonical names and sentence indexes)."""
        if not mentions:
            return
        names: dict[str, set[str]] = defaultdict(set)
        by_sentence: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for row in mentions:
            self.names[row["label"]].mentions[row["canonical"]] += 1
            self.facts.setdefault((row["label"], row["canonical"]), row)
            names[row["label"]].add(row["canonical"])
            by_sentence[row["sentence_index"]][row["label"]].add(row["canonical"])
        for label, found in names.items():
            self.names[label].articles.update(found)
        shared: Counter[tuple[str, str]] = Counter()
        for labels in by_sentence.values():
            shared.update((f, p) for f in labels["FACTION"] for p in labels["PLACE"])
        article_id, date = mentions[0]["article_id"], mentions[0]["date"]
        for key in ((f, p) for f in names["FACTION"] for p in names["PLACE"]):
            self.pairs.setdefault(key, Pair()).add_article(article_id, date, shared[key])

    def rows(self) -> list[dict[str, Any]]:
        """who_fought_where.csv rows: most shared sentences first, then most articles
        naming both, then by name."""
        ordered = sorted(self.pairs.items(),
                         key=lambda kv: (-kv[1].sentences, -kv[1].together, kv[0]))
        return [self._row(faction, place, pair) for (faction, place), pair in ordered]

    def _row(self, faction: str, place: str, pair: Pair) -> dict[str, Any]:
        where = self.facts[("PLACE", place)]
        return {
            "faction": faction, "place": place, "sentences": pair.sentences,
            "articles": pair.articles, "articles_together": pair.together,
            "first_date": pair.first_date or "",            "last_date": pair.last_date or "",
            "evidence": " ".join(article for _, article in pair.evidence),
            "faction_matched": self.facts[("FACTION", faction)]["matched"],
            "place_matched": where["matched"], "place_geonameid": where["geonameid"],
            "place_country": where["country"], "place_latitude": where["latitude"],
            "place_longitude": where["longitude"],
        }


def who_fought_where(articles: Iterable[list[dict[str, Any]]]) -> WhoFoughtWhere:
    """The tables over articles given as lists of their mention rows."""
    table = WhoFoughtWhere()
    for mentions in articles:
        table.add_article(mentions)
    return table
