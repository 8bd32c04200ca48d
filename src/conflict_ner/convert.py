"""Conversions between doccano JSONL, Prodigy JSONL and spaCy DocBin (.spacy).

Prodigy tasks are the centre; the other two are converted to and from them.

Token boundaries: spans are character offsets, and a span that does not start
and end on a token of spaCy's blank English tokenizer cannot be an entity in
a ``Doc``. Such a span is reported (file, example, span, text) and then
either snapped by one stated rule, **expand to the enclosing tokens** (spaCy's
``alignment_mode="expand"``), or, with ``strict``, rejected: the conversion
fails and writes nothing. If snapping makes two spans overlap, the longer one
is kept (LABELS.md: "the longer name wins") and the other is reported. Nothing
is dropped silently.

What each target cannot hold, and so drops (reported in ``ConvertReport``):
- doccano JSONL and .spacy have no ``answer``: only accepted tasks go there.
- doccano JSONL has no tokens or hashes: they are recomputed on the way back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from spacy.tokens import Doc, DocBin

from conflict_ner.articles import article_id, meta_of
from conflict_ner.files import (
    BadRecord,
    Code,
    Finding,
    InvalidInput,
    Problem,
    iter_jsonl,
    read_records,
    refuse_replacing_inputs,
    write_bytes_atomic,
    write_jsonl,
    write_text_atomic,
)
from conflict_ner.scheme import LABELS
from conflict_ner.tasks import (
    Task,
    check_task,
    make_task,
    read_tasks,
    set_hashes,
    tokenize,
    tokenizer,
)

Format = Literal["doccano", "prodigy", "spacy"]
FORMATS: tuple[str, ...] = ("doccano", "prodigy", "spacy")
# Keys of a doccano row that are not meta: the text, its spans under the names
# doccano has used (1.8: "label"; relation projects: "entities"; older: "labels").
DOCCANO_SPAN_KEYS = ("label", "labels", "entities")
DOCCANO_OWN_KEYS = ("text", *DOCCANO_SPAN_KEYS)

# What conversion mends rather than refuses: it snaps spans onto our tokens.
SNAPPABLE = (Code.BOUNDARY, Code.OVERLAP, Code.WHITESPACE)

SpanTuple = tuple[int, int, str]


@dataclass(frozen=True)
class SpanIssue:
    """One span that was off token boundaries (or overlapped), and what became of it."""

    file: str
    example: str
    start: int
    end: int
    label: str
    text: str
    action: str

    def what(self) -> str:
        """The span and what became of it, without the file and example."""
        return f"span {self.start}-{self.end} {self.label} {self.text!r} {self.action}"

    def __str__(self) -> str:
        return f"{self.file} example {self.example}: {self.what()}"


@dataclass
class ConvertReport:
    """What a conversion read, wrote, snapped and left out."""

    read: int = 0
    written: int = 0
    issues: list[SpanIssue] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def misaligned(issues: Iterable[SpanIssue]) -> InvalidInput:
    """The error for spans off token boundaries where they must not be snapped (strict)."""
    return InvalidInput([
        Problem(Path(i.file), 0, f"example {i.example}: {i.what()}", Code.BOUNDARY)
        for i in issues
    ])


def align_spans(
    text: str,
    spans: Iterable[SpanTuple],
    file: str = "-",
    example: str = "-",
    strict: bool = False,
) -> tuple[list[SpanTuple], list[SpanIssue]]:
    """Spans on token boundaries (snapped by expanding), and an issue for each change.

    With ``strict`` nothing is snapped: the issues say "rejected" and the caller fails.
    """
    doc = tokenize(text)
    kept: list[SpanTuple] = []
    issues: list[SpanIssue] = []
    for start, end, label in spans:
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise ValueError(
                f"example {example}: span {start}-{end} {label} is empty, reversed or outside "
                f"the text (length {len(text)})"
            )
        surface = text[start:end]
        if doc.char_span(start, end, label=label, alignment_mode="strict") is not None:
            kept.append((start, end, label))
            continue
        snapped = doc.char_span(start, end, label=label, alignment_mode="expand")
        if strict:
            action = "is off token boundaries: rejected (--strict)"
        elif snapped is None:
            action = "covers no token: left out"
        else:
            new = (snapped.start_char, snapped.end_char, label)
            action = f"is off token boundaries: expanded to {new[0]}-{new[1]} {snapped.text!r}"
            kept.append(new)
        issues.append(SpanIssue(file, example, start, end, label, surface, action))
    if strict:
        return kept, issues
    kept, overlap_issues = _resolve_overlaps(text, kept, file, example)
    return kept, issues + overlap_issues


def _resolve_overlaps(
    text: str, spans: list[SpanTuple], file: str, example: str
) -> tuple[list[SpanTuple], list[SpanIssue]]:
    """Of duplicate or overlapping spans keep one (the longer), reporting the others."""
    kept: list[SpanTuple] = []
    issues: list[SpanIssue] = []
    for span in sorted(spans, key=lambda s: (-(s[1] - s[0]), s[0], s[2])):
        clash = next((k for k in kept if span[0] < k[1] and k[0] < span[1]), None)
        if clash is None:
            kept.append(span)
            continue
        if clash == span:
            action = "duplicates another span (after snapping): left out"
        else:
            action = f"overlaps {clash[0]}-{clash[1]} {clash[2]}: left out (the longer span wins)"
        issues.append(SpanIssue(file, example, *span, text[span[0] : span[1]], action))
    return sorted(kept), issues


# -- doccano <-> Prodigy ---------------------------------------------------------------
def doccano_spans(record: dict[str, Any]) -> list[SpanTuple]:
    """(start, end, label) spans of a doccano row, whichever key and shape it uses;
    BadRecord when they are not a list of such spans. The values are as the row
    holds them: whether they are integer offsets and a label is check_task's to say."""
    for key in DOCCANO_SPAN_KEYS:
        if key in record:
            items = record[key] or []
            if not isinstance(items, list):
                raise BadRecord([Finding(Code.SHAPE, f"{key!r} must be a list of spans")])
            return [_span_tuple(item) for item in items]
    return []


