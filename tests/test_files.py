"""The one JSONL reader (every bad line a Problem with a code), atomic writes and
the one rule for names that become file names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conflict_ner import files
from conflict_ner.files import (
    Code,
    InvalidInput,
    Problem,
    iter_jsonl,
    read_records,
    safe_file_name,
    write_jsonl,
)

GOOD = json.dumps({"text": "YPG."}).encode()


def read(path: Path, content: bytes) -> list[tuple[int, Code | dict]]:
    """(line, Code of the Problem or the object) for each line of ``content``."""
    path.write_bytes(content)
    return [
        (n, item.code if isinstance(item, Problem) else item) for n, item in iter_jsonl(path)
    ]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"[" * 100_000 + b"]" * 100_000, Code.JSON),  # a RecursionError unchecked
        (b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}", Code.JSON),
        (b'{"a": "' + b"]" * 20 + b'", "b": ' + b"[" * 3000 + b"]" * 3000 + b"}", Code.JSON),
        (b'{"start": NaN}', Code.JSON),
        (b'{"start": -Infinity}', Code.JSON),
        (b'{"start": ' + b"9" * 5000 + b"}", Code.JSON),
        (b'{"text": "\\ud800"}', Code.ENCODING),
        (b'{"text": "caf\xe9"}', Code.ENCODING),
        (b'"just a string"', Code.SHAPE),
        (b"null", Code.SHAPE),
        (b"{", Code.JSON),
        (b"\xef\xbb\xbf" + GOOD, Code.JSON),  # a BOM is skipped at the start of a file only
    ],
)
def test_every_bad_line_is_a_problem_with_its_code(tmp_path: Path, line: bytes, code) -> None:
    assert read(tmp_path / "x.jsonl", GOOD + b"\n" + line + b"\n" + GOOD) == [
        (1, {"text": "YPG."}), (2, code), (3, {"text": "YPG."})
    ]  # fmt: skip


def test_a_byte_order_mark_starting_the_file_is_skipped(tmp_path: Path) -> None:
    assert read(tmp_path / "x.jsonl", b"\xef\xbb\xbf" + GOOD + b"\r\n") == [(1, {"text": "YPG."})]


def test_surrogate_pairs_as_prodigy_writes_emoji_are_fine(tmp_path: Path) -> None:
    [(_, task)] = read(tmp_path / "x.jsonl", b'{"text": "\\ud83d\\ude00 YPG"}')
    assert task == {"text": "\U0001f600 YPG"}


def test_an_overlong_line_is_skipped_unread(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(files, "MAX_LINE_BYTES", 64)
    long = json.dumps({"text": "x" * 200}).encode()
    assert read(tmp_path / "x.jsonl", GOOD + b"\n" + long + b"\n" + GOOD + b"\n" + long) == [
        (1, {"text": "YPG."}), (2, Code.TOO_LARGE), (3, {"text": "YPG."}), (4, Code.TOO_LARGE)
    ]  # fmt: skip


def test_unreadable_files_are_a_problem(tmp_path: Path) -> None:
    assert [(n, p.code) for n, p in iter_jsonl(tmp_path / "missing.jsonl")] == [
        (0, Code.UNREADABLE)
    ]
    assert [(n, p.code) for n, p in iter_jsonl(tmp_path)] == [(0, Code.UNREADABLE)]


def number(record: dict) -> int:
    """A record's "n", or a ValueError (a problem of its line)."""
    if "n" not in record:
        raise ValueError("needs an 'n'")
    return int(record["n"])


def test_a_folder_reads_as_its_jsonl_files_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_bytes(b'{"n": 3}\n')
    (tmp_path / "a.JSONL").write_bytes(b'{"n": 1}\n\n{"n": 2}\n')
    assert read_records(tmp_path, number) == [1, 2, 3]
    # A file named on its own is read whatever its name, as ever.
    (tmp_path / "c.txt").write_bytes(b'{"n": 4}\n')
    assert read_records(tmp_path / "c.txt", number) == [4]


def test_a_folder_names_the_file_and_line_and_refuses_what_it_does_not_read(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.jsonl").write_bytes(b'{"n": 1}\n')
    (tmp_path / "b.jsonl").write_bytes(b'{"n": 2}\n{oops\n{"m": 3}\n')
    (tmp_path / "notes.md").write_text("no gold here")
    (tmp_path / "sub").mkdir()
    with pytest.raises(InvalidInput) as err:
        read_records(tmp_path, number)
    assert [(p.path, p.line, p.code) for p in err.value.problems] == [
        (tmp_path / "b.jsonl", 2, Code.JSON),
        (tmp_path / "b.jsonl", 3, Code.SHAPE),
        (tmp_path / "notes.md", 0, Code.NOT_READ),
        (tmp_path / "sub", 0, Code.NOT_READ),
    ]
    assert f"{tmp_path / 'b.jsonl'}:3: needs an 'n'" in str(err.value)
    with pytest.raises(InvalidInput, match=r"folder holds no \.jsonl files"):
        read_records(tmp_path / "sub", number)


@pytest.mark.parametrize(
    "name",
    ["../../x", "..", ".", "", "/etc/passwd", "a/b", "a\\b", "a\x00b", ".hidden", "x" * 300,
     "ü" * 80, "[/x]", "con:1"],
)
def test_a_name_becomes_one_file_name_inside_its_folder(tmp_path: Path, name: str) -> None:
    safe = safe_file_name(name)
    assert safe and "/" not in safe and "\\" not in safe and not safe.startswith(".")
    assert len(safe.encode()) <= 120
    target = tmp_path / f"{safe}.html"
    target.write_text("x")  # a real file name the system takes
    assert target.resolve().parent == tmp_path.resolve()


def test_ordinary_names_are_kept_and_changed_ones_never_collide() -> None:
    for name in ("0a6a9b97a50ef37f", "alice", "bob.smith@example.org", "a-b_c+d"):
        assert safe_file_name(name) == name
    assert safe_file_name("a/b") != safe_file_name("a_b") != safe_file_name("a:b")


def test_writes_are_atomic_and_leave_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "out" / "x.jsonl"
    write_jsonl(path, [{"text": "YPG."}])
    with pytest.raises(TypeError):
        write_jsonl(path, [{"text": object()}])
    assert path.read_text() == '{"text":"YPG."}\n'
    assert [p.name for p in path.parent.iterdir()] == ["x.jsonl"]
