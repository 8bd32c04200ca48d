"""Pairs that mean presence or fighting, not only a shared sentence.

Two names in one sentence are weak evidence: "X said from its office in Y", "talks
in Y between X and Z", "X, founded in Y". A ``Rule`` says when a sentence naming
both supports the pair: the two names at most ``max_gap`` words apart, with the
kind's cue when ``cue`` is set (a locative word such as "in", "near" shortly
before the place; a fighting word such as "against", "attacked", "defeat"
between the two factions), and no reporting or institutional word ("said",
"office", "talks", "founded") between them or just before the first when
``veto`` is set. The model has no parser, so the rule reads words only.

``PRESENCE`` (FACTION x PLACE) and ``FIGHTING`` (FACTION x FACTION) are the rules
benchmarks/who_fought_where.py chose on re3d's real-dev documents with the gold
entities; ``CO_OCCURRENCE`` is the rule every shared sentence passes. The same
``article_pairs`` serves ``tag``'s tables and the benchmark.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

# The two labels of each kind of pair; "whom" pairs are unordered (names sorted).
KINDS = {"where": ("FACTION", "PLACE"), "whom": ("FACTION", "FACTION")}
WORD = re.compile(r"\w+(?:['’]\w+)*")
REACH = 4  # words before the place searched for a locative, and before the pair for a veto
LOCATIVE = frozenset({"in", "near", "at", "around", "outside", "inside", "into", "across",
                      "throughout", "within", "from", "towards", "toward", "on"})
# Whole words, and stems a word may start with ("attack" -> attacked, attacks).
FIGHT_WORDS = frozenset({"against", "war", "wars", "vs", "versus", "fought", "hit"})
FIGHT_STEMS = ("attack", "fight", "battl", "clash", "strik", "strike", "defeat", "bomb",
               "shell", "ambush", "kill", "captur", "seiz", "retak", "recaptur", "offensive",
               "assault", "target", "raid", "destroy", "degrad", "expel", "oust", "liberat",
               "repel", "besieg", "siege", "combat", "counter", "overr", "storm")
VETO = frozenset({
    "said", "says", "told", "office", "offices", "talks", "talk", "founded", "formed",
    "based", "headquarters", "headquartered", "embassy", "conference", "meeting", "meetings",
    "met", "summit", "negotiations", "delegation", "announced", "statement", "spokesman",
    "spokesperson",
})


@dataclass(frozen=True)
class Rule:
    """When a sentence naming both names supports their pair (see the module doc)."""

    max_gap: int | None = None
    cue: bool = False
    veto: bool = False

    def describe(self) -> str:
        """The rule in a few words, for tables and the report."""
        parts = [f"at most {self.max_gap} words apart" if self.max_gap is not None
                 else "any distance"]
        parts += ["with the cue"] * self.cue + ["no veto word"] * self.veto
        return ", ".join(parts)


CO_OCCURRENCE = Rule()
# Chosen on re3d real-dev with the gold entities (benchmarks/who_fought_where.py).
PRESENCE = Rule(max_gap=6, cue=True, veto=False)
FIGHTING = Rule(max_gap=10, cue=True, veto=False)
RULES = {"where": PRESENCE, "whom": FIGHTING}


def candidate_rules() -> list[Rule]:
    """Every rule the benchmark chooses among (co-occurrence is the first)."""
    return [Rule(gap, cue, veto) for gap, cue, veto
            in product((None, 15, 10, 6, 3), (False, True), (False, True))]


def words(text: str) -> list[str]:
    """The words of a text, case-folded."""
    return [w.casefold() for w in WORD.findall(text)]


def _fights(word: str) -> bool:
    return word in FIGHT_WORDS or word.startswith(FIGHT_STEMS)


def _span(row: dict[str, Any]) -> tuple[int, int]:
    """A mention's offsets inside its sentence text."""
    if "sentence_start" not in row:
        raise ValueError("mention rows without 'sentence_start' (written by an older "
                         "conflict-ner): tag the articles again, without --resume")
    offset = row["sentence_start"]
    return row["start"] - offset, row["end"] - offset


