"""Fuzz: seeded random and hostile JSONL lines and files through every command that
reads them (validate, convert, ingest, stats, data, evaluate, push's readers),
and hostile names and output paths through the commands that write.

Each must end with exit 0 or 1 and a message, never a traceback, whatever the
input: malformed JSON, wrong types where numbers, lists or strings belong, float
and boolean offsets, deep nesting, NaN, lone surrogates, byte order marks, rich
markup in texts, labels, meta and file names.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import spacy
from click.testing import Result
from typer.testing import CliRunner

from conflict_ner.cli import app
from conflict_ner.convert import task_to_doc, write_docbin
from conflict_ner.doccano.push import gold_pre_annotator, load_push_items
from conflict_ner.files import InvalidInput, write_jsonl
from conflict_ner.tasks import make_task

SEED = 20261128
FILES = 60
runner = CliRunner()

TEXTS = [
    ("The YPG attacked the NDF in al-Hasakah.", [(4, 7, "FACTION"), (21, 24, "FACTION"),
                                                (28, 38, "PLACE")]),
    ("Fighters of [/x] took [red]Qamishli[/red] from ISIS.", [(47, 51, "FACTION")]),
    ("\ufeff Hasakah [bold] YPG", [(2, 9, "PLACE")]),
    ("Émigrés fled Tal Tamr 🙂 at dawn.", [(13, 21, "PLACE")]),
]
HOSTILE: list[Any] = [
    None, True, False, 0, -1, 7, 3.0, 4.5, 1e308, 2**70, "", " ", "FACTION", "PLACE", "[/x]",
    "[red]x[/red]", "[bold", "\u202e", "\x00", "../../x", "🙂", [], {}, [[]], ["FACTION"],
    {"a": {"b": [1]}}, [4, 7, "FACTION"], [[4, 7, "FACTION"]], [{"start": 4}], "x" * 500,
]
RAW_LINES: list[bytes] = [
    b"{", b"}", b"[]", b"null", b"NaN", b"1e400", b'"text"', b"0", b"{}", b" \t ", b"\x00",
    b"[" * 5000 + b"]" * 5000, b'{"a": ' + b"{\"b\": " * 80 + b"1" + b"}" * 81,
    b'{"text": "\\ud800 lone"}', b'{"text": "caf\xe9"}', b"\xef\xbb\xbf{}", b"\xff\xfe{",
    b'{"text": "YPG", "spans": [{"start": NaN, "end": 3, "label": "FACTION"}]}',
    b'{"text": "YPG", "label": [[0, ' + b"9" * 5000 + b', "FACTION"]]}',
    b'{"text": "YPG", "text": 5}',
]


def base_records(rng: random.Random) -> list[dict[str, Any]]:
    """A Prodigy task, a doccano row and an article record, each valid."""
    text, spans = rng.choice(TEXTS)
    article = f"a{rng.randint(1, 4)}"
    meta = {"article_id": article, "title": "[/x] title", "theatre": "[red]T", "origin": "seed"}
    task = make_task(text, spans, meta)
    doccano = {"text": text, "label": [list(s) for s in spans], "article_id": article}
    return [task, doccano, {"text": text, "title": "[b]", "id": article, "source": "[/x].txt"}]


def containers(value: Any) -> Iterator[dict[str, Any] | list[Any]]:
    """Every dict and list inside a JSON value, the value itself first."""
    if isinstance(value, dict | list):
        yield value
        for child in value.values() if isinstance(value, dict) else value:
            yield from containers(child)


def mutate(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The record with up to three of its values replaced, removed or added."""
    record = copy.deepcopy(record)
    for _ in range(rng.randint(0, 3)):
        target = rng.choice(list(containers(record)))
        keys: list[Any] = list(target) if isinstance(target, dict) else list(range(len(target)))
        if not keys or rng.random() < 0.15:
            if isinstance(target, dict):
                target[rng.choice(["text", "spans", "tokens", "label", "meta", "start", "x"])] = (
                    rng.choice(HOSTILE))
            else:
                target.append(rng.choice(HOSTILE))
        elif rng.random() < 0.2:
            del target[rng.choice(keys)]
        else:
            target[rng.choice(keys)] = copy.deepcopy(rng.choice(HOSTILE))
    return record


