"""The Prodigy task model: validation, hashing and lossless round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conflict_ner.cli import app
from conflict_ner.convert import validate_file
from conflict_ner.files import Code, InvalidInput, write_jsonl
from conflict_ner.tasks import make_task, read_tasks

runner = CliRunner()
TEXT = "The YPG attacked the NDF in al-Hasakah."


def good_task() -> dict:
    return make_task(
        TEXT, [(4, 7, "FACTION"), (21, 24, "FACTION"), (28, 38, "PLACE")], {"article_id": "a1"}
    )


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf8")
    return path


def test_make_task_aligns_spans_to_tokens() -> None:
    task = good_task()
    assert [TEXT[s["start"] : s["end"]] for s in task["spans"]] == ["YPG", "NDF", "al-Hasakah"]
    tokens = task["tokens"]
    place = task["spans"][2]
    assert tokens[place["token_start"]]["start"] == place["start"]
    assert tokens[place["token_end"]]["end"] == place["end"]
    assert isinstance(task["_input_hash"], int) and isinstance(task["_task_hash"], int)


def test_hashes_are_stable_and_depend_on_the_right_keys() -> None:
    a, b = good_task(), good_task()
    assert a["_input_hash"] == b["_input_hash"] and a["_task_hash"] == b["_task_hash"]
    fewer = make_task(TEXT, [(4, 7, "FACTION")], {"article_id": "a1"})
    assert fewer["_input_hash"] == a["_input_hash"]
    assert fewer["_task_hash"] != a["_task_hash"]


def test_make_task_refuses_a_span_off_token_boundaries() -> None:
    with pytest.raises(ValueError, match="token boundaries"):
        make_task(TEXT, [(5, 7, "FACTION")], {})


def test_valid_file_has_no_problems(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    write_jsonl(path, [good_task()])
    assert validate_file(path) == []


def _set_span(i: int, **fields: object):
    return lambda t: t["spans"][i].update(fields)


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda t: t["spans"].append({"start": 5, "end": 7, "label": "FACTION"}), Code.OVERLAP),
        (lambda t: t["spans"].append({"start": 30, "end": 99, "label": "PLACE"}), Code.SPAN),
        (lambda t: t["spans"].__setitem__(0, {"start": 5, "end": 7, "label": "FACTION"}),
         Code.BOUNDARY),
        (_set_span(0, label="ORG"), Code.LABEL),
        (lambda t: t.__setitem__("text", "   "), Code.EMPTY),
        (lambda t: t["spans"].__setitem__(0, {"start": 3, "end": 7, "label": "FACTION"}),
         Code.WHITESPACE),
        (lambda t: t["tokens"][1].__setitem__("text", "XYZ"), Code.TOKENS),
        (lambda t: t.__setitem__("tokens", "abc"), Code.TOKENS),
        (_set_span(0, token_end=5), Code.BOUNDARY),
        (_set_span(0, label=["FACTION"]), Code.SPAN),
        (_set_span(0, start=4.0), Code.SPAN),  # never truncated to 4
        (_set_span(0, end=7.9), Code.SPAN),
        (_set_span(0, start=True), Code.SPAN),
        (lambda t: t.__setitem__("spans", {"start": 4}), Code.SHAPE),
        (lambda t: t.__setitem__("meta", ["a1"]), Code.SHAPE),
        (lambda t: t.__setitem__("text", 5), Code.SHAPE),
        (lambda t: t.update(text="YPG " * 250_001, tokens=None, spans=[]), Code.TOO_LARGE),
    ],
)
def test_bad_tasks_are_reported_with_file_line_and_code(tmp_path: Path, mutate, code) -> None:
    bad = good_task()
    mutate(bad)
    path = tmp_path / "bad.jsonl"
    write_jsonl(path, [good_task(), bad])
    problems = validate_file(path)
    assert problems, "the bad task was not caught"
    assert all(p.line == 2 for p in problems)
    assert code in {p.code for p in problems}, [(p.code, str(p)) for p in problems]
    assert str(problems[0]).startswith(f"{path}:2: ")


def test_validate_rejects_spans_off_our_tokens_when_the_task_has_none(tmp_path: Path) -> None:
    # No tokens to check against: our tokenizer decides, as it does for `data`.
    row = {"text": TEXT, "spans": [{"start": 5, "end": 7, "label": "FACTION"}]}
    path = write_lines(tmp_path / "no_tokens.jsonl", [json.dumps(row)])
    [problem] = validate_file(path)
    assert (problem.line, problem.code) == (1, Code.BOUNDARY)
    assert "'PG'" in problem.message
    row["spans"] = [{"start": 4, "end": 7, "label": "FACTION"}]
    assert validate_file(write_lines(path, [json.dumps(row)])) == []


def test_malformed_json_and_non_objects(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "x.jsonl", [json.dumps(good_task()), "{not json", "[1, 2]"])
    problems = validate_file(path)
    assert [(p.line, p.code) for p in problems] == [(2, Code.JSON), (3, Code.SHAPE)]
    assert problems[0].message.startswith("malformed JSON")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    latin1 = '{"text": "Hasakê"}'.encode("latin-1")
    path.write_bytes(json.dumps({"text": "ok"}).encode() + b"\n" + latin1 + b"\n")
    [problem] = validate_file(path)
    assert (problem.line, problem.code) == (2, Code.ENCODING)
    assert "not UTF-8" in problem.message


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert [p.code for p in validate_file(empty)] == [Code.EMPTY]
    assert [p.code for p in validate_file(tmp_path / "missing.jsonl")] == [Code.UNREADABLE]
    assert [p.code for p in validate_file(tmp_path)] == [Code.EMPTY]  # a folder of empty files
    (tmp_path / "nothing").mkdir()
    assert [p.code for p in validate_file(tmp_path / "nothing")] == [Code.EMPTY]


def test_read_tasks_raises_with_every_problem(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "x.jsonl", ["{bad", '{"text": ""}'])
    with pytest.raises(InvalidInput) as err:
        read_tasks(path)
    assert [p.line for p in err.value.problems] == [1, 2]


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    write_jsonl(good, [good_task()])
    assert runner.invoke(app, ["validate", str(good)]).exit_code == 0
    bad = write_lines(tmp_path / "bad.jsonl", ["{oops"])
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:1: malformed JSON" in result.output


def test_cli_validate_reads_a_folder_and_names_the_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "gold"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [good_task()])
    assert runner.invoke(app, ["validate", str(folder)]).exit_code == 0
    bad = write_lines(folder / "b.jsonl", [json.dumps(good_task()), "{oops"])
    (folder / "notes.txt").write_text("not gold")
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert f"{bad}:2: malformed JSON" in result.output
    assert f"{folder / 'notes.txt'}: not a .jsonl file" in result.output


def test_gold_is_valid(root: Path) -> None:
    gold = root / "corpus" / "gold.jsonl"
    if not gold.exists():
        pytest.fail("corpus/gold.jsonl is missing")
    assert validate_file(gold) == []


@pytest.mark.parametrize("name", ["fashion_brands_training.jsonl", "fashion_brands_eval.jsonl"])
def test_prodigy_exports_validate_and_round_trip_byte_for_byte(
    fashion_dir: Path, tmp_path: Path, name: str
) -> None:
    source = fashion_dir / name
    assert validate_file(source, labels=None) == []
    tasks = read_tasks(source, labels=None)
    copy = tmp_path / name
    write_jsonl(copy, tasks)
    assert copy.read_bytes() == source.read_bytes()


def test_prodigy_exports_with_their_label_fail_our_scheme(fashion_dir: Path) -> None:
    problems = validate_file(fashion_dir / "fashion_brands_eval.jsonl")
    assert problems and all(p.code == Code.LABEL for p in problems)
    assert all("FASHION_BRAND" in p.message for p in problems)


def test_our_tokenizer_is_the_one_the_configs_name(root: Path) -> None:
    """tasks.tokenizer() is built without a Language (which would import every pipeline
    component installed, spacy-transformers among them): it must still split every text
    of the corpus as a blank English pipeline with the configs' news tokenizer does, and
    give its lexemes the same attributes."""
    import spacy
    from spacy.tokens import Doc

    from conflict_ner.tasks import tokenize, tokenizer

    blank = spacy.blank("en", config={
        "nlp": {"tokenizer": {"@tokenizers": "conflict_ner.news_tokenizer.v1"}}})

    def view(doc: Doc) -> list[tuple]:
        return [(t.text, t.idx, t.whitespace_, t.norm_, t.is_stop, t.like_num, t.lang_)
                for t in doc]

    texts = [t["text"] for name in ("gold.jsonl", "composed") for t in
             read_tasks(root / "corpus" / name)]
    texts += ["U.S.-backed forces, e-mail: info@example.org; don't stop—at 10:30am!", " \n "]
    for text in texts:
        assert view(tokenizer()(text)) == view(blank(text))
    assert tokenizer().vocab.lang == blank.vocab.lang == "en"
    with pytest.raises(ValueError, match="E088"):  # nlp(text)'s limit, nlp.max_length
        tokenize("x" * (blank.max_length + 1))
