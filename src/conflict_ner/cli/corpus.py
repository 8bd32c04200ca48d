"""`stats`: what a gold corpus holds."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from conflict_ner.cli._util import app, console, exit_on_error, out, say
from conflict_ner.corpus import CorpusStats, corpus_stats
from conflict_ner.files import refuse_replacing_inputs, write_text_atomic
from conflict_ner.tasks import read_tasks


@app.command()
def stats(
    files: list[Path] = typer.Argument(..., help="Gold Prodigy JSONL files or folders of them"),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the figures as JSON"),
) -> None:
    """Articles, theatres, spans and distinct forms per label, the share of forms the
    pattern ruler does not know, and the news phenomena found."""
    with exit_on_error():
        refuse_replacing_inputs([json_out] if json_out else [], files)
        tasks = [t for path in files for t in read_tasks(path)]
        with console.status("running the pattern ruler over the corpus"):
            result = corpus_stats(tasks)
        if json_out is not None:
            write_text_atomic(json_out, json.dumps(result.to_json(), indent=2) + "\n")
    for table in _tables(result):
        out.print(table)
    if json_out is not None:
        say(f"figures: {json_out}")


def _tables(result: CorpusStats) -> list[Table]:
    """The corpus at a glance, its labels, its theatres and its phenomena."""
    overview = Table("articles", "words", "theatres", "origins", title="corpus")
    origins = ", ".join(f"{k} {v}" for k, v in result.origins.items())
    overview.add_row(str(result.articles), f"{result.words:,}", str(len(result.theatres)), origins)
    labels = Table("label", "spans", "distinct forms", "not matched by the ruler", title="labels")
    for label, s in result.labels.items():
        share = f"{s.forms_unmatched_by_ruler} ({s.unmatched_share:.0%})"
        labels.add_row(label, str(s.spans), str(s.forms), share)
    theatres = Table("theatre", "articles", title="theatres")
    for theatre, n in result.theatres.items():
        theatres.add_row(theatre, str(n))
    phenomena = Table("phenomenon", "count", title="phenomena (detected by patterns)")
    for name, n in result.phenomena.items():
        phenomena.add_row(name, str(n))
    return [overview, labels, theatres, phenomena]
