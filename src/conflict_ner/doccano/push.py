"""Push articles to doccano, with pre-annotations.

push: idempotent. An example is known by the hash of its text (Prodigy's
``_input_hash``, computed from the text doccano holds); pushing the same file
again adds nothing, a grown file adds only what is new. doccano is asked what
it has first, so the gold is read, and validated, only for the new articles.
Pre-annotations (gold spans, pattern or model predictions) are imported as the
pushing user's annotations: doccano 1.8 with collaborative annotation off
shows each user only their own spans.

Pushes to the same project on the same server run one at a time (a file lock,
``push_lock``): two at once would each see an empty project, create it twice
and import every article twice.

Listing a project costs doccano about 5 ms an example (queries per example),
so a push remembers the text hashes it saw and sent, with the project's
fingerprint (id, example count, newest example); the next push lists the
examples again only when the fingerprint has changed.

Annotators see an example's meta in doccano's metadata panel, so it holds only
what helps them: title, date, outlet, theatre, url and the article id, and only the
fields an article has.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conflict_ner.articles import article_id, meta_of
from conflict_ner.convert import SpanIssue, SpanTuple, align_spans, doccano_row
from conflict_ner.doccano.client import DoccanoAPI, resolve_connection
from conflict_ner.doccano.errors import DoccanoError
from conflict_ner.files import (
    Code,
    InvalidInput,
    Problem,
    iter_records,
    read_records,
    write_text_atomic,
)
from conflict_ner.scheme import LABELS
from conflict_ner.tasks import Task, check_task, input_hash

# The meta fields annotators see in doccano's metadata panel, in that order.
# The theatre tells an annotator which war a report is about, and it must
# survive the round trip: evaluation groups held-out articles by it.
META_FIELDS = ("title", "date", "outlet", "theatre", "url", "article_id")
# Earlier pushes stored the text hash in meta; pull still drops it from meta.
HASH_KEY = "_input_hash"
# A `source` that is an ingested file's name ("000_77324c59.txt"), not an outlet.
FILE_NAME = re.compile(r"\.(txt|html?|md|jsonl?)$", re.IGNORECASE)
ArticleRow = dict[str, Any]


@dataclass
class PushReport:
    """What a push did."""

    project_id: int
    added: int = 0
    already: int = 0
    duplicates: int = 0
    pre_annotated: int = 0
    spans: int = 0
    issues: list[SpanIssue] = field(default_factory=list)


def load_push_items(path: Path) -> list[ArticleRow]:
    """Articles (corpus/articles.jsonl rows) or Prodigy tasks, from a file or a folder of
    them, as text + meta; checked."""

    def parse(row: dict[str, Any]) -> ArticleRow:
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("needs a non-empty 'text'")
        meta = meta_of(row) or row
        item = {k: meta.get(k) for k in META_FIELDS}
        item["outlet"] = _outlet(meta)
        item["article_id"] = article_id(row)
        item["text"] = text
        return item

    items = read_records(path, parse)
    if not items:
        raise InvalidInput([Problem(Path(path), 0, "holds no articles", Code.EMPTY)])
    return items


def _outlet(meta: dict[str, Any]) -> str | None:
    """The news outlet: an explicit ``outlet``, else the URL's host without "www.", else
    ``source`` unless that is the name of the file the article was ingested from."""
    outlet, url, source = meta.get("outlet"), meta.get("url"), meta.get("source")
    if isinstance(outlet, str) and outlet.strip():
        return outlet.strip()
    if isinstance(url, str) and url.strip():
        host = urlsplit(url.strip()).hostname or ""
        if host:
            return host.removeprefix("www.")
    if isinstance(source, str) and source.strip() and not FILE_NAME.search(source):
        return source.strip()
    return None


def _json_scalar(value: Any) -> Any:
    """Meta values as doccano keeps them well: scalars stay, anything else becomes JSON text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False)


def to_import_row(item: ArticleRow, spans: list[SpanTuple]) -> dict[str, Any]:
    """One doccano import row: text, label spans, and the meta fields the article has."""
    meta = {k: _json_scalar(item[k]) for k in META_FIELDS if item.get(k) not in (None, "")}
    return doccano_row(item["text"], spans, meta)


def text_key(text: str) -> int:
    """What identifies an example in doccano: the hash of its text (Prodigy's input hash)."""
    return input_hash({"text": text})


# A pre-annotation source: spans for each article, in order ("annotator" elsewhere
# means a person).
PreAnnotator = Callable[[list[ArticleRow]], list[list[SpanTuple]]]


