"""`doccano up/down/status`, `push`, `pull`: the annotation loop in doccano."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from conflict_ner.cli._util import (
    DATA_DIR,
    EXIT_NOT_RUNNING,
    app,
    console,
    doccano_app,
    exit_on_error,
    out,
    warn,
)


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

    with exit_on_error():
        info = server.up(data_dir, host=host, port=port, venv=venv, console=console)
    typer.echo(info.url)


@doccano_app.command("install")
def install(
    data_dir: Path = DATA_DIR,
    venv: Path | None = typer.Option(
        None, help="where to build it (default: $CONFLICT_NER_DOCCANO_VENV or DATA_DIR/venv)"
    ),
) -> None:
    """Build doccano's venv (the pinned doccano from the registry) unless it is there;
    `make setup` runs it, so `doccano up` only starts the server."""
    from conflict_ner.doccano import server

    with exit_on_error():
        path = server.ensure_venv(server.venv_path(data_dir, venv), console)
    typer.echo(path)


@doccano_app.command("down")
def down(data_dir: Path = DATA_DIR) -> None:
    """Stop the local doccano processes recorded in DATA_DIR/pids.json."""
    from conflict_ner.doccano import server

    with exit_on_error():
        server.down(data_dir)


@doccano_app.command("status")
def status(data_dir: Path = DATA_DIR) -> None:
    """Show whether the local doccano runs, its URL and processes."""
    from conflict_ner.doccano import server

    with exit_on_error():
        info = server.status(data_dir)
    table = Table(title=f"doccano in {data_dir}")
    table.add_column("process")
    table.add_column("pid", justify="right")
    table.add_column("alive")
    for name, proc in info["processes"].items():
        table.add_row(name, str(proc["pid"]), "yes" if proc["alive"] else "no")
    out.print(table)
    state = "running" if info["running"] else "not running"
    typer.echo(f"{state}; url={info['url']}; healthy={info['healthy']}")
    if not info["running"]:
        raise typer.Exit(EXIT_NOT_RUNNING)


@app.command()
def push(
    articles: Path = typer.Argument(Path("corpus/articles.jsonl"), help="Articles JSONL"),
    project: str = typer.Option("conflict-ner", help="doccano project name"),
    pre_annotate: str = typer.Option(
        "gold", help="gold, patterns, none, or a spaCy model path/name"
    ),
    gold: list[Path] = typer.Option(
        [Path("corpus/gold.jsonl")],
        help="Gold Prodigy JSONL, a file or a folder of them (repeatable)",
    ),
    guidelines: Path = typer.Option(Path("configs/guidelines.md"), help="Shown in doccano"),
    data_dir: Path = DATA_DIR,
    order: Path | None = typer.Option(
        None, help="A ranking from `conflict-ner next`: push only its articles, in its order"
    ),
) -> None:
    """Send articles doccano does not have yet (matched on text hash), pre-annotated."""
    from conflict_ner.doccano import push as doccano_push

    with exit_on_error():
        report = doccano_push.push(
            articles, project, pre_annotate, gold, data_dir=data_dir, guidelines=guidelines,
            order=order,
        )
    for issue in report.issues:
        warn("snapped", str(issue))
    console.print(
        f"project {project!r}: added {report.added} article(s) "
        f"({report.pre_annotated} pre-annotated, {report.spans} spans), "
        f"{report.already} already there, {report.duplicates} duplicate(s) in the file",
        markup=False,
    )


@app.command()
def pull(
    project: str = typer.Option("conflict-ner", help="doccano project name"),
    out_dir: Path = typer.Option(Path("corpus/annotations"), "--out", help="Output folder"),
    ignore_user: list[str] = typer.Option(
        [],
        help="Leave this user's spans out of files, merge and agreement (repeatable), "
        "e.g. the account whose pushed pre-annotations should not vote",
    ),
    data_dir: Path = DATA_DIR,
) -> None:
    """Download every user's annotations: per-annotator, merged, conflicts, agreement."""
    from conflict_ner.doccano import pull as doccano_pull

    with exit_on_error():
        report = doccano_pull.pull(
            project, out_dir, data_dir=data_dir, console=out, ignore_users=ignore_user
        )
    for issue in report.issues:
        warn("snapped", str(issue))
    users = ", ".join(f"{u} ({n})" for u, n in sorted(report.annotators.items())) or "none"
    console.print(
        f"{report.examples} example(s); annotators: {users}; merged {report.merged}; "
        f"{report.conflicts} conflict(s) (see {out_dir / 'conflicts.md'})",
        markup=False,
    )