def hostile_line(rng: random.Random) -> bytes:
    if rng.random() < 0.25:
        return rng.choice(RAW_LINES)
    record = mutate(rng.choice(base_records(rng)), rng)
    return json.dumps(record, ensure_ascii=rng.random() < 0.5).encode("utf8", "surrogatepass")


def hostile_file(folder: Path, n: int, rng: random.Random) -> Path:
    """A JSONL file of 1 to 6 lines (some valid), sometimes with a BOM or CRLF endings;
    the first files hold one of the RAW_LINES each, so that every one is tried."""
    name = rng.choice([f"f{n}.jsonl", f"f{n}[/x].jsonl", f"[red]f{n}.jsonl", f"f{n}.JSONL"])
    lines = [hostile_line(rng) for _ in range(rng.randint(1, 6))]
    if n < len(RAW_LINES):
        lines.insert(rng.randint(0, len(lines)), RAW_LINES[n])
    ending = b"\r\n" if rng.random() < 0.2 else b"\n"
    content = ending.join(lines) + (ending if rng.random() < 0.8 else b"")
    if rng.random() < 0.1:
        content = b"\xef\xbb\xbf" + content
    path = folder / name  # "[/x]" in a name makes a folder "f1[" holding "x].jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def assert_clean(result: Result, what: str) -> None:
    """Exit 0 or 1 with a message, and no exception escaped the command."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{what}: {type(result.exception).__name__}: {result.exception}\n{result.output}"
    )
    assert result.exit_code in (0, 1), f"{what}: exit {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output, f"{what}\n{result.output}"
    if result.exit_code == 1:
        assert "error" in result.output, f"{what}: exit 1 without a message\n{result.output}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A model to evaluate with, and a splits file holding the fuzz articles' ids."""
    folder = tmp_path_factory.mktemp("fuzz-world")
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(  # type: ignore[attr-defined]
        [{"label": "FACTION", "pattern": "YPG"}, {"label": "PLACE", "pattern": "Hasakah"}]
    )
    nlp.to_disk(folder / "model")
    splits = {"splits": {"train": ["a1", "a2"], "dev": ["a3"], "test": ["a4"]},
              "groups": [["a1"], ["a2"], ["a3"], ["a4"]]}
    (folder / "splits.json").write_text(json.dumps(splits))
    return {"model": folder / "model", "splits": folder / "splits.json"}


def commands(path: Path, out: Path, world: dict[str, Path]) -> list[list[str]]:
    """Every command that reads a JSONL file, as argument lists."""
    f = str(path)
    return [
        ["validate", f],
        ["validate", "--any-label", f],
        ["convert", f, str(out / "p.jsonl")],
        ["convert", f, str(out / "o.spacy")],
        ["convert", "--from", "doccano", f, str(out / "d.jsonl"), "--to", "doccano"],
        ["convert", "--from", "prodigy", "--strict", f, str(out / "s.jsonl")],
        ["ingest", f, "--out", str(out / "articles.jsonl"), "--splits", str(out / "s.json")],
        ["split", f, "--out", str(out / "splits.json")],
        ["stats", f, "--json", str(out / "stats.json")],
        ["data", "--gold", f, "--splits", str(world["splits"]), "--out-dir", str(out / "c")],
        ["evaluate", str(world["model"]), f, "--no-patterns", "--resamples", "5",
         "--train", str(out / "none.spacy"), "--out", str(out / "e")],
    ]


def library_readers() -> list[tuple[str, Callable[[Path], object]]]:
    """What push reads before it talks to doccano: the articles and the gold."""
    return [("push articles", load_push_items), ("push gold", lambda p: gold_pre_annotator([p]))]


