"""Corpus statistics: what a gold corpus holds and whether it teaches the contract.

Counts articles, theatres, spans and distinct surface forms per label, the
share of distinct forms the project's own pattern ruler does not match (the
names a model must learn from context), and the news phenomena that decide
strict F1 where a pattern can detect them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

from conflict_ner.articles import meta_of
from conflict_ner.scheme import LABELS
from conflict_ner.tasks import Task

# Heads that make a named site or feature ("Mosul Dam", "Torkham border crossing").
SITE_HEADS = (
    "airport", "air base", "airbase", "base", "barracks", "bridge", "camp", "checkpoint",
    "crossing", "dam", "field", "gate", "highway", "hospital", "junction", "market", "mosque",
    "plant", "port", "prison", "refinery", "road", "square", "station", "terminal",
)  # fmt: skip
NATURAL_HEADS = (
    "desert", "forest", "hill", "hills", "island", "lake", "mountain", "mountains", "plain",
    "plateau", "range", "ridge", "river", "valley", "wadi",
)  # fmt: skip
SERVICES = ("army", "air force", "navy", "armed forces")
# Descriptions LABELS.md keeps untagged; counted where they stand outside every span.
GENERIC_DESCRIPTIONS = (
    "regime forces", "government forces", "government troops", "security forces", "the militia",
    "rebels", "insurgents", "jihadists", "gunmen", "pro-government fighters", "militants",
    "special forces", "the coalition", "the task force", "troops", "police",
)  # fmt: skip
DATELINE = re.compile(r"^[A-Z][A-Z .'’-]{2,}(?:,[^\n—–-]{0,40})?\s*(?:\([^)\n]{1,40}\)\s*)?[—–-]")
CAPTION = re.compile(r"\((?:Photo|Image|Picture)s?:|\bPhoto:", re.IGNORECASE)
HYPHEN_COMPOUND = re.compile(r"\b[\w.]+-[\w-]+\b")
# The furniture of real news (issue 22), each counted where it stands outside every span:
# who is credited, page furniture, typography and untagged actors of other kinds.
FURNITURE_PATTERNS = {
    "agency in a dateline": r"^[A-Z][A-Z .'’-]{2,}(?:,[^\n(]{0,40})?\s*\([A-Z][\w. ]{1,30}\)",
    "credit: told / reported / according to": (
        r"\btold [A-Z][\w.]+|\b[A-Z][\w.]+(?: [A-Z][\w.]+)* reported\b|\baccording to [A-Z]"),
    "photo credit between slashes": r"/ [A-Z][\w .]+ /",
    "byline": r"^By [A-Z]",
    "reporting and editing line": r"\((?:Reporting|Writing|Editing) by",
    "related-headlines list": r"^(?:Related|Read more|More on this|See also)\b",
    "share line": r"^Share\b",
    "timestamp": r"\b(?:Updated|Published|Last updated)\b|\b\d{1,2}:\d{2}\s?(?:GMT|UTC)\b",
    "menu or tags line": r"^(?:Topics:|Tags:|[^\n|]{1,25}(?: \| [^\n|]{1,25}){2,}$)",
    "em dash glued to a word": r"\w—|—\w",
    "curly apostrophe or quote": r"[’“”]",
    "kunya (Abu X) untagged": r"\bAbu [A-Z][\w-]+",
    "government, ministry or party untagged": (
        r"\b(?:[Gg]overnment|[Mm]inistry|Presidency|[Pp]arliament|[Pp]arty|[Tt]ribe|[Cc]lan)\b"),
    # Names real documents hold besides armed actors and places, none of them tagged.
    "ship name untagged": r"\b(?:USS|HMS|HMCS|HMAS|INS|PNS|TCG|BRP|SLNS|SAS|FGS|FS|HS|KRI) [A-Z]",
    "aircraft or weapon designation untagged": r"\b[A-Z][A-Za-z]{0,3}-\d{1,3}[A-Za-z]{0,2}\b",
    "operation name untagged": r"\bOperation [A-Z0-9]",
    "summit, agreement or resolution untagged": (
        r"\b[A-Z][\w’'-]+ (?:Summit|Conference|Agreement|Accord|Declaration|Memorandum|Protocol)s?"
        r"\b|\b[Rr]esolution \d{3,4}\b"),
}
FURNITURE = {name: re.compile(p, re.MULTILINE) for name, p in FURNITURE_PATTERNS.items()}
SENTENCE_END = (".", "!", "?", '"', "”", "’", ")", "]")


@dataclass
class LabelStats:
    """Spans and distinct surface forms of one label."""

    spans: int = 0
    forms: int = 0
    forms_unmatched_by_ruler: int = 0

    @property
    def unmatched_share(self) -> float:
        return self.forms_unmatched_by_ruler / self.forms if self.forms else 0.0


@dataclass
class CorpusStats:
    """What a gold corpus holds; ``to_json`` gives the machine-readable form."""

    articles: int
    words: int
    theatres: dict[str, int]
    origins: dict[str, int]
    labels: dict[str, LabelStats]
    phenomena: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for label, stats in self.labels.items():
            data["labels"][label]["unmatched_share"] = round(stats.unmatched_share, 4)
        return data


def surface_forms(tasks: Iterable[Task]) -> dict[str, set[str]]:
    """Distinct surface forms per label."""
    forms: dict[str, set[str]] = {label: set() for label in LABELS}
    for task in tasks:
        for span in task.get("spans", []):
            forms.setdefault(span["label"], set()).add(task["text"][span["start"] : span["end"]])
    return forms


def ruler_forms(texts: Iterable[str]) -> set[tuple[str, str]]:
    """(surface, label) of every entity the project's pattern ruler finds in the texts."""
    from conflict_ner.patterns import pre_annotate  # compiling the rules takes seconds

    texts = list(texts)
    found = pre_annotate(texts)
    return {(text[s:e], label) for text, spans in zip(texts, found, strict=True)
            for s, e, label in spans}  # fmt: skip


