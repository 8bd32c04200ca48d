"""Canonical names: each FACTION or PLACE mention mapped to one entity.

Factions go through the faction list's aliases ("ISIS", "Daesh" -> "Islamic
State"), and the DEMONYM + SERVICE forces to themselves. Places go through the
hand-kept list first, then GeoNames (countries, and cities: the pattern
gazetteer's region cities plus every city of 15,000 people or more), which gives
the GeoNames id, the country and, for cities, the coordinates. Names are compared
after normalisation: accents folded, case, apostrophes, hyphens, dots and
doubled letters ignored, a leading "the" or Arabic article optional. A mention
nothing matches keeps its surface as its canonical name and is flagged
(``matched`` false).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cache
from itertools import pairwise
from typing import Any

from conflict_ner.patterns import (
    english_words,
    faction_aliases,
    fold_accents,
    forces_names,
    geonames,
    in_region_gazetteer,
    place_aliases,
    usable_alternate,
)

# Cities outside the pattern gazetteer's region count from this size: big enough
# that a name rarely belongs to a village elsewhere.
WORLD_MIN_POPULATION = 15000
LEADING = re.compile(r"^(?:the|al|el|as|ad|ar|ash|at|az|an) (?=\S)")
APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "ʼ": "'"})


@dataclass(frozen=True)
class Canonical:
    """The entity a mention names: its canonical name and, for GeoNames places,
    the GeoNames id, ISO country code and coordinates."""

    name: str
    matched: bool
    matched_in: str | None = None  # "factions", "forces", "places" or "geonames"
    geonameid: int | None = None
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    def fields(self) -> dict[str, Any]:
        """The mention-row fields: canonical, matched, matched_in and the GeoNames ones."""
        data = asdict(self)
        return {"canonical": data.pop("name"), **data}


def normalise(name: str) -> str:
    """The comparison key of a name: "Al-Ḥasakah" and "al Hasakah" meet at "al hasakah"."""
    key = fold_accents(name).translate(APOSTROPHES).casefold()
    key = re.sub(r"[-_/]+", " ", key.replace(".", ""))
    key = re.sub(r"(\w)\1+", r"\1", key)  # Hassakeh / Hasakeh, Raqqa / Raqa
    key = re.sub(r"'s\b", "", key).replace("'", "")
    return " ".join(key.split())


def keys(name: str) -> list[str]:
    """The keys a name is found under: its normal form, then without a leading article."""
    key = normalise(name)
    bare = LEADING.sub("", key)
    return [key, bare] if bare != key else [key]


class Canonicaliser:
    """Maps (surface, label) to a Canonical; unmatched surfaces map to themselves."""

    def __init__(self, tables: dict[str, dict[str, Canonical]]) -> None:
        self.tables = tables

    def __call__(self, text: str, label: str) -> Canonical:
        table = self.tables.get(label, {})
        for key in keys(text):
            if key in table:
                return table[key]
        return Canonical(text, matched=False)


def _add(table: dict[str, Canonical], names: Iterable[str], entity: Canonical) -> None:
    """Index an entity under every key of every name; an earlier entry wins."""
    for name in names:
        for key in keys(name):
            table.setdefault(key, entity)


def faction_table() -> dict[str, Canonical]:
    """Faction keys from the faction list (aliases) and the DEMONYM + SERVICE forces."""
    table: dict[str, Canonical] = {}
    for name, aliases in faction_aliases().items():
        _add(table, [name, *aliases], Canonical(name, True, "factions"))
    for name in forces_names():
        _add(table, [name], Canonical(name, True, "forces"))
    return table


def _city_entity(city: dict[str, Any]) -> Canonical:
    return Canonical(
        city["name"], True, "geonames", city["geonameid"], city["countrycode"],
        city["latitude"], city["longitude"],
    )


def geonames_table() -> dict[str, Canonical]:
    """GeoNames keys: countries first, then cities from the most populous down."""
    data = geonames()
    table: dict[str, Canonical] = {}
    for country in data.get_countries().values():
        entity = Canonical(country["name"], True, "geonames", country["geonameid"], country["iso"])
        _add(table, [country["name"]], entity)
    common = english_words()
    cities = sorted(data.get_cities().values(), key=lambda c: -c["population"])
    for city in cities:
        if city["population"] < WORLD_MIN_POPULATION and not in_region_gazetteer(city):
            continue
        names = [city["name"], *(a for a in city["alternatenames"] if usable_alternate(a, common))]
        _add(table, names, _city_entity(city))
    return table


def place_table(geo: dict[str, Canonical]) -> dict[str, Canonical]:
    """Place keys: the hand-kept places (with GeoNames facts when one of their names is
    there), then every GeoNames key."""
    table: dict[str, Canonical] = {}
    for name, aliases in place_aliases().items():
        found = next((geo[k] for n in (name, *aliases) for k in keys(n) if k in geo), None)
        facts = asdict(found) if found else {}
        facts.update(name=name, matched=True, matched_in="places")
        _add(table, [name, *aliases], Canonical(**facts))
    for key, entity in geo.items():
        table.setdefault(key, entity)
    return table


# What may stand between a name and the acronym it introduces: "Rapid Intervention
# Battalion (BIR)".
ACRONYM_OPENERS = frozenset({"(", " ("})
CANONICAL_FIELDS = tuple(Canonical("", matched=False).fields())


def introduced_acronyms(mentions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Within one article, each FACTION acronym that no list knows and that the article
    introduces right after a full name ("Rapid Intervention Battalion (BIR)"), with the
    full name's canonical fields: the article names one faction, not two."""
    rows = sorted((r for r in mentions if r["label"] == "FACTION"), key=lambda r: r["start"])
    aliases: dict[str, dict[str, Any]] = {}
    for name, acronym in pairwise(rows):
        if acronym["matched"] or name["sentence_index"] != acronym["sentence_index"]:
            continue
        offset = name["sentence_start"]
        between = name["sentence"][name["end"] - offset:acronym["start"] - offset]
        after = name["sentence"][acronym["end"] - offset:][:1]
        if between in ACRONYM_OPENERS and after == ")" and " " not in acronym["text"]:
            aliases.setdefault(acronym["canonical"], {k: name[k] for k in CANONICAL_FIELDS})
    return aliases


def resolve_acronyms(mentions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The article's mention rows with introduced acronyms mapped to their full names."""
    aliases = introduced_acronyms(mentions)
    return [{**row, **aliases[row["canonical"]]}
            if row["label"] == "FACTION" and row["canonical"] in aliases else row
            for row in mentions]  # fmt: skip


@cache
def canonicaliser() -> Canonicaliser:
    """The canonical mapping from the package's lists and GeoNames, built once per process."""
    return Canonicaliser({"FACTION": faction_table(), "PLACE": place_table(geonames_table())})


def canonical(text: str, label: str) -> Canonical:
    """The canonical entity of one mention."""
    return canonicaliser()(text, label)
