"""CLI commands for doccano and format conversion; cli.py registers them.

Exit codes: 0 fine, 1 bad input (files, credentials, configuration, doccano
refusing an import), 2 doccano unreachable (nothing written); `doccano status`
exits 3 when the local server is not running.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from conflict_ner import convert as convert_mod
from conflict_ner.doccano.errors import DoccanoError, DoccanoUnreachable
from conflict_ner.tasks import InvalidInput

console = Console(stderr=True, soft_wrap=True)
doccano_app = typer.Typer(
    help="Run a local doccano (own venv, SQLite) for annotation.",
    no_args_is_help=True,
    add_completion=False,
)

DATA_DIR = typer.Option(Path(".doccano"), "--data-dir", help="doccano's data folder")
EXIT_BAD_INPUT = 1
EXIT_UNREACHABLE = 2


@contextmanager
def _exit_codes() -> Iterator[None]:
    """Turn our errors into a message on stderr and the documented exit code."""
    try:
        yield
    except DoccanoUnreachable as err:
        console.print(f"[red]error[/red] {err}", highlight=False)
        raise typer.Exit(EXIT_UNREACHABLE) from None
    except InvalidInput as err:
        for problem in err.problems:
            console.print(f"[red]error[/red] {problem}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (DoccanoError, ValueError, OSError) as err:
        console.print(f"[red]error[/red] {err}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@doccano_app.command("up")
def up(
    data_dir: Path = DATA_DIR,
    port: int = typer.Option(8000, help="Port to serve on"),
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default)"),
    venv: Path | None = typer.Option(
        None, help="doccano venv to use (default: $CONFLICT_NER_DOCCANO_VENV or DATA_DIR/venv)"
    ),
) -> None:
    """Start a local doccano (creating its venv, database and admin user once)."""
    from conflict_ner.doccano import server

    with _exit_codes():
        info = server.up(data_dir, host=host, port=port, venv=venv, console=console)
    typer.echo(info.url)


@doccano_app.command("down")
def down(data_dir: Path = DATA_DIR) -> None:
    """Stop the local doccano processes recorded in DATA_DIR/pids.json."""
    from conflict_ner.doccano import server

    with _exit_codes():
        server.down(data_dir)


@doccano_app.command("status")
def status(data_dir: Path = DATA_DIR) -> None:
    """Show whether the local doccano runs, its URL and processes."""
    from conflict_ner.doccano import server

    info = server.status(data_dir)
    table = Table(title=f"doccano in {data_dir}")
    table.add_column("process")
    table.add_column("pid", justify="right")
    table.add_column("alive")
    for name, proc in info["processes"].items():
        table.add_row(name, str(proc["pid"]), "yes" if proc["alive"] else "no")
    Console().print(table)
    state = "running" if info["running"] else "not running"
    typer.echo(f"{state}; url={info['url']}; healthy={info['healthy']}")
    if not info["running"]:
        raise typer.Exit(3)


def push(
    articles: Path = typer.Argument(Path("corpus/articles.jsonl"), help="Articles JSONL"),
    project: str = typer.Option("conflict-ner", help="doccano project name"),
    pre_annotate: str = typer.Option(
        "gold", help="gold, patterns, none, or a spaCy model path/name"
    ),
    gold: Path = typer.Option(Path("corpus/gold.jsonl"), help="Gold Prodigy JSONL"),
    guidelines: Path = typer.Option(Path("configs/guidelines.md"), help="Shown in doccano"),
    data_dir: Path = DATA_DIR,
) -> None:
    """Send articles doccano does not have yet (matched on text hash), pre-annotated."""
    from conflict_ner.doccano import push as doccano_push

    with _exit_codes():
        report = doccano_push.push(
            articles, project, pre_annotate, gold, data_dir=data_dir, guidelines=guidelines
        )
    for issue in report.issues:
        console.print(f"[yellow]snapped[/yellow] {issue}", highlight=False)
    console.print(
        f"project {project!r}: added {report.added} article(s) "
        f"({report.pre_annotated} pre-annotated, {report.spans} spans), "
        f"{report.already} already there, {report.duplicates} duplicate(s) in the file"
    )


def pull(
    project: str = typer.Option("conflict-ner", help="doccano project name"),
    out: Path = typer.Option(Path("corpus/annotations"), help="Output folder"),
    ignore_user: list[str] = typer.Option(
        [],
        help="Leave this user's spans out of files, merge and agreement (repeatable), "
        "e.g. the account whose pushed pre-annotations should not vote",
    ),
    data_dir: Path = DATA_DIR,
) -> None:
    """Download every user's annotations: per-annotator, merged, conflicts, agreement."""
    from conflict_ner.doccano import pull as doccano_pull

    with _exit_codes():
        report = doccano_pull.pull(
            project, out, data_dir=data_dir, console=Console(), ignore_users=ignore_user
        )
    for issue in report.issues:
        console.print(f"[yellow]snapped[/yellow] {issue}", highlight=False)
    users = ", ".join(f"{u} ({n})" for u, n in sorted(report.annotators.items())) or "none"
    console.print(
        f"{report.examples} example(s); annotators: {users}; merged {report.merged}; "
        f"{report.conflicts} conflict(s) (see {out / 'conflicts.md'})"
    )


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
    with _exit_codes():
        report = convert_mod.convert(src, dst, from_format, to_format, strict)
    for issue in report.issues:
        console.print(f"[yellow]snapped[/yellow] {issue}", highlight=False)
    for note in report.skipped:
        console.print(f"[yellow]left out[/yellow] {note}", highlight=False)
    console.print(f"read {report.read}, wrote {report.written} to {dst}")
