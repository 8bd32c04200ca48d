"""One rule for outputs and one for the terminal: no command replaces its input,
and user text reaches the terminal with its control characters escaped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conflict_ner.cli import app
from conflict_ner.cli._util import printable

runner = CliRunner()


@pytest.fixture
def gold(tmp_path: Path, root: Path) -> Path:
    path = tmp_path / "g.jsonl"
    shutil.copy(root / "corpus" / "gold.jsonl", path)
    return path


def test_stats_refuses_to_write_its_json_over_an_input(gold: Path) -> None:
    before = gold.read_bytes()
    result = runner.invoke(app, ["stats", str(gold), "--json", str(gold)])
    assert result.exit_code == 1
    assert "would replace the input" in result.output
    assert gold.read_bytes() == before


@pytest.mark.parametrize("named", ["file", "folder"])
def test_tag_refuses_an_output_folder_that_holds_its_input(
    tmp_path: Path, root: Path, named: str
) -> None:
    # The check comes before the model is loaded, so no model is needed to see it.
    articles = tmp_path / "articles.jsonl"
    shutil.copy(root / "corpus" / "articles.jsonl", articles)
    before = articles.read_bytes()
    source = articles if named == "file" else tmp_path
    result = runner.invoke(app, ["tag", "no-such-model", str(source), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "would replace the input" in result.output
    assert articles.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.jsonl"]


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_serve_refuses_a_port_out_of_range(port: str) -> None:
    result = runner.invoke(app, ["serve", "no-such-model", "--port", port])
    assert result.exit_code == 1
    assert "is not a TCP port (0-65535)" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_control_characters_are_escaped_on_the_terminal(tmp_path: Path) -> None:
    hostile = tmp_path / "a\x1b]0;owned\x07\x1b[2J.jsonl"
    hostile.write_text('{"text": 1}\n', encoding="utf8")
    result = runner.invoke(app, ["validate", str(hostile)])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b]0;owned\\x07\\x1b[2J.jsonl" in result.output


def test_printable_keeps_newlines_tabs_and_non_ascii() -> None:
    assert printable("Deir ez-Zor\tحلب\n") == "Deir ez-Zor\tحلب\n"
    assert printable("\x9b31m\x7f") == "\\x9b31m\\x7f"


def test_tag_refuses_inputs_that_match_nothing(tmp_path: Path) -> None:
    pattern = str(tmp_path / "none-*.jsonl")
    result = runner.invoke(app, ["tag", "no-such-model", pattern, "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "a pattern that matches nothing" in result.output
    assert "tagging" not in result.output  # refused before the progress bar starts
    assert not (tmp_path / "o").exists()


def test_an_os_error_is_one_line_with_the_path_and_advice(gold: Path, tmp_path: Path) -> None:
    under_a_file = gold / "stats.json"
    result = runner.invoke(app, ["stats", str(gold), "--json", str(under_a_file)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith(f"error {gold}: Not a directory")
    assert "a part of the path is a file" in result.output
    assert "[Errno" not in result.output


def test_pull_into_an_immutable_folder_keeps_it_and_says_which_rename_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess

    import typer

    from conflict_ner.cli._util import exit_on_error
    from conflict_ner.doccano.pull import _swap_in

    out, stage = tmp_path / "ann", tmp_path / ".ann.pull-x"
    for folder, text in ((out, "earlier pull"), (stage, "this pull")):
        folder.mkdir()
        (folder / "merged.jsonl").write_text(text, encoding="utf8")
    if subprocess.run(["chattr", "+i", str(out)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs root and a filesystem with flags)")
    try:
        with pytest.raises(typer.Exit) as stopped, exit_on_error():
            _swap_in(stage, out)
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=True)
    captured = capsys.readouterr()
    said = " ".join((captured.out + captured.err).split())  # rich may wrap a long line
    assert stopped.value.exit_code == 1
    assert f"{out} -> {tmp_path}/.ann.old-" in said and "Operation not permitted" in said
    assert "check the folder's permissions and flags" in said and "Errno" not in said
    assert (out / "merged.jsonl").read_text(encoding="utf8") == "earlier pull"
