"""The `conflict-ner` command line: parses arguments and calls the modules."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from conflict_ner import articles as articles_mod
from conflict_ner.scheme import LABELS
from conflict_ner.tasks import InvalidInput, Problem, validate_file

app = typer.Typer(
    help="From conflict news articles to a spaCy FACTION/PLACE model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)


def fail(problems: list[Problem] | str, code: int = 1) -> None:
    """Print problems to stderr and exit with ``code``."""
    lines = [problems] if isinstance(problems, str) else [str(p) for p in problems]
    for line in lines:
        console.print(f"[red]error[/red] {line}", highlight=False, markup=True)
    raise typer.Exit(code)


@app.command()
def ingest(
    inputs: list[Path] = typer.Argument(..., help=".txt files, JSONL with text, or folders"),
    out: Path = typer.Option(Path("corpus/articles.jsonl"), help="Articles JSONL to write"),
    splits: Path = typer.Option(Path("corpus/splits.json"), help="Splits file to write"),
    seed: int = typer.Option(0, help="Seed that orders article groups into splits"),
) -> None:
    """Clean articles, give them content-hash ids, drop duplicates and split them."""
    try:
        report = articles_mod.ingest(inputs)
    except InvalidInput as err:
        fail(err.problems)
    for dropped, kept in report.exact_duplicates:
        console.print(f"exact duplicate dropped: {dropped} (same text as {kept})")
    for pair in report.near_duplicates:
        console.print(
            f"near-duplicates: {pair.a} ~ {pair.b} jaccard={pair.jaccard:.3f} "
            f"shared passages={pair.shared_passages} (kept in one split)"
        )
    split_data = articles_mod.make_splits(report.articles, seed=seed)
    articles_mod.write_articles(out, report.articles)
    articles_mod.write_splits(splits, split_data)
    sizes = ", ".join(f"{k}={len(v)}" for k, v in split_data["splits"].items())
    console.print(f"wrote {len(report.articles)} articles to {out}; splits ({sizes}) to {splits}")


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., help="Prodigy JSONL files"),
    any_label: bool = typer.Option(False, help="Accept labels outside the scheme"),
) -> None:
    """Check Prodigy JSONL: JSON, offsets, token boundaries, overlaps and labels."""
    problems = [p for f in files for p in validate_file(f, None if any_label else LABELS)]
    if problems:
        fail(problems)
    console.print(f"[green]valid[/green]: {', '.join(map(str, files))}")


@app.command()
def split(
    articles: Path = typer.Argument(Path("corpus/articles.jsonl")),
    out: Path = typer.Option(Path("corpus/splits.json")),
    seed: int = typer.Option(0),
) -> None:
    """(Re)make splits.json from an articles file, keeping near-duplicates together."""
    try:
        loaded = articles_mod.load_articles(articles)
    except InvalidInput as err:
        fail(err.problems)
    data = articles_mod.make_splits(loaded, seed=seed)
    articles_mod.write_splits(out, data)
    table = Table("split", "articles")
    for name, ids in data["splits"].items():
        table.add_row(name, ", ".join(ids))
    Console().print(table)


# Commands of the other stages register here, one line each.
# -- stage commands --
from conflict_ner.cli_doccano import convert, doccano_app, pull, push  # noqa: E402

app.add_typer(doccano_app, name="doccano")
app.command()(push)
app.command()(pull)
app.command()(convert)
from conflict_ner.cli_evaluation import crossval, evaluate  # noqa: E402

app.command()(evaluate)
app.command()(crossval)
from conflict_ner.cli_training import data, train  # noqa: E402

app.command()(data)
app.command()(train)
from conflict_ner.cli_packaging import package, summary  # noqa: E402

app.command()(package)
app.command()(summary)


def main() -> None:
    """Entry point for ``python -m conflict_ner``."""
    app()