def _in_span(task: Task, start: int, end: int) -> bool:
    return any(s["start"] <= start and end <= s["end"] for s in task.get("spans", []))


def _span_texts(task: Task, label: str) -> list[str]:
    text = task["text"]
    return [text[s["start"] : s["end"]] for s in task.get("spans", []) if s["label"] == label]


def _word_runs(name: str) -> set[str]:
    """Every run of whole words inside a name, shorter than the name itself."""
    words = name.split()
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)
            if j - i < len(words)}  # fmt: skip


def _ends_with(surface: str, heads: Iterable[str]) -> bool:
    lower = surface.lower()
    return any(lower.endswith(" " + head) for head in heads)


def _phenomena(task: Task, places: set[str]) -> Counter[str]:
    """Counts of the detectable news phenomena in one task."""
    text, spans = task["text"], task.get("spans", [])
    title = _meta_text(task, "title")
    found: Counter[str] = Counter()
    found["headline in all caps"] += int(title.isupper())
    found["dateline in all caps"] += sum(
        bool(DATELINE.match(p)) for p in text.split("\n\n")[1:]
    )
    found["photo caption or credit"] += len(CAPTION.findall(text))
    found["untagged hyphenated compound with a capitalised part"] += sum(
        1
        for m in HYPHEN_COMPOUND.finditer(text)
        if any(part[:1].isupper() for part in m.group().split("-"))
        and not _in_span(task, m.start(), m.end())
    )
    found["acronym in brackets after a name"] += sum(
        1
        for a, b in pairwise(sorted(spans, key=lambda s: s["start"]))
        if a["label"] == b["label"] and text[a["end"] : b["start"]] in (" (", " [")
    )
    factions = _span_texts(task, "FACTION")
    found["faction name containing a place name"] += sum(
        bool(_word_runs(f) & places) for f in factions
    )
    found["country adjective + army/air force/navy"] += sum(
        _ends_with(f, SERVICES) for f in factions
    )
    place_spans = _span_texts(task, "PLACE")
    found["named site with its head"] += sum(_ends_with(p, SITE_HEADS) for p in place_spans)
    found["natural feature with its head"] += sum(_ends_with(p, NATURAL_HEADS) for p in place_spans)
    found["possessive after a name"] += sum(
        text[s["end"] : s["end"] + 2] in ("'s", "’s") for s in spans
    )
    lower = text.lower()
    found["untagged generic description"] += sum(
        lower.count(g) for g in GENERIC_DESCRIPTIONS
    )
    for name, pattern in FURNITURE.items():
        found[name] += sum(not _in_span(task, m.start(), m.end()) for m in pattern.finditer(text))
    last = text.rstrip().rsplit("\n", 1)[-1]
    # A prose line that stops on a letter: a cut excerpt, not a list or a menu.
    cut = len(last.split()) >= 6 and last[-1:].isalpha() and "|" not in last and ":" not in last
    found["excerpt cut at the end"] += int(cut)
    return found


def _meta_text(task: Task, key: str) -> str:
    """A meta field as text ("" when absent); other JSON values as they are written."""
    value = meta_of(task).get(key)
    return value if isinstance(value, str) else "" if value is None else str(value)


def _tally(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(v or "(none)" for v in values).items()))


def corpus_stats(tasks: list[Task], ruler: set[tuple[str, str]] | None = None) -> CorpusStats:
    """Statistics of a list of gold tasks; ``ruler`` defaults to running the pattern ruler."""
    forms = surface_forms(tasks)
    known = ruler if ruler is not None else ruler_forms(t["text"] for t in tasks)
    labels = {}
    for label, surfaces in forms.items():
        spans = sum(1 for t in tasks for s in t.get("spans", []) if s["label"] == label)
        unmatched = sum(1 for f in surfaces if (f, label) not in known)
        labels[label] = LabelStats(spans, len(surfaces), unmatched)
    places = {p for p in forms.get("PLACE", set()) if len(p) > 3}
    phenomena: Counter[str] = Counter()
    for task in tasks:
        phenomena.update(_phenomena(task, places))
    return CorpusStats(
        articles=len(tasks),
        words=sum(len(t["text"].split()) for t in tasks),
        theatres=_tally(_meta_text(t, "theatre") for t in tasks),
        origins=_tally(_meta_text(t, "origin") for t in tasks),
        labels=labels,
        phenomena=dict(phenomena),
    )
