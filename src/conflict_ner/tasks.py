"""The Prodigy task model: the one format annotated examples have at rest.

A task is a plain dict as Prodigy writes it: ``text``, ``meta``, ``tokens``,
``spans``, ``answer``, ``_input_hash``, ``_task_hash`` (plus whatever else
Prodigy or a user put there, which is kept untouched).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import spacy
from spacy.language import Language

from conflict_ner.scheme import LABELS

Task = dict[str, Any]
T = TypeVar("T")

# Prodigy's defaults: which keys identify the input and the question asked of it.
INPUT_KEYS = ("text", "image", "html", "input")
TASK_KEYS = ("spans", "label", "options")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one line of an input file."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


class InvalidInput(ValueError):
    """Raised when an input file has problems; carries every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@cache
def tokenizer() -> Language:
    """The blank English pipeline whose tokenizer defines our tokens."""
    return spacy.blank("en")


def make_tokens(text: str) -> list[dict[str, Any]]:
    """Prodigy tokens (text, start, end, id, ws) for a text."""
    doc = tokenizer()(text)
    return [
        {
            "text": tok.text,
            "start": tok.idx,
            "end": tok.idx + len(tok.text),
            "id": tok.i,
            "ws": bool(tok.whitespace_),
        }
        for tok in doc
    ]


def _stable_int(payload: Any) -> int:
    """A signed 32-bit int from JSON-serialisable data, the shape of Prodigy's hashes."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=True).encode("utf8")
    return int.from_bytes(hashlib.sha1(blob).digest()[:4], "big", signed=True)


def input_hash(task: Task) -> int:
    """Hash of what is annotated (the text), stable across annotations."""
    return _stable_int({k: task[k] for k in INPUT_KEYS if k in task})


def task_hash(task: Task) -> int:
    """Hash of the input plus the question asked (its spans or label)."""
    payload = {k: task[k] for k in TASK_KEYS if k in task}
    payload["_input_hash"] = task.get("_input_hash", input_hash(task))
    return _stable_int(payload)


def set_hashes(task: Task, overwrite: bool = False) -> Task:
    """Add ``_input_hash`` and ``_task_hash`` unless present (as Prodigy does)."""
    if overwrite or "_input_hash" not in task:
        task["_input_hash"] = input_hash(task)
    if overwrite or "_task_hash" not in task:
        task["_task_hash"] = task_hash(task)
    return task


def token_index(tokens: list[dict[str, Any]]) -> tuple[dict[int, int], dict[int, int]]:
    """Maps from character start and end offsets to token ids."""
    starts = {t["start"]: i for i, t in enumerate(tokens)}
    ends = {t["end"]: i for i, t in enumerate(tokens)}
    return starts, ends


def make_span(
    start: int, end: int, label: str, tokens: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """A Prodigy span; raises ValueError when it is off token boundaries."""
    starts, ends = token_index(tokens)
    if start not in starts or end not in ends:
        raise ValueError(f"span {start}-{end} ({label}) is not on token boundaries")
    return {
        "start": start,
        "end": end,
        "token_start": starts[start],
        "token_end": ends[end],
        "label": label,
        **extra,
    }


def make_task(
    text: str,
    spans: Iterable[tuple[int, int, str]],
    meta: dict[str, Any],
    answer: str = "accept",
) -> Task:
    """A complete Prodigy NER task with tokens, token-aligned spans and hashes."""
    tokens = make_tokens(text)
    task: Task = {
        "text": text,
        "meta": meta,
        "tokens": tokens,
        "spans": [make_span(s, e, label, tokens) for s, e, label in sorted(spans)],
        "answer": answer,
    }
    return set_hashes(task)


def iter_jsonl(path: Path) -> Iterator[tuple[int, Task | Problem]]:
    """Each non-empty line of a JSONL file as (line number, object or Problem)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        yield 0, Problem(Path(path), 0, f"cannot read file: {err.strerror}")
        return
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf8"))
        except UnicodeDecodeError as err:
            yield number, Problem(path, number, f"not UTF-8 (byte {err.start}): {err.reason}")
            continue
        except json.JSONDecodeError as err:
            yield number, Problem(path, number, f"malformed JSON: {err.msg} (column {err.colno})")
            continue
        if not isinstance(obj, dict):
            yield number, Problem(path, number, f"expected a JSON object, got {type(obj).__name__}")
            continue
        yield number, obj


def read_records(path: Path, parse: Callable[[Task], T]) -> list[T]:
    """Every line of a JSONL file through ``parse``; raise InvalidInput listing all problems.

    ``parse`` raises ValueError with a message for a record it cannot take.
    """
    records: list[T] = []
    problems: list[Problem] = []
    for number, item in iter_jsonl(Path(path)):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        try:
            records.append(parse(item))
        except ValueError as err:
            problems.extend(Problem(Path(path), number, str(m)) for m in err.args or [err])
    if problems:
        raise InvalidInput(problems)
    return records