def test_hostile_jsonl_never_gives_a_traceback(tmp_path: Path, world: dict[str, Path]) -> None:
    rng = random.Random(SEED)
    outcomes: dict[int, int] = {0: 0, 1: 0}
    for n in range(FILES):
        path = hostile_file(tmp_path, n, rng)
        out = tmp_path / f"out{n}"
        for args in commands(path, out, world):
            result = runner.invoke(app, args)
            assert_clean(result, f"{' '.join(args)} on {path.read_bytes()[:300]!r}")
            outcomes[result.exit_code] += 1
        for name, read in library_readers():
            try:
                read(path)
            except InvalidInput:
                pass
            except Exception as err:  # any other exception is the bug this test is for
                pytest.fail(f"{name}: {type(err).__name__}: {err} on {path.read_bytes()[:300]!r}")
    # The generator makes both: files that pass and files that fail.
    assert outcomes[0] > 20 and outcomes[1] > 200, outcomes


def test_hostile_spacy_and_splits_files_never_give_a_traceback(
    tmp_path: Path, world: dict[str, Path]
) -> None:
    rng = random.Random(SEED)
    text, spans = TEXTS[0]
    good = tmp_path / "good.spacy"
    write_docbin(good, [task_to_doc(make_task(text, spans, {"article_id": "a1"}))[0]])
    other = tmp_path / "gpe.spacy"  # a label the model and the scheme do not know
    write_docbin(other, [task_to_doc(make_task(text, [(28, 38, "GPE")], {}))[0]])
    noise = bytes(rng.randrange(256) for _ in range(500))
    blobs = [b"", b"\x00" * 10, good.read_bytes()[:40], noise]
    for n, blob in enumerate(blobs):
        (tmp_path / f"bad{n}.spacy").write_bytes(blob)
    for path in [other, *sorted(tmp_path.glob("bad*.spacy"))]:
        for args in (["convert", str(path), str(tmp_path / "x.jsonl")],
                     ["evaluate", str(world["model"]), str(path), "--no-patterns",
                      "--out", str(tmp_path / "e")]):
            result = runner.invoke(app, args)
            assert_clean(result, " ".join(args))
            if path == other and args[0] == "convert":
                assert result.exit_code == 0, result.output  # conversion takes any label
            else:
                assert result.exit_code == 1 and str(path) in result.output, result.output
    gold = tmp_path / "gold.jsonl"
    write_jsonl(gold, [make_task(text, spans, {"article_id": "a1"})])
    for n, content in enumerate(["", "[]", "{}", '{"splits": 5}', '{"splits": {"train": [1]}}',
                                 '{"splits": {"train": ["a1"]}, "groups": "x"}', "\xff"]):
        splits = tmp_path / f"splits{n}.json"
        splits.write_text(content, encoding="latin-1")
        result = runner.invoke(app, ["data", "--gold", str(gold), "--splits", str(splits),
                                     "--out-dir", str(tmp_path / "c")])
        assert_clean(result, f"data with splits {content!r}")
        assert result.exit_code == 1 and str(splits) in result.output
    zero = runner.invoke(app, ["evaluate", str(world["model"]), str(good), "--resamples", "0"])
    assert zero.exit_code == 2 and isinstance(zero.exception, SystemExit)  # a usage error
    assert "Traceback" not in zero.output


