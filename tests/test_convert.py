"""Conversions between doccano JSONL, Prodigy JSONL and .spacy (no server needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from conflict_ner import convert
from conflict_ner.cli.convert import convert as convert_cmd
from conflict_ner.files import Code, InvalidInput, write_jsonl
from conflict_ner.tasks import make_task, read_tasks

TEXT = "The YPG-held town of al-Hasakah's north was shelled by ISIS."


def _write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf8")
    return path


def _spans(task: dict) -> list[tuple[int, int, str]]:
    return [(s["start"], s["end"], s["label"]) for s in task["spans"]]


def test_gold_round_trips_through_spacy_unchanged(root: Path, tmp_path: Path) -> None:
    gold = root / "corpus" / "gold.jsonl"
    convert.convert(gold, tmp_path / "gold.spacy")
    report = convert.convert(tmp_path / "gold.spacy", tmp_path / "back.jsonl")
    assert report.issues == [] and report.read == report.written
    assert read_tasks(tmp_path / "back.jsonl") == read_tasks(gold)


def test_gold_round_trips_through_doccano(root: Path, tmp_path: Path) -> None:
    gold = root / "corpus" / "gold.jsonl"
    convert.convert(gold, tmp_path / "doccano.jsonl", dst_format="doccano")
    rows = [json.loads(line) for line in (tmp_path / "doccano.jsonl").read_text().splitlines()]
    assert all({"text", "label", "article_id"} <= row.keys() for row in rows)
    convert.convert(tmp_path / "doccano.jsonl", tmp_path / "back.jsonl")
    back, original = read_tasks(tmp_path / "back.jsonl"), read_tasks(gold)
    assert [_spans(t) for t in back] == [_spans(t) for t in original]
    assert [t["_input_hash"] for t in back] == [t["_input_hash"] for t in original]
    assert [t["meta"] for t in back] == [t["meta"] for t in original]


def test_span_off_token_boundaries_is_reported_and_expanded(tmp_path: Path) -> None:
    src = _write_rows(tmp_path / "d.jsonl", [{"text": TEXT, "label": [[4, 6, "FACTION"]]}])
    report = convert.convert(src, tmp_path / "p.jsonl")
    [issue] = report.issues
    assert (issue.file, issue.example, issue.start, issue.end, issue.text) == (
        str(src), "line 1", 4, 6, "YP"
    )  # fmt: skip
    assert "expanded to 4-7 'YPG'" in issue.action
    assert _spans(read_tasks(tmp_path / "p.jsonl")[0]) == [(4, 7, "FACTION")]


def test_strict_rejects_and_writes_nothing(tmp_path: Path) -> None:
    src = _write_rows(tmp_path / "d.jsonl", [{"text": TEXT, "label": [[4, 6, "FACTION"]]}])
    with pytest.raises(InvalidInput) as err:
        convert.convert(src, tmp_path / "p.jsonl", strict=True)
    assert "rejected" in str(err.value)
    assert [p.code for p in err.value.problems] == [Code.BOUNDARY]
    assert not (tmp_path / "p.jsonl").exists()


def test_overlap_after_snapping_keeps_longer_and_says_so(tmp_path: Path) -> None:
    # 22-25 "l-H" expands to 21-31, the span already there; 24-33 "Hasakah's" is
    # on boundaries but overlaps it.
    rows = [{"text": TEXT, "label": [[21, 31, "PLACE"], [22, 25, "PLACE"], [24, 33, "PLACE"]]}]
    report = convert.convert(_write_rows(tmp_path / "d.jsonl", rows), tmp_path / "p.jsonl")
    assert _spans(read_tasks(tmp_path / "p.jsonl")[0]) == [(21, 31, "PLACE")]
    actions = [i.action for i in report.issues]
    assert any("duplicates another span" in a for a in actions)
    assert any("overlaps 21-31" in a for a in actions)


def test_rejected_answers_are_left_out_of_spacy_with_a_note(tmp_path: Path) -> None:
    tasks = [make_task(TEXT, [(4, 7, "FACTION")], {"n": 1}), make_task(TEXT, [], {"n": 2})]
    tasks[1]["answer"] = "reject"
    write_jsonl(tmp_path / "p.jsonl", tasks)
    report = convert.convert(tmp_path / "p.jsonl", tmp_path / "out.spacy")
    assert report.written == 1 and len(report.skipped) == 1 and "reject" in report.skipped[0]


def test_format_detection(tmp_path: Path) -> None:
    doccano = _write_rows(tmp_path / "a.jsonl", [{"text": TEXT, "label": []}])
    prodigy = _write_rows(tmp_path / "b.jsonl", [make_task(TEXT, [], {})])
    assert convert.detect_format(doccano) == "doccano"
    assert convert.detect_format(prodigy) == "prodigy"
    assert convert.detect_format(tmp_path / "c.spacy") == "spacy"
    with pytest.raises(ValueError):
        convert.detect_format(tmp_path / "c.csv")


def test_cli_convert_exit_codes(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(convert_cmd)
    src = _write_rows(tmp_path / "d.jsonl", [{"text": TEXT, "label": [[4, 6, "FACTION"]]}])
    ok = CliRunner().invoke(app, [str(src), str(tmp_path / "out.spacy")])
    assert ok.exit_code == 0, ok.output
    assert "expanded" in ok.output
    strict = CliRunner().invoke(app, [str(src), str(tmp_path / "s.jsonl"), "--strict"])
    assert strict.exit_code == 1 and not (tmp_path / "s.jsonl").exists()
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "x", "label": [[0, 1, "PLACE"]]}\n{not json\n')
    bad = CliRunner().invoke(app, [str(broken), str(tmp_path / "b.jsonl")])
    assert bad.exit_code == 1 and "malformed JSON" in bad.output


@pytest.mark.parametrize(
    ("name", "line", "expected"),
    [
        ("d.jsonl", json.dumps({"text": TEXT, "label": [[18, 12, "PLACE"]]}), "reversed"),
        ("d.jsonl", json.dumps({"text": TEXT, "label": [[5, 2000, "PLACE"]]}), "outside"),
        ("d.jsonl", json.dumps({"text": TEXT, "label": [[13, 13, "PLACE"]]}), "empty"),
        ("p.jsonl", json.dumps({"text": TEXT, "spans": [{"start": 4, "end": 7}]}),
         "needs start, end and label"),
        ("p.jsonl", json.dumps({"text": TEXT, "spans": [{"start": 4, "end": 7, "label": ["X"]}]}),
         "not a string"),
        ("d.jsonl", json.dumps({"text": TEXT, "label": 5}), "'label' must be a list"),
        ("d.jsonl", json.dumps({"text": TEXT, "label": [[4.0, 7.9, "PLACE"]]}), "non-integer"),
        ("d.jsonl", json.dumps({"text": TEXT, "label": [[4, 7, 5]]}), "not a string"),
        ("d.jsonl", json.dumps({"text": TEXT, "label": ["4-7"]}), "not a doccano span"),
        ("d.jsonl", json.dumps({"text": 5, "label": []}), "'text'"),
        ("p.jsonl", json.dumps({"text": TEXT, "tokens": "abc", "spans": []}), "'tokens'"),
        ("p.jsonl", json.dumps({"text": TEXT, "spans": [{"start": 4.5, "end": 7, "label": "X"}]}),
         "non-integer"),
        ("p.jsonl", "[" * 100_000 + "]" * 100_000, "nested deeper"),
    ],
)
def test_cli_convert_bad_spans_name_file_and_line(
    tmp_path: Path, name: str, line: str, expected: str
) -> None:
    app = typer.Typer()
    app.command()(convert_cmd)
    good = json.dumps({"text": TEXT, "label": [[4, 7, "FACTION"]]})
    if name == "p.jsonl":
        good = json.dumps(make_task(TEXT, [(4, 7, "FACTION")], {}))
    src = tmp_path / name
    src.write_text(good + "\n" + line + "\n", encoding="utf8")
    out = tmp_path / "out.spacy"
    result = CliRunner().invoke(app, [str(src), str(out)])
    assert result.exit_code == 1, result.output
    assert f"{src}:2" in result.output and expected in result.output
    assert not out.exists()


def test_a_missing_input_is_named_as_missing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        convert.convert(tmp_path / "missing.jsonl", tmp_path / "out.jsonl")
    [problem] = err.value.problems
    assert (problem.path, problem.code) == (tmp_path / "missing.jsonl", Code.UNREADABLE)
    assert "no such file" in problem.message


def test_the_output_never_replaces_the_input(tmp_path: Path) -> None:
    src = _write_rows(tmp_path / "d.jsonl", [{"text": TEXT, "label": [[4, 6, "FACTION"]]}])
    before = src.read_bytes()
    with pytest.raises(ValueError, match="would replace the input"):
        convert.convert(src, tmp_path / "." / "d.jsonl")
    assert src.read_bytes() == before


def test_a_corrupt_spacy_file_is_named(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.spacy"
    corrupt.write_bytes(b"\x00not a docbin" * 10)
    with pytest.raises(InvalidInput) as err:
        convert.convert(corrupt, tmp_path / "out.jsonl")
    [problem] = err.value.problems
    assert (problem.path, problem.code) == (corrupt, Code.UNREADABLE)
    assert str(problem).startswith(f"{corrupt}: not a spaCy DocBin")


def test_read_docbin_refuses_labels_outside_those_given(tmp_path: Path) -> None:
    tasks = [make_task(TEXT, [(4, 7, "FACTION"), (21, 31, "GPE")], {"article_id": "a1"})]
    write_jsonl(tmp_path / "p.jsonl", tasks)
    convert.convert(tmp_path / "p.jsonl", tmp_path / "gpe.spacy")
    assert len(convert.read_docbin(tmp_path / "gpe.spacy")) == 1
    with pytest.raises(InvalidInput) as err:
        convert.read_docbin(tmp_path / "gpe.spacy", labels=["FACTION", "PLACE"])
    [problem] = err.value.problems
    assert problem.code == Code.LABEL and "'GPE'" in problem.message and "a1" in problem.message
