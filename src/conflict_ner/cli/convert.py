"""`convert`: between doccano JSONL, Prodigy JSONL and spaCy's .spacy."""

from __future__ import annotations

from pathlib import Path

import typer

from conflict_ner.cli._util import app, exit_on_error, say, warn


@app.command()
def convert(
    src: Path = typer.Argument(..., help="Input: doccano .jsonl, Prodigy .jsonl or .spacy"),
    dst: Path = typer.Argument(..., help="Output: .jsonl (Prodigy unless --to) or .spacy"),
    from_format: str | None = typer.Option(None, "--from", help="doccano, prodigy or spacy"),
    to_format: str | None = typer.Option(None, "--to", help="doccano, prodigy or spacy"),
    strict: bool = typer.Option(
        False, help="Reject spans off token boundaries instead of expanding them"
    ),
) -> None:
    """Convert between doccano JSONL, Prodigy JSONL and spaCy's .spacy."""
    from conflict_ner import convert as convert_mod

    with exit_on_error():
        report = convert_mod.convert(src, dst, from_format, to_format, strict)
    for issue in report.issues:
        warn("snapped", str(issue))
    for note in report.skipped:
        warn("left out", note)
    say(f"read {report.read}, wrote {report.written} to {dst}")
