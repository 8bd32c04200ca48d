"""The guidelines as doccano shows them: running paragraphs, nothing an annotator cannot open."""

from __future__ import annotations

import re
from pathlib import Path

GUIDELINES = Path(__file__).resolve().parents[1] / "configs" / "guidelines.md"
# Lines that start a block in Markdown: a heading, a list item, a table row.
BLOCK_START = re.compile(r"^(#|\||- |\d+\. )")


def _lines() -> list[str]:
    return GUIDELINES.read_text(encoding="utf8").splitlines()


def test_every_paragraph_is_one_line() -> None:
    # doccano's viewer keeps a hard wrap as a line break in mid-sentence.
    lines = _lines()
    wrapped = [
        n for n, (before, line) in enumerate(zip(["", *lines], lines, strict=False), start=1)
        if line.strip() and before.strip() and not BLOCK_START.match(line)
        and not before.startswith("|")
    ]  # fmt: skip
    assert wrapped == []


def test_no_reference_to_files_annotators_cannot_open() -> None:
    text = GUIDELINES.read_text(encoding="utf8")
    assert re.findall(r"[\w./-]+\.(?:md|jsonl|json|py)\b", text) == []
    assert "LABELS" not in text


def test_the_label_keys_are_the_ones_the_project_creates() -> None:
    from conflict_ner.scheme import SCHEME

    text = GUIDELINES.read_text(encoding="utf8")
    for label in SCHEME:
        assert f"**{label.shortcut}** for {label.name}" in text
