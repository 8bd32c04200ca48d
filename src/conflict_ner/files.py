"""Reading input files and writing output files: the one JSONL reader, which
turns every bad line into a ``Problem`` (file, line, what is wrong), and atomic
writes, so that no output is ever half-written."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


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


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
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


def read_records(path: Path, parse: Callable[[dict[str, Any]], T]) -> list[T]:
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


def dumps(record: dict[str, Any]) -> str:
    """One JSONL line exactly as Prodigy writes it (compact, ASCII-escaped)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True)


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