def _span_tuple(item: Any) -> SpanTuple:
    """One doccano span: [start, end, label] or {start_offset, end_offset, label}."""
    if isinstance(item, list) and len(item) == 3:
        start, end, label = item
    elif isinstance(item, dict) and {"start_offset", "end_offset", "label"} <= item.keys():
        start, end, label = item["start_offset"], item["end_offset"], item["label"]
    else:
        raise BadRecord([Finding(Code.SPAN, f"not a doccano span: {item!r}")])
    # check_task reports offsets that are not integers, rather than truncating them here.
    return start, end, label


def doccano_to_task(
    record: dict[str, Any], file: str = "-", example: str = "-", strict: bool = False
) -> tuple[Task, list[SpanIssue]]:
    """A Prodigy task from a doccano row; every other key of the row goes to meta.

    BadRecord says what is wrong with a row that cannot be one (checked as a task is).
    """
    text, spans = record.get("text"), doccano_spans(record)
    draft = {"text": text, "spans": [{"start": s, "end": e, "label": lb} for s, e, lb in spans]}
    findings = [f for f in check_task(draft, labels=None) if f.code not in SNAPPABLE]
    if findings:
        raise BadRecord(findings)
    assert isinstance(text, str)  # check_task said so
    meta = dict(meta_of(record))
    meta.update({k: v for k, v in record.items() if k not in (*DOCCANO_OWN_KEYS, "meta")})
    aligned, issues = align_spans(text, spans, file, example, strict)
    return make_task(text, aligned, meta), issues


def doccano_row(text: str, spans: Iterable[SpanTuple], meta: dict[str, Any]) -> dict[str, Any]:
    """A doccano import row: text, label [[start, end, label]...] and meta as top-level keys."""
    row: dict[str, Any] = {"text": text, "label": [[s, e, label] for s, e, label in spans]}
    for key, value in meta.items():
        # doccano turns every extra key into meta; a meta key named like one of
        # doccano's own would be read as the text or the labels.
        row[f"meta_{key}" if key in DOCCANO_OWN_KEYS else key] = value
    return row


def task_to_doccano(task: Task) -> dict[str, Any]:
    """A Prodigy task as a doccano import row."""
    spans = [(s["start"], s["end"], s["label"]) for s in task.get("spans", [])]
    return doccano_row(task["text"], spans, task.get("meta") or {})


# -- Prodigy <-> spaCy -----------------------------------------------------------------
def _doc_from_tokens(task: Task) -> Doc | None:
    """A Doc with the task's own tokens, when they rebuild its text exactly."""
    tokens = task.get("tokens")
    if not tokens:
        return None
    words = [t["text"] for t in tokens]
    spaces = [bool(t.get("ws", False)) for t in tokens]
    doc = Doc(tokenizer().vocab, words=words, spaces=spaces)
    # Tokens from elsewhere (e.g. newlines Prodigy dropped) cannot make an exact Doc.
    return doc if doc.text == task["text"] else None