def gold_pre_annotator(gold_paths: Sequence[Path]) -> PreAnnotator:
    """Pre-annotations from gold Prodigy tasks (files, or folders of them), matched on
    meta.article_id and same text.

    Every file must exist before anything is pushed (a missing one would push
    the articles without their spans, and a later push never adds them). The
    files are read only when there is something new to push, and only the gold
    tasks of new articles are validated.
    """
    missing = [Path(p) for p in gold_paths if not Path(p).exists()]
    if missing:
        message = "no such gold file or folder (for --pre-annotate gold)"
        raise InvalidInput([Problem(p, 0, message, Code.UNREADABLE) for p in missing])

    def annotate(items: list[ArticleRow]) -> list[list[SpanTuple]]:
        wanted_ids = {item["article_id"] for item in items}
        wanted_hashes = {text_key(item["text"]) for item in items}
        by_id, by_hash = _gold_for(gold_paths, wanted_ids, wanted_hashes)
        result = []
        for item in items:
            task = by_id.get(item["article_id"]) or by_hash.get(text_key(item["text"]))
            same_text = task is not None and task["text"] == item["text"]
            spans = task.get("spans", []) if same_text and task else []
            result.append([(s["start"], s["end"], s["label"]) for s in spans])
        return result

    return annotate


def _gold_for(
    gold_paths: Sequence[Path], ids: set[str], hashes: set[int]
) -> tuple[dict[str, Task], dict[int, Task]]:
    """The accepted gold tasks of the wanted articles (by id and by text hash), validated.

    Raises InvalidInput naming file and line for a malformed line anywhere, or
    an invalid task of a wanted article.
    """
    by_id: dict[str, Task] = {}
    by_hash: dict[int, Task] = {}
    problems: list[Problem] = []
    for path in gold_paths:
        for file, number, task in iter_records(path):
            if isinstance(task, Problem):
                problems.append(task)
                continue
            # Rejected or ignored tasks are no gold (training skips them too).
            if not isinstance(task.get("text"), str) or task.get("answer", "accept") != "accept":
                continue
            key_id, key_hash = article_id(task), text_key(task["text"])
            if key_id not in ids and key_hash not in hashes:
                continue
            found = check_task(task, LABELS)
            problems.extend(Problem(file, number, f.message, f.code) for f in found)
            if not found:
                by_id[key_id], by_hash[key_hash] = task, task
    if problems:
        raise InvalidInput(problems)
    return by_id, by_hash