def read_tasks(
    path: Path, labels: Iterable[str] | None = LABELS, check: bool = True
) -> list[Task]:
    """Read and (by default) validate a Prodigy JSONL file; raise InvalidInput on any problem.

    ``labels=None`` accepts any label (for other projects' exports).
    """

    def checked(task: Task) -> Task:
        problems = check_task(task, labels) if check else []
        if problems:
            raise ValueError(*problems)
        return task

    return read_records(path, checked)


def validate_file(path: Path, labels: Iterable[str] | None = LABELS) -> list[Problem]:
    """Every problem in a Prodigy JSONL file (an empty list when it is valid)."""
    path = Path(path)
    if not path.is_file():
        return [Problem(path, 0, "no such file")]
    try:
        tasks = read_tasks(path, labels)
    except InvalidInput as err:
        return err.problems
    if not tasks:
        return [Problem(path, 0, "the file holds no tasks")]
    return []


def _check_tokens(text: str, tokens: Any) -> list[str]:
    if not isinstance(tokens, list):
        return ["'tokens' must be a list"]
    problems: list[str] = []
    previous_end = 0
    for i, tok in enumerate(tokens):
        if not isinstance(tok, dict) or not {"text", "start", "end"} <= tok.keys():
            return [f"token {i} needs text, start and end"]
        start, end = tok["start"], tok["end"]
        if not (isinstance(start, int) and isinstance(end, int)):
            return [f"token {i} has non-integer offsets"]
        if start < previous_end or end < start or end > len(text):
            problems.append(f"token {i} ({start}-{end}) is out of order or outside the text")
        elif text[start:end] != tok["text"]:
            problems.append(
                f"token {i} text {tok['text']!r} differs from the text at {start}-{end}: "
                f"{text[start:end]!r}"
            )
        if tok.get("id", i) != i:
            problems.append(f"token {i} has id {tok.get('id')}")
        previous_end = max(previous_end, end)
    return problems


def _check_span(
    i: int,
    span: Any,
    text: str,
    index: tuple[dict[int, int], dict[int, int]] | None,
    labels: set[str] | None,
) -> list[str]:
    if not isinstance(span, dict) or not {"start", "end", "label"} <= span.keys():
        return [f"span {i} needs start, end and label"]
    start, end, label = span["start"], span["end"], span["label"]
    name = f"span {i} ({start}-{end} {label})"
    if not (isinstance(start, int) and isinstance(end, int)):
        return [f"{name} has non-integer offsets"]
    if not 0 <= start < end <= len(text):
        return [f"{name} is outside the text (length {len(text)}) or empty"]
    if not isinstance(label, str):
        return [f"{name} has a label that is not a string"]
    problems: list[str] = []
    if labels is not None and label not in labels:
        problems.append(f"{name} has unknown label {label!r}; expected one of {sorted(labels)}")
    surface = text[start:end]
    if surface != surface.strip():
        problems.append(f"{name} starts or ends with whitespace: {surface!r}")
    if index:
        starts, ends = index
        if start not in starts or end not in ends:
            problems.append(f"{name} is not on token boundaries: {surface!r}")
        elif ("token_start" in span and span["token_start"] != starts[start]) or (
            "token_end" in span and span["token_end"] != ends[end]
        ):
            problems.append(f"{name} has token_start/token_end that disagree with its offsets")
    return problems


def check_task(task: Task, labels: Iterable[str] | None = LABELS) -> list[str]:
    """What is wrong with one task, as messages (empty when it is valid)."""
    text = task.get("text")
    if not isinstance(text, str):
        return ["missing 'text' (a string)"]
    if not text.strip():
        return ["empty text"]
    problems: list[str] = []
    tokens = task.get("tokens")
    if tokens is not None:
        problems += _check_tokens(text, tokens)
    spans = task.get("spans", [])
    if not isinstance(spans, list):
        return [*problems, "'spans' must be a list"]
    label_set = set(labels) if labels is not None else None
    # The token index once per task: rebuilt per span it made validation quadratic.
    index = token_index(tokens) if isinstance(tokens, list) and tokens and not problems else None
    for i, span in enumerate(spans):
        problems += _check_span(i, span, text, index, label_set)
    problems += _check_overlaps(spans)
    return problems


def _check_overlaps(spans: list[Any]) -> list[str]:
    valid = [
        s for s in spans
        if isinstance(s, dict) and isinstance(s.get("start"), int) and isinstance(s.get("end"), int)
    ]
    ordered = sorted(valid, key=lambda s: (s["start"], s["end"]))
    return [
        f"spans overlap: {a['start']}-{a['end']} {a.get('label')} and "
        f"{b['start']}-{b['end']} {b.get('label')}"
        for a, b in pairwise(ordered)
        if b["start"] < a["end"]
    ]


def dumps(task: Task) -> str:
    """One JSONL line exactly as Prodigy writes it (compact, ASCII-escaped)."""
    return json.dumps(task, separators=(",", ":"), ensure_ascii=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a file through a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes the file 0600; outputs get the usual permissions.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, content: str) -> None:
    """Write a UTF-8 text file atomically (see ``write_bytes_atomic``)."""
    write_bytes_atomic(path, content.encode("utf8"))


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Write records as JSONL atomically, in Prodigy's own serialisation."""
    write_text_atomic(path, "".join(dumps(r) + "\n" for r in records))