def task_to_doc(task: Task, file: str = "-", strict: bool = False) -> tuple[Doc, list[SpanIssue]]:
    """A Doc with the task's spans as entities, and an issue per span off token boundaries.

    The Doc keeps the task's tokens when they rebuild its text; ``user_data``
    holds ``article_id`` (evaluation scores per article) and the task's ``meta``.
    With ``strict`` a misaligned span is left out and reported as rejected; the
    caller fails on any issue.
    """
    doc = _doc_from_tokens(task) or tokenize(task["text"])
    spans = [(s["start"], s["end"], s["label"]) for s in task.get("spans", [])]
    example = article_id(task)
    aligned, issues = align_spans(task["text"], spans, file, example, strict)
    ents = [doc.char_span(s, e, label=label, alignment_mode="expand") for s, e, label in aligned]
    doc.ents = [ent for ent in ents if ent is not None]
    doc.user_data["article_id"] = example
    doc.user_data["meta"] = dict(task.get("meta") or {})
    return doc, issues


def doc_article_id(doc: Doc) -> str:
    """The article a Doc belongs to: user_data's article_id, else the rule of
    ``articles.article_id`` applied to its meta and text."""
    data = doc.user_data or {}
    return str(data.get("article_id") or article_id({"text": doc.text, "meta": data.get("meta")}))


def gold_docs(path: Path, labels: Iterable[str] | None = LABELS) -> list[Doc]:
    """Docs of every accepted task in a gold file (or a folder of them, in the order
    of ``files.iter_records``); raises InvalidInput listing every
    problem (file:line), a span off our tokenizer's token boundaries among them,
    since gold is never snapped silently."""
    return [doc for doc in _gold_records(path, labels) if doc is not None]


def _gold_records(path: Path, labels: Iterable[str] | None) -> list[Doc | None]:
    """A Doc per accepted task and None per other task (rejected or ignored in Prodigy)."""

    def parse(task: Task) -> Doc | None:
        findings = check_task(task, labels)
        if findings:
            raise BadRecord(findings)
        if task.get("answer", "accept") != "accept":
            return None
        doc, issues = task_to_doc(task, str(path), strict=True)
        if issues:
            raise BadRecord([Finding(Code.BOUNDARY, i.what()) for i in issues])
        return doc

    return read_records(path, parse)


def validate_file(path: Path, labels: Iterable[str] | None = LABELS) -> list[Problem]:
    """Every problem in a Prodigy JSONL gold file or folder of them (an empty list
    when it is valid): what ``gold_docs``, and so ``data``, would refuse."""
    path = Path(path)
    if not path.exists():
        return [Problem(path, 0, "no such file or folder", Code.UNREADABLE)]
    try:
        records = _gold_records(path, labels)
    except InvalidInput as err:
        return err.problems
    if not records:
        return [Problem(path, 0, "holds no tasks", Code.EMPTY)]
    return []


def write_docbin(path: Path, docs: Iterable[Doc]) -> Path:
    """Write Docs (entities and user_data) to a .spacy file, atomically."""
    docbin = DocBin(attrs=["ORTH", "ENT_IOB", "ENT_TYPE"], docs=docs, store_user_data=True)
    write_bytes_atomic(path, docbin.to_bytes())
    return path


def doc_to_task(doc: Doc) -> Task:
    """A Prodigy task from a Doc: its entities become spans, user_data['meta'] the meta."""
    spans = [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents]
    return make_task(doc.text, spans, dict(meta_of(doc.user_data or {})))


# -- files -----------------------------------------------------------------------------
def detect_format(path: Path, given: str | None = None) -> Format:
    """The format named by a flag, else by the extension (.spacy) or the first JSONL row."""
    if given:
        if given not in FORMATS:
            raise ValueError(f"unknown format {given!r}; expected one of {', '.join(FORMATS)}")
        return given  # type: ignore[return-value]
    if path.suffix.lower() == ".spacy":
        return "spacy"
    if path.suffix.lower() != ".jsonl":
        raise ValueError(f"{path}: cannot tell the format; use a .jsonl or .spacy file")
    problems: list[Problem] = []
    for _, item in iter_jsonl(path):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        if "spans" in item or "tokens" in item or "_input_hash" in item:
            return "prodigy"
        if any(k in item for k in DOCCANO_SPAN_KEYS):
            return "doccano"
        return "prodigy"
    raise InvalidInput(problems or [Problem(path, 0, "holds no JSON objects", Code.EMPTY)])


def read_doccano(path: Path, strict: bool, report: ConvertReport) -> list[Task]:
    """Tasks from a doccano JSONL file; bad rows raise InvalidInput listing them all."""
    tasks: list[Task] = []
    problems: list[Problem] = []
    for number, item in iter_jsonl(path):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        try:
            task, issues = doccano_to_task(item, str(path), f"line {number}", strict)
        except BadRecord as err:
            problems += [Problem(path, number, f.message, f.code) for f in err.findings]
            continue
        report.issues.extend(issues)
        tasks.append(task)
    if problems:
        raise InvalidInput(problems)
    return tasks