@dataclass(frozen=True)
class Reading:
    """What one sentence says of two mentions in it: the words between them, whether the
    kind's cue and a veto word are there."""

    gap: int
    cue: bool
    veto: bool

    def passes(self, rule: Rule) -> bool:
        """Whether the sentence supports the pair under ``rule``."""
        return ((rule.max_gap is None or self.gap <= rule.max_gap)
                and (self.cue or not rule.cue) and not (self.veto and rule.veto))


def read(kind: str, sentence: str, first: dict[str, Any], second: dict[str, Any]) -> Reading:
    """Read a sentence for two of its mentions: a faction and (``kind`` "where") a place
    or (``kind`` "whom") another faction."""
    (a0, a1), (b0, b1) = _span(first), _span(second)
    (lo0, lo1), (hi0, _) = sorted([(a0, a1), (b0, b1)])
    between = words(sentence[lo1:hi0])
    before_first = words(sentence[:lo0])[-REACH:]
    if kind == "where":
        cue = any(w in LOCATIVE for w in words(sentence[:b0])[-REACH:])
    else:
        cue = any(_fights(w) for w in between)
    veto = any(w in VETO for w in between + before_first)
    return Reading(len(between), cue, veto)


@dataclass
class Sighting:
    """One pair in one article: its sentences naming both, those that pass the rule, and
    the best sentence (passing, then closest names, then first)."""

    sentences: int = 0
    passed: int = 0
    evidence: str = ""
    _best: tuple[bool, int, int] | None = None

    def add(self, order: int, sentence: str, readings: list[Reading], rule: Rule) -> None:
        """Count one sentence naming both (``readings``: one per pair of mentions)."""
        self.sentences += 1
        passing = [r for r in readings if r.passes(rule)]
        self.passed += bool(passing)
        key = (not passing, min(r.gap for r in passing or readings), order)
        if self._best is None or key < self._best:
            self._best, self.evidence = key, sentence


def _pair_key(kind: str, a: str, b: str) -> tuple[str, str]:
    return (a, b) if kind == "where" else (min(a, b), max(a, b))


def _sentence_pairs(
    kind: str, rows: list[dict[str, Any]]
) -> Iterator[tuple[tuple[str, str], dict[str, Any], dict[str, Any]]]:
    """(pair, mention, mention) for every two mentions of one sentence that form a pair."""
    first, second = KINDS[kind]
    for a, b in product(rows, rows):
        if (a["label"], b["label"]) != (first, second) or a["canonical"] == b["canonical"]:
            continue
        if kind == "whom" and a["start"] > b["start"]:
            continue  # each unordered pair of mentions once
        yield _pair_key(kind, a["canonical"], b["canonical"]), a, b


def article_pairs(mentions: list[dict[str, Any]], kind: str,
                  rule: Rule) -> dict[tuple[str, str], Sighting]:  # fmt: skip
    """Every pair of one article (mention rows with canonical names, sentences and offsets),
    including pairs named in the article but never in one sentence (no sentences)."""
    first, second = KINDS[kind]
    names = {label: {r["canonical"] for r in mentions if r["label"] == label}
             for label in (first, second)}  # fmt: skip
    pairs = {_pair_key(kind, a, b): Sighting()
             for a, b in product(names[first], names[second]) if a != b}  # fmt: skip
    by_sentence: dict[int, list[dict[str, Any]]] = {}
    for row in mentions:
        by_sentence.setdefault(row["sentence_index"], []).append(row)
    for index in sorted(by_sentence):
        rows = by_sentence[index]
        readings: dict[tuple[str, str], list[Reading]] = {}
        for key, a, b in _sentence_pairs(kind, rows):
            readings.setdefault(key, []).append(read(kind, a["sentence"], a, b))
        for key, found in readings.items():
            pairs[key].add(index, rows[0]["sentence"], found, rule)
    return pairs