def test_markup_in_user_text_prints_as_it_is(tmp_path: Path) -> None:
    text = "Fighters of [/x] took [red]Qamishli[/red] from ISIS."
    bad = tmp_path / "[/b]gold.jsonl"
    bad.parent.mkdir(exist_ok=True)
    write_jsonl(bad, [make_task(text, [(47, 51, "[/x]")], {"article_id": "a1"})])
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:1: span 0 (47-51 [/x]) has unknown label '[/x]'" in result.output
    doccano = tmp_path / "d[/i].jsonl"
    doccano.parent.mkdir()
    doccano.write_text(json.dumps({"text": text, "label": [[14, 15, "FACTION"]]}) + "\n")
    result = runner.invoke(app, ["convert", str(doccano), str(tmp_path / "p.jsonl")])
    assert result.exit_code == 0, result.output
    assert "span 14-15 FACTION 'x' is off token boundaries: expanded to 13-15 '/x'" in (
        result.output)
    assert f"to {tmp_path / 'p.jsonl'}" in result.output
    gold = tmp_path / "gold.jsonl"
    meta = {"article_id": "[/x]", "theatre": "[red]Theatre[/red] [/]"}
    write_jsonl(gold, [make_task(text, [(22, 41, "PLACE"), (47, 51, "FACTION")], meta)])
    result = runner.invoke(app, ["stats", str(gold)])
    assert result.exit_code == 0, result.output
    assert "[red]Theatre[/red] [/]" in result.output


def test_evaluate_keeps_article_pages_inside_the_report_folder(
    tmp_path: Path, world: dict[str, Path]
) -> None:
    gold = tmp_path / "gold.jsonl"
    meta = {"article_id": "../../escaped", "title": "[/x]"}
    write_jsonl(gold, [make_task(TEXTS[0][0], TEXTS[0][1], meta)])
    report = tmp_path / "a" / "b" / "report"
    result = runner.invoke(app, ["evaluate", str(world["model"]), str(gold), "--no-patterns",
                                 "--resamples", "5", "--out", str(report)])
    assert result.exit_code == 0, result.output
    written = [p for p in tmp_path.rglob("*.html") if p.is_file()]
    assert written and all(report in p.parents for p in written), written
    assert not (tmp_path / "escaped.html").exists()
    [page] = (report / "articles").glob("*.html")
    assert page.name.endswith(".html") and page.name in (report / "report.html").read_text()


def hostile_name(rng: random.Random) -> str:
    """A seeded name that tries to leave its folder or reach the terminal raw."""
    parts = ["..", "/tmp", ".", "", "a", "x\x1b[2J", "\x1b]0;t\x07", "é", " ", "~", "*"]
    words = [rng.choice(parts) for _ in range(rng.randint(1, 5))]
    return rng.choice(["/", "", "../"]) + "/".join(words)


def files_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_hostile_names_and_outputs_stay_inside_the_output(
    tmp_path: Path, world: dict[str, Path]
) -> None:
    rng = random.Random(SEED + 1)
    inputs, out = tmp_path / "in", tmp_path / "a" / "b" / "out"
    inputs.mkdir()
    gold = inputs / "articles.jsonl"  # named like tag's own output, which must not replace it
    texts = [t for t, _ in TEXTS][:4]
    write_jsonl(gold, [make_task(t, [], {"article_id": f"a{i}"}) for i, t in enumerate(texts, 1)])
    before = files_under(tmp_path)
    cases: list[list[str]] = [
        ["stats", str(gold), "--json", str(gold)],
        ["stats", str(gold), "--json", str(gold / "under-a-file.json")],
        ["convert", str(gold), str(gold)],
        ["tag", str(world["model"]), str(gold), "--out", str(inputs)],
        ["tag", str(world["model"]), str(inputs), "--out", str(inputs)],
    ]
    for _ in range(12):
        name = hostile_name(rng)
        splits = out.parent / "splits.json"
        splits.parent.mkdir(parents=True, exist_ok=True)
        splits.write_text(json.dumps({"splits": {"train": ["a1", "a2"], "dev": ["a3"],
                                                 name: ["a4"]}}))
        cases.append(["data", "--gold", str(gold), "--splits", str(splits),
                      "--out-dir", str(out / "c")])
        cases.append(["package", str(world["model"]), "--version", name, "--out", str(out / "p")])
    for args in cases:
        result = runner.invoke(app, args)
        assert_clean(result, " ".join(args))
        assert "\x1b" not in result.output, args
        new = files_under(tmp_path).keys() - before.keys()
        outside = {p for p in new if out.parent not in p.parents}
        assert not outside, (args, outside)
        assert all(p.read_bytes() == data for p, data in before.items()), args
