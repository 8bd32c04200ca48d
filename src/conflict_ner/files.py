"""Reading input files and writing output files: the one rule for the files a
folder given as input stands for (``input_files``), the one JSONL reader, which
turns every bad line into a ``Problem`` (file, line, what is wrong), atomic
writes, so that no output is ever half-written, and the one rule for names
that become file names (``safe_file_name``)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

T = TypeVar("T")

# One JSONL line longer than this is refused unread: a Prodigy task of the
# longest text spaCy takes (1,000,000 characters) with its tokens is about 12 MB.
MAX_LINE_BYTES = 32 * 1024 * 1024
# JSON nested deeper than this is refused before parsing: our records nest 4
# levels, and Python's parser and everything after it recurse per level.
MAX_NESTING = 64
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# A \uD800-\uDFFF escape: half of a surrogate pair, or a lone one no file can hold.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
BOM = b"\xef\xbb\xbf"
# Characters a name keeps when it becomes a file name; every other becomes "_".
_UNSAFE_IN_NAME = re.compile(r"[^\w.@+-]")
MAX_NAME_BYTES = 100


class Code(StrEnum):
    """What kind of problem a ``Problem`` is; callers select problems by code,
    never by their message text."""

    UNREADABLE = "unreadable"  # missing, a folder, no permission, not the format it claims
    ENCODING = "encoding"  # bytes that are not UTF-8, or text no UTF-8 file can hold
    JSON = "json"  # a line that is not JSON, or JSON nested too deeply
    TOO_LARGE = "too-large"  # a line or a text beyond the limits
    SHAPE = "shape"  # a record of the wrong shape: not an object, a field missing or mistyped
    EMPTY = "empty"  # a file, text or record with nothing in it
    TOKENS = "tokens"  # tokens that are malformed or disagree with the text
    SPAN = "span"  # a malformed span: offsets not integers, outside the text, empty
    LABEL = "label"  # a label outside the scheme
    BOUNDARY = "boundary"  # a span off token boundaries
    WHITESPACE = "whitespace"  # a span starting or ending with whitespace
    OVERLAP = "overlap"  # spans that overlap
    NOT_READ = "not-read"  # a file or folder inside an input folder that is not of a kind read


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a record, before it is placed at a file and line."""

    code: Code
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one line of an input file (line 0: the file as a whole)."""

    path: Path
    line: int
    message: str
    code: Code = Code.SHAPE

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


class InvalidInput(ValueError):
    """Raised when an input file has problems; carries every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class BadRecord(ValueError):
    """Raised by a record parser (see ``read_records``) with every finding about one record."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__("; ".join(map(str, findings)))


def _reads(path: Path, suffixes: tuple[str, ...]) -> bool:
    return path.suffix.lower() in suffixes


def input_files(paths: Iterable[Path], suffixes: tuple[str, ...]) -> Iterator[Path | Problem]:
    """The files that paths given as input stand for: a file with one of ``suffixes``
    (any case) itself, a folder's files with them in name order (one level deep).

    Problems for a path that is missing or of another kind and for a folder without
    such files; a Problem with code NOT_READ for each thing a folder holds that is
    not read (a subfolder, a file of another kind), for the caller to warn or refuse.
    """
    kinds = " or ".join(suffixes)
    for path in map(Path, paths):
        if path.is_dir():
            entries = sorted(path.iterdir())
            files = [p for p in entries if p.is_file() and _reads(p, suffixes)]
            if not files:
                yield Problem(path, 0, f"folder holds no {kinds} files", Code.EMPTY)
            yield from files
            for other in entries:
                if other.is_dir():
                    yield Problem(other, 0, "a folder inside a folder (not searched)",
                                  Code.NOT_READ)
                elif not _reads(other, suffixes):
                    yield Problem(other, 0, f"not a {kinds} file", Code.NOT_READ)
        elif _reads(path, suffixes) and path.is_file():
            yield path
        elif not path.exists():
            yield Problem(path, 0, "no such file or folder", Code.UNREADABLE)
        else:
            message = f"expected a {kinds} file, or a folder of them"
            yield Problem(path, 0, message, Code.UNREADABLE)


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(number, line) for each line, with None for a line over MAX_LINE_BYTES (skipped unread)."""
    number = 0
    while chunk := handle.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(chunk) <= MAX_LINE_BYTES or chunk.endswith(b"\n"):
            yield number, chunk
            continue
        while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
        yield number, None


def _nested_deeper_than(line: bytes, limit: int) -> bool:
    """Whether the brackets of a JSON line nest deeper than ``limit`` (brackets inside
    strings count too: an overestimate, never an underestimate that matters)."""
    brackets = line.translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        inner = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if inner == brackets:
            return False
        brackets = inner
    return brackets.replace(b"[]", b"").replace(b"{}", b"") != brackets


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_line(line: bytes) -> dict[str, Any] | Finding:
    """One JSONL line as a JSON object, or the Finding saying why it is not one."""
    try:
        text = line.decode("utf8")
    except UnicodeDecodeError as err:
        return Finding(Code.ENCODING, f"not UTF-8 (byte {err.start}): {err.reason}")
    if _nested_deeper_than(line, MAX_NESTING):
        return Finding(Code.JSON, f"JSON nested deeper than {MAX_NESTING} levels")
    try:
        obj = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        return Finding(Code.JSON, f"malformed JSON: {err.msg} (column {err.colno})")
    except (ValueError, RecursionError) as err:  # NaN, a 5,000-digit number, deep nesting
        return Finding(Code.JSON, f"malformed JSON: {err}")
    if not isinstance(obj, dict):
        return Finding(Code.SHAPE, f"expected a JSON object, got {type(obj).__name__}")
    if _SURROGATE_ESCAPE.search(line) and not _encodable(obj):
        return Finding(Code.ENCODING, "holds a lone surrogate escape (\\ud800-\\udfff)")
    return obj