def pipeline_pre_annotator(nlp: Any) -> PreAnnotator:
    """Pre-annotations from a spaCy pipeline's entities (only our labels)."""

    def annotate(items: list[ArticleRow]) -> list[list[SpanTuple]]:
        docs = nlp.pipe(item["text"] for item in items)
        return [
            [(e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in LABELS]
            for doc in docs
        ]

    return annotate


def patterns_pre_annotator() -> PreAnnotator:
    """Pre-annotations from the rules (the faction list and place gazetteer)."""
    from conflict_ner.patterns import pre_annotate  # compiling the rules takes seconds

    return lambda items: pre_annotate([item["text"] for item in items])


def model_pre_annotator(model: str) -> PreAnnotator:
    """Pre-annotations from a trained spaCy model (a path or an installed package name)."""
    import spacy

    try:
        nlp = spacy.load(model)
    except OSError as err:
        raise DoccanoError(f"cannot load the spaCy model {model!r}: {err}") from err
    return pipeline_pre_annotator(nlp)


def choose_pre_annotator(
    pre_annotate: str | None, gold_paths: Sequence[Path]
) -> PreAnnotator | None:
    """The pre-annotation source: gold, patterns, none, or a model path/name."""
    if pre_annotate in (None, "", "none"):
        return None
    if pre_annotate == "gold":
        return gold_pre_annotator(gold_paths)
    if pre_annotate == "patterns":
        return patterns_pre_annotator()
    return model_pre_annotator(pre_annotate)


def read_guidelines(path: Path | None) -> str:
    """The annotation guidelines shown in doccano, if the file exists."""
    return path.read_text(encoding="utf8") if path and Path(path).is_file() else ""


def _state_path(url: str, project: str, kind: str, suffix: str) -> Path:
    """A per-user file about one project on one doccano server (lock, or what it holds)."""
    folder = Path(tempfile.gettempdir()) / f"conflict-ner-{os.getuid()}" / kind
    key = hashlib.sha256(f"{url.rstrip('/')}\n{project}".encode()).hexdigest()[:24]
    return folder / f"{key}{suffix}"


def lock_path(url: str, project: str) -> Path:
    """The lock file of one project on one doccano server (in a folder of this user's)."""
    return _state_path(url, project, "push-locks", ".lock")


@contextmanager
def push_lock(url: str, project: str) -> Iterator[None]:
    """Hold the push lock of this project on this server; wait while another push has it."""
    path = lock_path(url, project)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with path.open("a") as handle:
        # flock: released by the kernel when the process ends, even on a kill.
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def push(
    articles_path: Path,
    project: str,
    pre_annotate: str | None = "gold",
    gold_paths: Sequence[Path] = (Path("corpus/gold.jsonl"),),
    api: DoccanoAPI | None = None,
    data_dir: Path = Path(".doccano"),
    guidelines: Path | None = Path("configs/guidelines.md"),
    order: Path | None = None,
) -> PushReport:
    """Send the articles doccano lacks (by text hash) in one import; return counts.

    The pre-annotation source is checked before anything reaches doccano.
    With ``order`` (a ranking from `conflict-ner next`), only the ranked articles
    go, in the ranking's order (doccano lists examples in upload order).
    """
    items = load_push_items(articles_path)
    if order is not None:
        from conflict_ner.active import in_ranking_order

        items = in_ranking_order(items, order)
    pre_annotator = choose_pre_annotator(pre_annotate, gold_paths)
    api = api or DoccanoAPI(resolve_connection(data_dir))
    with push_lock(api.connection.url, project):
        project_id = api.ensure_project(project, read_guidelines(guidelines))
        known = KnownExamples(api, project, project_id)
        present = known.keys()
        report = PushReport(project_id)
        new = _new_items(items, present, report)
        rows = _rows_with_spans(new, pre_annotator, str(articles_path), report)
        api.import_rows(project_id, rows, name=Path(articles_path).name)
        report.added = len(rows)
        _check_arrived(api, project_id, rows, before=known.count)
        known.remember(present | {text_key(r["text"]) for r in rows})
    return report


class KnownExamples:
    """The text hashes of a project's examples, listed from doccano only when the project
    changed since the last push from this account on this machine."""

    def __init__(self, api: DoccanoAPI, project: str, project_id: int) -> None:
        self.api, self.project_id = api, project_id
        self.path = _state_path(api.connection.url, project, "push-known", ".json")
        self.count = 0

    def fingerprint(self) -> list[Any]:
        """Project id, example count and the newest example (id, text hash): what changes
        when examples are added or deleted."""
        self.count = self.api.count_examples(self.project_id)
        newest = self.api.newest_example(self.project_id) if self.count else None
        last = [newest["id"], text_key(newest["text"])] if newest else []
        return [self.project_id, self.count, *last]

    def keys(self) -> set[int]:
        """What the project holds: from the cache if its fingerprint matches, else listed."""
        fingerprint = self.fingerprint()
        if not self.count:
            return set()
        cached = self._read()
        if cached.get("fingerprint") == fingerprint:
            return set(cached.get("keys", []))
        return {text_key(ex["text"]) for ex in self.api.iter_examples(self.project_id)}

    def remember(self, keys: set[int]) -> None:
        """Keep the hashes with the project's fingerprint as it is now."""
        record = {"fingerprint": self.fingerprint(), "keys": sorted(keys)}
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps(record))

    def _read(self) -> dict[str, Any]:
        """The cache, or {} when missing or unreadable (then doccano is asked)."""
        try:
            record = json.loads(self.path.read_text(encoding="utf8"))
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}


def _new_items(items: list[ArticleRow], known: set[int], report: PushReport) -> list[ArticleRow]:
    """The items doccano does not have yet, each text once (counts the others in report)."""
    new: list[ArticleRow] = []
    new_keys: set[int] = set()
    for item in items:
        key = text_key(item["text"])
        if key in new_keys:
            report.duplicates += 1  # the same text twice in the input file
        elif key in known:
            report.already += 1
        else:
            new_keys.add(key)
            new.append(item)
    return new


def _rows_with_spans(
    items: list[ArticleRow], pre_annotator: PreAnnotator | None, file: str, report: PushReport
) -> list[dict[str, Any]]:
    """Import rows with pre-annotations aligned to token boundaries (issues reported)."""
    predicted = pre_annotator(items) if pre_annotator and items else [[] for _ in items]
    rows = []
    for item, spans in zip(items, predicted, strict=True):
        aligned, issues = align_spans(item["text"], spans, file, item["article_id"])
        report.issues.extend(issues)
        report.pre_annotated += bool(aligned)
        report.spans += len(aligned)
        rows.append(to_import_row(item, aligned))
    return rows


def _check_arrived(
    api: DoccanoAPI, project_id: int, rows: list[dict[str, Any]], before: int
) -> None:
    """Raise unless every pushed row is now an example in doccano (``before``: the count
    before the import; only a shortfall costs a full listing, to name what is missing)."""
    if not rows or api.count_examples(project_id) == before + len(rows):
        return
    present = {text_key(ex["text"]) for ex in api.list_examples(project_id)}
    missing = [r["article_id"] for r in rows if text_key(r["text"]) not in present]
    raise DoccanoError(
        f"doccano did not import {max(len(missing), 1)} article(s): {missing[:10]}"
    )
