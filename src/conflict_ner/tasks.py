"""The Prodigy task model: the one format annotated examples have at rest.

A task is a plain dict as Prodigy writes it: ``text``, ``meta``, ``tokens``,
``spans``, ``answer``, ``_input_hash``, ``_task_hash`` (plus whatever else
Prodigy or a user put there, which is kept untouched).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conflict_ner.files import BadRecord, Code, Finding, read_records
from conflict_ner.scheme import LABELS

if TYPE_CHECKING:  # spaCy costs seconds to import: only the commands that tokenize pay it
    from spacy.tokenizer import Tokenizer
    from spacy.tokens import Doc

Task = dict[str, Any]
# The longest text we take: spaCy's default ``nlp.max_length``, beyond which its
# tokenizer refuses a text (and memory grows with it); no news article comes near.
MAX_TEXT_CHARS = 1_000_000

# Prodigy's defaults: which keys identify the input and the question asked of it.
INPUT_KEYS = ("text", "image", "html", "input")
TASK_KEYS = ("spans", "label", "options")


@cache
def tokenizer() -> Tokenizer:
    """The tokenizer that defines our tokens, the one our training configs name:
    spaCy's English tokenizer with the splits real news needs
    (``ruler_filters.make_news_tokenizer`` over English's defaults and vocab).

    It is built without a ``Language``: constructing any ``Language`` imports every
    pipeline component that an installed package registers, spacy-transformers among
    them and with it transformers and scikit-learn, 5 of `validate`'s 11 seconds, for a
    tokenizer that uses none of them (tests/test_tasks.py checks it against the blank
    pipeline's).
    """
    from types import SimpleNamespace

    from spacy.lang.en import English
    from spacy.vocab import create_vocab

    from conflict_ner.ruler_filters import make_news_tokenizer

    # The factory reads only these two attributes of the pipeline it is given.
    owner = SimpleNamespace(Defaults=English.Defaults,
                            vocab=create_vocab(English.lang, English.Defaults))
    return make_news_tokenizer()(owner)  # type: ignore[arg-type]


def tokenize(text: str) -> Doc:
    """A text as a Doc of our tokens; like ``nlp(text)``, a ValueError beyond spaCy's
    default ``nlp.max_length`` (MAX_TEXT_CHARS)."""
    if len(text) > MAX_TEXT_CHARS:
        from spacy.errors import Errors

        raise ValueError(Errors.E088.format(length=len(text), max_length=MAX_TEXT_CHARS))
    return tokenizer()(text)


def make_tokens(text: str) -> list[dict[str, Any]]:
    """Prodigy tokens (text, start, end, id, ws) for a text."""
    doc = tokenize(text)
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


def read_tasks(
    path: Path, labels: Iterable[str] | None = LABELS, allow: Collection[Code] = ()
) -> list[Task]:
    """Read and validate a Prodigy JSONL file; raise InvalidInput listing every problem.

    ``labels=None`` accepts any label (for other projects' exports); problems
    whose code is in ``allow`` are let through (``convert`` snaps spans off
    token boundaries instead of refusing them).
    """

    def checked(task: Task) -> Task:
        findings = [f for f in check_task(task, labels) if f.code not in allow]
        if findings:
            raise BadRecord(findings)
        return task

    return read_records(path, checked)


def is_offset(value: Any) -> bool:
    """Whether a value can be a character offset: an int (not a bool, not a float)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_tokens(text: str, tokens: Any) -> list[Finding]:
    # One pass with plain comparisons: a task carries hundreds of tokens and a
    # 10,000-article push validates millions (this loop was most of its own time).
    if not isinstance(tokens, list):
        return [Finding(Code.TOKENS, "'tokens' must be a list")]
    problems: list[Finding] = []
    previous_end, length = 0, len(text)
    for i, tok in enumerate(tokens):
        if not isinstance(tok, dict) or "start" not in tok or "end" not in tok or "text" not in tok:
            return [Finding(Code.TOKENS, f"token {i} needs text, start and end")]
        start, end, tok_text = tok["start"], tok["end"], tok["text"]
        if not (type(start) is int or is_offset(start)) or not (
            type(end) is int or is_offset(end)
        ):
            return [Finding(Code.TOKENS, f"token {i} has non-integer offsets")]
        if start < previous_end or end < start or end > length:
            message = f"token {i} ({start}-{end}) is out of order or outside the text"
            problems.append(Finding(Code.TOKENS, message))
        elif text[start:end] != tok_text:
            problems.append(Finding(
                Code.TOKENS,
                f"token {i} text {tok_text!r} differs from the text at {start}-{end}: "
                f"{text[start:end]!r}",
            ))
        if tok.get("id", i) != i:
            problems.append(Finding(Code.TOKENS, f"token {i} has id {tok.get('id')!r}"))
        if end > previous_end:
            previous_end = end
    return problems


def _check_span(
    i: int,
    span: Any,
    text: str,
    index: tuple[dict[int, int], dict[int, int]] | None,
    labels: set[str] | None,
) -> list[Finding]:
    if not isinstance(span, dict) or not {"start", "end", "label"} <= span.keys():
        return [Finding(Code.SPAN, f"span {i} needs start, end and label")]
    start, end, label = span["start"], span["end"], span["label"]
    name = f"span {i} ({start}-{end} {label})"
    if not (is_offset(start) and is_offset(end)):
        return [Finding(Code.SPAN, f"{name} has non-integer offsets")]
    if not 0 <= start < end <= len(text):
        message = f"{name} is empty, reversed or outside the text (length {len(text)})"
        return [Finding(Code.SPAN, message)]
    if not isinstance(label, str):
        return [Finding(Code.SPAN, f"{name} has a label that is not a string")]
    if not label.strip():
        return [Finding(Code.SPAN, f"{name} has an empty label")]
    problems: list[Finding] = []
    if labels is not None and label not in labels:
        message = f"{name} has unknown label {label!r}; expected one of {sorted(labels)}"
        problems.append(Finding(Code.LABEL, message))
    surface = text[start:end]
    if surface != surface.strip():
        message = f"{name} starts or ends with whitespace: {surface!r}"
        problems.append(Finding(Code.WHITESPACE, message))
    if index:
        starts, ends = index
        if start not in starts or end not in ends:
            message = f"{name} is not on token boundaries: {surface!r}"
            problems.append(Finding(Code.BOUNDARY, message))
        elif span.get("token_start", starts[start]) != starts[start] or (
            span.get("token_end", ends[end]) != ends[end]
        ):
            message = f"{name} has token_start/token_end that disagree with its offsets"
            problems.append(Finding(Code.BOUNDARY, message))
    return problems


def check_task(task: Task, labels: Iterable[str] | None = LABELS) -> list[Finding]:
    """What is wrong with one task (an empty list when it is valid).

    Spans are checked against the task's own tokens when it has them; whether
    they sit on our tokenizer's tokens is ``convert.task_to_doc``'s to say.
    """
    text = task.get("text")
    if not isinstance(text, str):
        return [Finding(Code.SHAPE, "missing 'text' (a string)")]
    if not text.strip():
        return [Finding(Code.EMPTY, "empty text")]
    if len(text) > MAX_TEXT_CHARS:
        return [Finding(Code.TOO_LARGE, f"text of {len(text):,} characters; "
                        f"the limit is {MAX_TEXT_CHARS:,}")]
    problems: list[Finding] = []
    meta = task.get("meta", {})
    if not isinstance(meta, dict):
        problems.append(Finding(Code.SHAPE, "'meta' must be an object"))
    elif not isinstance(meta.get("article_id", ""), str):
        problems.append(Finding(Code.SHAPE, "'meta.article_id' must be a string"))
    tokens = task.get("tokens")
    token_problems = _check_tokens(text, tokens) if tokens is not None else []
    problems += token_problems
    spans = task.get("spans", [])
    if not isinstance(spans, list):
        return [*problems, Finding(Code.SHAPE, "'spans' must be a list")]
    label_set = set(labels) if labels is not None else None
    # The token index once per task: rebuilt per span it made validation quadratic.
    index = (
        token_index(tokens) if isinstance(tokens, list) and tokens and not token_problems else None
    )
    for i, span in enumerate(spans):
        problems += _check_span(i, span, text, index, label_set)
    problems += _check_overlaps(spans)
    return problems


def _check_overlaps(spans: list[Any]) -> list[Finding]:
    valid = [
        s for s in spans
        if isinstance(s, dict) and is_offset(s.get("start")) and is_offset(s.get("end"))
    ]
    ordered = sorted(valid, key=lambda s: (s["start"], s["end"]))
    return [
        Finding(Code.OVERLAP, f"spans overlap: {a['start']}-{a['end']} {a.get('label')} and "
                f"{b['start']}-{b['end']} {b.get('label')}")
        for a, b in pairwise(ordered)
        if b["start"] < a["end"]
    ]
