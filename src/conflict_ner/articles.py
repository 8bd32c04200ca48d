"""Articles: ingest raw files, clean them, give them content-hash ids, find
duplicates and near-duplicates, and split them into leak-free train/dev/test
sets and cross-validation folds."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import Any

from conflict_ner.files import (
    Code,
    InvalidInput,
    Problem,
    input_files,
    iter_jsonl,
    read_records,
    write_jsonl,
    write_text_atomic,
)
from conflict_ner.tasks import MAX_TEXT_CHARS

SPLITS = ("train", "dev", "test")
# Whole theatres of the composed corpus held out for dev and test: each set
# spans continents and kinds of war, and holds theatres of several writers'
# batches; never north-east Syria, the seeds' theatre.
HELD_OUT_THEATRES: dict[str, tuple[str, ...]] = {
    "dev": ("Burkina Faso", "Caucasus", "Iraq", "Philippines", "Somalia"),
    "test": ("Colombia", "Mozambique", "Myanmar", "Ukraine", "Yemen"),
}

# Lines that are page furniture, not prose (matched against a whole stripped line).
FURNITURE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\d+\s*(min|mins|minute|minutes)\s+read",
        r"\[?\s*click to enlarge\s*\]?",
        r"comments?",
        r"please let us know if you('|’)re having issues with commenting\.?",
        r"advertisement",
        r"share( this( article)?)?( on \w+)?",
        r"(skip to|jump to) (main )?content",
    )
]

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
DATE_LINE = re.compile(
    rf"^(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?"
    rf"(?:\d{{1,2}}\s+(?:{MONTHS}),?\s+\d{{4}}|(?:{MONTHS})\s+\d{{1,2}},?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})$",
    re.IGNORECASE,
)
DATE_FORMATS = ("%d %B %Y", "%B %d %Y", "%Y-%m-%d")
WORD = re.compile(r"\w+", re.UNICODE)
# Fields a JSONL input (an article record or a Prodigy task's meta) may give explicitly.
ARTICLE_FIELDS = ("title", "date", "source", "url", "theatre", "origin")
# What ingest reads, by extension (any case): plain text, or JSONL with a "text" per line.
INPUT_SUFFIXES = (".txt", ".jsonl")
# A byte order mark (U+FEFF, also the zero-width no-break space): never part of an
# article, and it would change the content hash, hiding a duplicate.
BOM = "\ufeff"


@dataclass
class Article:
    """One cleaned news article; ``theatre`` and ``origin`` ("seed", "composed") are
    known for the composed corpus."""

    id: str
    title: str | None
    date: str | None
    source: str
    text: str
    url: str | None = None
    theatre: str | None = None
    origin: str | None = None

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        for optional in ("theatre", "origin"):
            if record[optional] is None:
                del record[optional]
        return record


@dataclass
class NearDuplicate:
    """Two articles that retell the same story."""

    a: str
    b: str
    jaccard: float
    shared_passages: int


@dataclass
class Splits:
    """splits.json: the train/dev/test article ids, the near-duplicate groups behind
    them and the pairs found; for a corpus with theatres, each article's theatre and
    the theatres held out for dev and test."""

    seed: int
    ratios: dict[str, float]
    splits: dict[str, list[str]]
    groups: list[list[str]]
    near_duplicates: list[NearDuplicate]
    held_out_theatres: dict[str, list[str]] = field(default_factory=dict)
    theatres: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object, theatre keys only when there are theatres."""
        data: dict[str, Any] = {"seed": self.seed, "ratios": self.ratios}
        if self.theatres:
            data["held_out_theatres"] = self.held_out_theatres
            data["theatres"] = self.theatres
        data["splits"] = self.splits
        data["groups"] = self.groups
        data["near_duplicates"] = [asdict(p) for p in self.near_duplicates]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Splits:
        """From the JSON object; KeyError or TypeError when a field is missing or wrong."""
        return cls(
            seed=data["seed"], ratios=dict(data["ratios"]),
            splits={name: list(ids) for name, ids in data["splits"].items()},
            groups=[list(g) for g in data["groups"]],
            near_duplicates=[NearDuplicate(**p) for p in data["near_duplicates"]],
            held_out_theatres=dict(data.get("held_out_theatres", {})),
            theatres=dict(data.get("theatres", {})),
        )

    def split_of(self) -> dict[str, str]:
        """Article id -> split name."""
        return {i: name for name, ids in self.splits.items() for i in ids}


