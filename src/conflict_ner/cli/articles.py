"""`ingest`, `validate`, `split`: articles and gold files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from conflict_ner import articles as articles_mod
from conflict_ner.cli._util import (
    app,
    exit_on_error,
    fail,
    import_spacy_without_torch,
    out,
    say,
    warn,
)
from conflict_ner.scheme import LABELS


@app.command()
def ingest(
    inputs: list[Path] = typer.Argument(..., help=".txt files, JSONL with text, or folders"),
    out_path: Path = typer.Option(
        Path("corpus/articles.jsonl"), "--out", help="Articles JSONL to write"
    ),
    splits: Path = typer.Option(Path("corpus/splits.json"), help="Splits file to write"),
    seed: int = typer.Option(0, help="Seed that orders article groups into splits"),
    origin: str | None = typer.Option(
        None, help='Origin of articles whose input names none (e.g. "seed")'
    ),
) -> None:
    """Clean articles, give them content-hash ids, drop duplicates and split them
    (articles with a theatre by theatre: whole wars held out for dev and test)."""
    with exit_on_error():
        report = articles_mod.ingest(inputs, origin)
        split_data = articles_mod.make_splits(report.articles, seed=seed)
        articles_mod.write_articles(out_path, report.articles)
        articles_mod.write_splits(splits, split_data)
    for note in report.skipped:
        warn("left out", note)
    for dropped, kept in report.exact_duplicates:
        say(f"exact duplicate dropped: {dropped} (same text as {kept})")
    for pair in report.near_duplicates:
        say(
            f"near-duplicates: {pair.a} ~ {pair.b} jaccard={pair.jaccard:.3f} "
            f"shared passages={pair.shared_passages} (kept in one split)"
        )
    sizes = ", ".join(f"{k}={len(v)}" for k, v in split_data.splits.items())
    say(f"wrote {len(report.articles)} articles to {out_path}; splits ({sizes}) to {splits}")


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., help="Prodigy JSONL files or folders of them"),
    any_label: bool = typer.Option(False, help="Accept labels outside the scheme"),
) -> None:
    """Check Prodigy JSONL: JSON, offsets, token boundaries, overlaps and labels."""
    import_spacy_without_torch()  # validate only tokenizes
    from conflict_ner.convert import validate_file

    problems = [p for f in files for p in validate_file(f, None if any_label else LABELS)]
    if problems:
        fail(problems)
    say(f"valid: {', '.join(map(str, files))}")


@app.command()
def split(
    articles: Path = typer.Argument(Path("corpus/articles.jsonl")),
    out_path: Path = typer.Option(Path("corpus/splits.json"), "--out"),
    seed: int = typer.Option(0),
) -> None:
    """(Re)make splits.json from an articles file, keeping near-duplicates together."""
    with exit_on_error():
        loaded = articles_mod.load_articles(articles)
        data = articles_mod.make_splits(loaded, seed=seed)
        articles_mod.write_splits(out_path, data)
    table = Table("split", "articles")
    for name, ids in data.splits.items():
        table.add_row(name, ", ".join(ids))
    out.print(table)