def read_docbin(path: Path, labels: Iterable[str] | None = None) -> list[Doc]:
    """The Docs of a .spacy file; InvalidInput naming the file when it cannot be read,
    is no DocBin, or (given ``labels``) has an entity label outside them."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        problem = Problem(path, 0, f"cannot read file: {err.strerror}", Code.UNREADABLE)
        raise InvalidInput([problem]) from None
    try:
        docs = list(DocBin().from_bytes(data).get_docs(tokenizer().vocab))
    except Exception as err:  # zlib, msgpack and spaCy each fail their own way on a bad file
        message = f"not a spaCy DocBin (.spacy) file: {type(err).__name__}: {err}"
        raise InvalidInput([Problem(path, 0, message, Code.UNREADABLE)]) from None
    if labels is not None:
        known = set(labels)
        problems = [
            Problem(path, 0, f"doc {i} ({doc_article_id(doc)}): entity {ent.text!r} has label "
                    f"{ent.label_!r}; expected one of {sorted(known)}", Code.LABEL)
            for i, doc in enumerate(docs) for ent in doc.ents if ent.label_ not in known
        ]
        if problems:
            raise InvalidInput(problems)
    return docs


def read_any(path: Path, fmt: Format, strict: bool, report: ConvertReport) -> list[Task]:
    """Tasks from a file in any of the three formats."""
    if fmt == "doccano":
        tasks = read_doccano(path, strict, report)
    elif fmt == "spacy":
        tasks = [doc_to_task(doc) for doc in read_docbin(path)]
    else:
        # Any label: conversion serves other label schemes too. Off-boundary spans
        # are for _realign_task to report and snap.
        tasks = read_tasks(path, labels=None, allow=SNAPPABLE)
        tasks = [_realign_task(t, str(path), strict, report) for t in tasks]
    report.read = len(tasks)
    return tasks


def _realign_task(task: Task, file: str, strict: bool, report: ConvertReport) -> Task:
    """A Prodigy task whose spans sit on our tokenizer's token boundaries."""
    spans = [(s["start"], s["end"], s["label"]) for s in task.get("spans", [])]
    example = article_id(task)
    aligned, issues = align_spans(task["text"], spans, file, example, strict)
    report.issues.extend(issues)
    if not issues and task.get("tokens"):
        return task  # already consistent: keep it exactly as written
    fresh = make_task(task["text"], aligned, meta_of(task), task.get("answer", "accept"))
    extra = {k: v for k, v in task.items() if k not in fresh and k != "_task_hash"}
    return set_hashes({**fresh, **extra})


def write_any(path: Path, fmt: Format, tasks: list[Task], report: ConvertReport) -> None:
    """Write tasks in a format; targets without ``answer`` get accepted tasks only."""
    if fmt != "prodigy":
        kept = [t for t in tasks if t.get("answer", "accept") == "accept"]
        for task in tasks:
            if task.get("answer", "accept") != "accept":
                report.skipped.append(
                    f"task {task.get('_input_hash')} has answer {task.get('answer')!r}: "
                    f"{fmt} cannot hold answers, left out"
                )
        tasks = kept
    if fmt == "prodigy":
        write_jsonl(path, tasks)
    elif fmt == "doccano":
        rows = [task_to_doccano(t) for t in tasks]
        write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    else:
        _write_tasks_as_docbin(path, tasks, report)
    report.written = len(tasks)


def _write_tasks_as_docbin(path: Path, tasks: list[Task], report: ConvertReport) -> None:
    """Write tasks as a DocBin, reporting every span snapped on the way."""
    docs = []
    for task in tasks:
        doc, issues = task_to_doc(task, str(path))
        report.issues.extend(issues)
        docs.append(doc)
    write_docbin(path, docs)


def convert(
    src: Path,
    dst: Path,
    src_format: str | None = None,
    dst_format: str | None = None,
    strict: bool = False,
) -> ConvertReport:
    """Convert src to dst; formats from flags, else extensions and content.

    Raises InvalidInput (spans off token boundaries with ``strict``: code
    BOUNDARY) or ValueError before anything is written.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        what = "is a folder, not a file" if src.is_dir() else "no such file"
        raise InvalidInput([Problem(src, 0, what, Code.UNREADABLE)])
    refuse_replacing_inputs([dst], [src])
    report = ConvertReport()
    fmt_in = detect_format(src, src_format)
    fmt_out = _output_format(dst, dst_format)
    tasks = read_any(src, fmt_in, strict, report)
    if strict and report.issues:
        raise misaligned(report.issues)
    write_any(dst, fmt_out, tasks, report)
    return report


def _output_format(path: Path, given: str | None) -> Format:
    """Output format: the flag, else .spacy, else prodigy for .jsonl."""
    if given:
        return detect_format(path, given)
    if path.suffix.lower() == ".spacy":
        return "spacy"
    if path.suffix.lower() == ".jsonl":
        return "prodigy"
    raise ValueError(f"{path}: cannot tell the output format; use .jsonl or .spacy or --to")