@dataclass
class IngestReport:
    """What ingest kept, dropped and flagged."""

    articles: list[Article] = field(default_factory=list)
    exact_duplicates: list[tuple[str, str]] = field(default_factory=list)  # (dropped, kept)
    near_duplicates: list[NearDuplicate] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files in a folder not read, and why


def content_id(text: str) -> str:
    """Stable article id: the first 16 hex digits of the SHA-256 of the cleaned text."""
    return hashlib.sha256(text.encode("utf8")).hexdigest()[:16]


def meta_of(record: dict[str, Any]) -> dict[str, Any]:
    """A task's or article record's ``meta`` dict; empty when missing or not a dict."""
    meta = record.get("meta")
    return meta if isinstance(meta, dict) else {}


def article_id(record: dict[str, Any]) -> str:
    """The article a Prodigy task or an article record belongs to: meta.article_id,
    else the record's id, else its text's content id."""
    meta = meta_of(record)
    return str(meta.get("article_id") or record.get("id") or content_id(record["text"]))


def parse_date(line: str) -> str | None:
    """ISO date of a line that is only a date ("22 August, 2016"), else None."""
    line = line.strip()
    if not DATE_LINE.match(line):
        return None
    core = re.sub(r"^\w+day,?\s+", "", line, flags=re.IGNORECASE).replace(",", "")
    core = re.sub(r"\s+", " ", core)
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(core, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _normalise_line(line: str) -> str:
    # Non-breaking and other odd spaces become plain spaces; runs collapse to one.
    return re.sub(r"[^\S\n]+", " ", line).strip()


def _is_furniture(line: str) -> bool:
    return any(p.fullmatch(line) for p in FURNITURE)


def _looks_like_headline(line: str) -> bool:
    # A question can be a headline ("Can Colombo hold the peninsula?"); a statement ends in "."
    return len(line.split()) <= 20 and not line.endswith((".", "!", "”", '"', ":"))


def _headline(lines: list[str]) -> tuple[str | None, int]:
    """The title and how many leading lines it used (a headline may wrap onto a second line)."""
    if not lines or not _looks_like_headline(lines[0]):
        return None, 0
    if (
        len(lines) > 1
        and len(lines[1].split()) <= 6
        and _looks_like_headline(lines[1])
        and lines[1] != lines[0]
        and len(lines[0].split()) + len(lines[1].split()) <= 20
    ):
        return f"{lines[0]} {lines[1]}", 2
    return lines[0], 1


def clean_text(raw: str) -> tuple[str, str | None, str | None]:
    """Cleaned text (paragraphs joined by blank lines), its title and its ISO date.

    Drops page furniture, standalone date lines (kept as the date), repeats of
    the title and empty lines; every other line stays verbatim.
    """
    raw = raw.replace(BOM, "").replace("\r\n", "\n")
    lines = [_normalise_line(line) for line in raw.split("\n")]
    lines = [line for line in lines if line and not _is_furniture(line)]
    date = None
    kept: list[str] = []
    for line in lines:
        parsed = parse_date(line)
        if parsed:
            date = date or parsed
            continue
        kept.append(line)
    title, used = _headline(kept)
    body = [line for line in kept[used:] if line != title]
    paragraphs = ([title] if title else []) + body
    return "\n\n".join(paragraphs), title, date


def article_from_text(raw: str, where: str, **fields: Any) -> Article:
    """An Article from raw text read at ``where`` (the source unless one is given);
    explicit fields (title, date, source, url, theatre, origin) win over what is found."""
    text, title, date = clean_text(raw)
    return Article(
        id=content_id(text),
        title=fields.get("title") or title,
        date=fields.get("date") or date,
        source=fields.get("source") or where,
        text=text,
        url=fields.get("url"),
        theatre=fields.get("theatre"),
        origin=fields.get("origin"),
    )


def _too_long(path: Path, line: int, length: int, unit: str) -> Problem:
    message = (f"{length:,} {unit} is no article: the limit is {MAX_TEXT_CHARS:,} characters "
               "(split the file into articles)")
    return Problem(path, line, message, Code.TOO_LARGE)


def _read_txt(path: Path) -> Iterator[Article | Problem]:
    try:
        size = path.stat().st_size
        # UTF-8 takes at most 4 bytes a character: a bigger file is refused unread.
        if size > 4 * MAX_TEXT_CHARS:
            yield _too_long(path, 0, size, "bytes")
            return
        data = path.read_bytes()
    except OSError as err:
        yield Problem(path, 0, f"cannot read file: {err.strerror}", Code.UNREADABLE)
        return
    try:
        raw = data.decode("utf8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        yield Problem(path, line, f"not UTF-8 (byte {err.start}): {err.reason}", Code.ENCODING)
        return
    yield from _article(path, 0, raw, path.name, {})


def _article(
    path: Path, line: int, raw: str, where: str, fields: dict[str, Any]
) -> Iterator[Article | Problem]:
    """The article of a raw text, or the Problem saying why there is none."""
    if len(raw) > MAX_TEXT_CHARS:
        yield _too_long(path, line, len(raw), "characters")
    elif not raw.replace(BOM, "").strip():
        yield Problem(path, line, "empty text" if line else "empty file", Code.EMPTY)
    else:
        yield article_from_text(raw, where, **fields)


def _read_jsonl(path: Path) -> Iterator[Article | Problem]:
    for number, item in iter_jsonl(path):
        if isinstance(item, Problem):
            yield item
            continue
        text = item.get("text")
        if not isinstance(text, str):
            yield Problem(path, number, "needs a 'text' field (a string)", Code.SHAPE)
            continue
        meta = meta_of(item)
        fields = {k: item.get(k) or meta.get(k) for k in ARTICLE_FIELDS}
        wrong = [k for k, v in fields.items() if v is not None and not isinstance(v, str)]
        if wrong:
            message = f"{', '.join(map(repr, wrong))} must be text (a JSON string)"
            yield Problem(path, number, message, Code.SHAPE)
            continue
        yield from _article(path, number, text, f"{path.name}:{number}", fields)


def iter_articles(
    paths: Iterable[Path], skipped: list[str] | None = None
) -> Iterator[Article | Problem]:
    """Each article in the given files and folders, or the problem that kept one out,
    in order and one at a time (for readers that skip bad articles instead of stopping);
    the files of those folders left unread (with why) are added to ``skipped``."""
    for item in input_files(paths, INPUT_SUFFIXES):
        if isinstance(item, Problem) and item.code == Code.NOT_READ:
            if skipped is not None:
                skipped.append(str(item))
            continue
        if isinstance(item, Problem):
            yield item
            continue
        yield from (_read_jsonl if item.suffix.lower() == ".jsonl" else _read_txt)(item)


def read_articles(paths: Iterable[Path]) -> tuple[list[Article], list[str]]:
    """Every article in the given files and folders, and the files of those folders
    left unread (with why); raises InvalidInput listing all problems."""
    articles: list[Article] = []
    problems: list[Problem] = []
    skipped: list[str] = []
    for result in iter_articles(paths, skipped):
        if isinstance(result, Problem):
            problems.append(result)
        else:
            articles.append(result)
    if problems:
        raise InvalidInput(problems)
    return articles, skipped


def shingles(text: str, size: int) -> set[tuple[str, ...]]:
    """The set of lowercased word n-grams of a text."""
    words = WORD.findall(text.lower())
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def find_near_duplicates(
    articles: list[Article],
    shingle_size: int = 5,
    passage_size: int = 10,
    min_jaccard: float = 0.3,
) -> list[NearDuplicate]:
    """Pairs that share a passage of ``passage_size`` words or whose shingled
    Jaccard similarity reaches ``min_jaccard``.

    A shared passage is enough: a retold story that repeats one sentence
    would leak that sentence from training into a test split.
    """
    small = {a.id: shingles(a.text, shingle_size) for a in articles}
    large = {a.id: shingles(a.text, passage_size) for a in articles}
    # Only pairs that share a shingle can reach either test (a shared passage holds
    # shared shingles), so an index from shingle to articles finds them without
    # comparing every pair; the overlap counts are exact.
    overlap = _shared_counts(small)
    pairs = []
    for (a, b), common in sorted(overlap.items()):  # by id: independent of input order
        union = len(small[a]) + len(small[b]) - common
        jaccard = common / union if union else 0.0
        shared = len(large[a] & large[b])
        if shared or jaccard >= min_jaccard:
            pairs.append(NearDuplicate(a, b, round(jaccard, 4), shared))
    return pairs


def _shared_counts(sets: dict[str, set[tuple[str, ...]]]) -> Counter[tuple[str, str]]:
    """For every pair of ids (in sorted order) whose sets meet, the size of the overlap."""
    holders: dict[tuple[str, ...], list[str]] = {}
    for key in sorted(sets):
        for item in sets[key]:
            holders.setdefault(item, []).append(key)
    counts: Counter[tuple[str, str]] = Counter()
    for ids in holders.values():
        counts.update(combinations(ids, 2))
    return counts


def ingest(paths: Iterable[Path], origin: str | None = None) -> IngestReport:
    """Read, clean and deduplicate articles; flag near-duplicates.

    ``origin`` (e.g. "seed") is given to every article whose input names none.
    """
    report = IngestReport()
    seen: dict[str, Article] = {}
    articles, report.skipped = read_articles(paths)
    for article in articles:
        article.origin = article.origin or origin
        if article.id in seen:
            report.exact_duplicates.append((article.source, seen[article.id].source))
            continue
        seen[article.id] = article
    report.articles = list(seen.values())
    report.near_duplicates = find_near_duplicates(report.articles)
    return report


def write_articles(path: Path, articles: Iterable[Article]) -> None:
    """Write articles as JSONL, atomically."""
    write_jsonl(path, (a.to_record() for a in articles))


def load_articles(path: Path) -> list[Article]:
    """Articles from a corpus JSONL file written by ``write_articles``."""

    def parse(record: dict[str, Any]) -> Article:
        try:
            article = Article(**record)
        except TypeError as err:
            raise ValueError(f"not an article record: {err}") from None
        if not all(isinstance(v, str) and v for v in (article.id, article.text, article.source)):
            raise ValueError("id, text and source must be non-empty strings")
        return article

    return read_records(path, parse)


def duplicate_groups(ids: list[str], pairs: Iterable[NearDuplicate]) -> list[list[str]]:
    """Connected groups of article ids, linking every near-duplicate pair."""
    parent = {i: i for i in ids}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for pair in pairs:
        if pair.a in parent and pair.b in parent:
            parent[root(pair.a)] = root(pair.b)
    groups: dict[str, list[str]] = {}
    for i in ids:
        groups.setdefault(root(i), []).append(i)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def _group_order_key(group: list[str], seed: int) -> str:
    return hashlib.sha256(f"{seed}:{','.join(group)}".encode()).hexdigest()


def assign_splits(
    groups: list[list[str]], dev: float = 0.2, test: float = 0.2, seed: int = 0
) -> dict[str, list[str]]:
    """Whole groups of articles to train/dev/test, deterministically.

    Groups are ordered by a hash of their ids and the seed; the first ones
    fill test, then dev, the rest train. With three groups or more, dev and
    test get at least one group each.
    """
    ordered = sorted(groups, key=lambda g: _group_order_key(g, seed))
    n = len(ordered)
    n_test = max(1, round(n * test)) if n >= 3 else 0
    n_dev = max(1, round(n * dev)) if n >= 3 else 0
    chosen = {
        "test": ordered[:n_test],
        "dev": ordered[n_test : n_test + n_dev],
        "train": ordered[n_test + n_dev :],
    }
    return {name: sorted(i for g in chosen[name] for i in g) for name in SPLITS}


def theatre_split(
    group: list[str], theatres: dict[str, str], held_out: dict[str, tuple[str, ...]]
) -> str | None:
    """The split a group of articles goes to by its theatre, or None if it has none.

    Raises ValueError when near-duplicates from different splits' theatres are
    grouped: one of them would leak into the other split.
    """
    where = {theatres[i] for i in group if i in theatres}
    splits = {next((n for n, ts in held_out.items() if t in ts), "train") for t in where}
    if len(splits) > 1:
        raise ValueError(
            f"near-duplicate articles {', '.join(group)} come from theatres "
            f"{', '.join(sorted(where))}, which go to different splits"
        )
    return splits.pop() if splits else None


def make_splits(
    articles: list[Article],
    dev: float = 0.2,
    test: float = 0.2,
    seed: int = 0,
    held_out: dict[str, tuple[str, ...]] = HELD_OUT_THEATRES,
) -> Splits:
    """The splits.json content: splits, the groups behind them and the near-duplicates.

    Articles with a theatre go by theatre: the ``held_out`` theatres to dev and
    test, every other theatre to train, so dev and test hold wars (and names)
    that training never saw. Articles without one (the seeds) are split by
    group as ``assign_splits`` does.
    """
    pairs = find_near_duplicates(articles)
    groups = duplicate_groups([a.id for a in articles], pairs)
    theatres = {a.id: a.theatre for a in articles if a.theatre}
    by_theatre: dict[str, list[str]] = {name: [] for name in SPLITS}
    untheatred = []
    for group in groups:
        split = theatre_split(group, theatres, held_out)
        if split is None:
            untheatred.append(group)
        else:
            by_theatre[split] += group
    splits = assign_splits(untheatred, dev, test, seed)
    return Splits(
        seed=seed, ratios={"dev": dev, "test": test},
        splits={name: sorted(splits[name] + by_theatre[name]) for name in SPLITS},
        groups=groups, near_duplicates=pairs,
        held_out_theatres={name: list(ts) for name, ts in held_out.items()} if theatres else {},
        theatres=dict(sorted(theatres.items())),
    )


def write_splits(path: Path, splits: Splits) -> None:
    """Write splits.json atomically."""
    write_text_atomic(path, json.dumps(splits.to_json(), indent=2) + "\n")


def load_splits(path: Path) -> Splits:
    """Read splits.json; InvalidInput naming the file when it is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except OSError as err:
        raise _splits_problem(path, f"cannot read file: {err.strerror}", Code.UNREADABLE) from None
    except (ValueError, RecursionError) as err:
        raise _splits_problem(path, f"malformed JSON: {err}", Code.JSON) from None
    if not isinstance(data, dict) or not _lists_of_ids(data.get("splits"), dict):
        message = "needs 'splits': split names to lists of article ids (`conflict-ner split`)"
        raise _splits_problem(path, message, Code.SHAPE)
    if not _lists_of_ids(data.get("groups", []), list):
        raise _splits_problem(path, "'groups' must be lists of article ids", Code.SHAPE)
    theatres = data.get("theatres", {})
    if not (isinstance(theatres, dict) and all(isinstance(t, str) for t in theatres.values())):
        raise _splits_problem(path, "'theatres' must map article ids to names", Code.SHAPE)
    try:
        return Splits.from_json(data)
    except (KeyError, TypeError, ValueError) as err:
        message = f"not a splits file of `conflict-ner split` ({type(err).__name__}: {err})"
        raise _splits_problem(path, message, Code.SHAPE) from None


def _lists_of_ids(value: Any, container: type[dict[str, Any]] | type[list[Any]]) -> bool:
    """Whether a splits.json value is a dict (or list) of lists of article ids."""
    if not isinstance(value, container):
        return False
    lists: Iterable[Any] = value.values() if isinstance(value, dict) else value
    return all(isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in lists)


def _splits_problem(path: Path, message: str, code: Code) -> InvalidInput:
    return InvalidInput([Problem(path, 0, message, code)])


def fold_groups(splits: Splits) -> list[list[str]]:
    """The units cross-validation holds out: a whole theatre for articles that have
    one, else a group of near-duplicates (the seeds)."""
    theatres = splits.theatres
    by_theatre: dict[str, list[str]] = {}
    groups = []
    for group in splits.groups:
        theatre = next((theatres[i] for i in group if i in theatres), None)
        if theatre is None:
            groups.append(group)
        else:
            by_theatre.setdefault(theatre, []).extend(group)
    return groups + [sorted(ids) for _, ids in sorted(by_theatre.items())]


def article_folds(splits: Splits) -> list[tuple[list[str], list[str]]]:
    """Leave-one-group-out folds over all articles: (train ids, held-out ids).

    A fold holds out one theatre, or one group of near-duplicate articles, whole.
    """
    # Here, not at the top: scikit-learn takes a second to import, and every command
    # (even `--help`) imports this module.
    from sklearn.model_selection import LeaveOneGroupOut

    units = fold_groups(splits)
    ids = [i for unit in units for i in unit]
    labels = [n for n, unit in enumerate(units) for _ in unit]
    folds = []
    for train_idx, test_idx in LeaveOneGroupOut().split(ids, groups=labels):
        folds.append(([ids[i] for i in train_idx], [ids[i] for i in test_idx]))
    return folds