def _encodable(obj: dict[str, Any]) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf8")
    except UnicodeEncodeError:
        return False
    return True


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    """Each non-empty line of a JSONL file as (line number, object or Problem).

    A UTF-8 byte order mark at the start is skipped. Every way a line can be
    wrong (encoding, JSON, nesting, size, not an object) is a Problem; this
    raises nothing for any content.
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as err:
        yield 0, Problem(path, 0, f"cannot read file: {err.strerror}", Code.UNREADABLE)
        return
    with handle:
        try:
            for number, line in _lines(handle):
                if line is None:
                    message = f"line longer than {MAX_LINE_BYTES // 2**20} MiB: not read"
                    yield number, Problem(path, number, message, Code.TOO_LARGE)
                    continue
                if number == 1 and line.startswith(BOM):
                    line = line[len(BOM) :]
                if not line.strip():
                    continue
                item = parse_line(line)
                if isinstance(item, Finding):
                    yield number, Problem(path, number, item.message, item.code)
                else:
                    yield number, item
        except OSError as err:  # a folder, or a read error midway
            yield 0, Problem(path, 0, f"cannot read file: {err.strerror}", Code.UNREADABLE)


def iter_records(path: Path) -> Iterator[tuple[Path, int, dict[str, Any] | Problem]]:
    """Each non-empty line of a JSONL input as (file, line number, object or Problem):
    a file (whatever its name), or a folder's .jsonl files in name order
    (``input_files``), where anything else the folder holds is a Problem (NOT_READ):
    no record is left out unseen."""
    path = Path(path)
    for file in input_files([path], (".jsonl",)) if path.is_dir() else [path]:
        if isinstance(file, Problem):
            yield file.path, file.line, file
            continue
        for number, item in iter_jsonl(file):
            yield file, number, item


def read_records(path: Path, parse: Callable[[dict[str, Any]], T]) -> list[T]:
    """Every line of a JSONL file, or of a folder's .jsonl files (``iter_records``),
    through ``parse``; raise InvalidInput listing all problems (file and line).

    ``parse`` raises BadRecord (or ValueError, a SHAPE problem) for a record it
    cannot take.
    """
    records: list[T] = []
    problems: list[Problem] = []
    for file, number, item in iter_records(path):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        try:
            records.append(parse(item))
        except BadRecord as err:
            problems += [Problem(file, number, f.message, f.code) for f in err.findings]
        except ValueError as err:
            problems.append(Problem(file, number, str(err)))
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


def make_folder(folder: Path) -> None:
    """Create ``folder`` and its parents; NotADirectoryError naming the file in the
    way when a part of the path is a file (mkdir's own error blames "exists")."""
    for part in (folder, *folder.parents):
        if part.exists() and not part.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(part))
        if part.is_dir():
            break
    folder.mkdir(parents=True, exist_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a file through a temporary file and a rename: never half-written."""
    path = Path(path)
    make_folder(path.parent)
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


def refuse_replacing_inputs(outputs: Iterable[Path], inputs: Iterable[Path]) -> None:
    """Raise ValueError when an output would replace one of the inputs (the same
    file by any name, or a file inside an input folder), before anything is read."""
    files: dict[str, Path] = {}
    for item in map(Path, inputs):
        for path in (item.rglob("*") if item.is_dir() else [item]):
            if path.is_file():
                files[os.path.realpath(path)] = path
    for output in outputs:
        source = files.get(os.path.realpath(output))
        if source is not None:
            raise ValueError(f"{output}: would replace the input {source}; "
                             "write the output somewhere else")


def refuse_output_folder_in_inputs(out: Path, names: Iterable[str],
                                   inputs: Iterable[Path]) -> None:  # fmt: skip
    """Raise ValueError, before anything is read, when the output folder is an input
    folder or lies inside one (a model's folder), or when one of the files it is to
    hold (``names``) would replace an input."""
    inputs = [Path(p) for p in inputs]
    real_out = os.path.realpath(out)
    for item in inputs:
        real_in = os.path.realpath(item)
        if real_out == real_in:
            raise ValueError(f"{out}: is the input {item}; write the output somewhere else")
        if item.is_dir() and real_out.startswith(real_in + os.sep):
            raise ValueError(f"{out}: is inside the input folder {item}; "
                             "write the output somewhere else")
    refuse_replacing_inputs([Path(out) / name for name in names], inputs)


def safe_file_name(name: str) -> str:
    """A name (an article id, a user name) as one file name that stays in its folder.

    A name of letters, digits and ``_.@+-`` is kept as it is; any other (with a
    ``/``, starting with a dot, empty or over MAX_NAME_BYTES) has the other
    characters replaced by ``_`` and a hash of the original added, so that two
    names never share a file.
    """
    cleaned = _UNSAFE_IN_NAME.sub("_", name)
    if cleaned == name and name[:1] not in ("", ".") and len(name.encode()) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(name.encode("utf8", "surrogatepass")).hexdigest()[:12]
    stem = cleaned.lstrip(".").encode()[:MAX_NAME_BYTES].decode("utf8", "ignore")
    return f"{stem}-{digest}" if stem else digest
