"""`conflict-ner package`: build the model wheel, or check one in a fresh venv."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from conflict_ner.packaging import (
    MODEL_VERSION,
    PackagingError,
    build_wheel,
    check_wheel,
    read_metrics,
)

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def package(
    target: Path = typer.Argument(..., help="A trained pipeline folder, or a wheel with --check"),
    name: str = typer.Option("conflict_ner", help="Package name (spaCy prefixes the language)"),
    version: str = typer.Option(MODEL_VERSION, help="The model wheel's version"),
    out: Path = typer.Option(Path("packages"), help="Folder for the package and its wheel"),
    metrics: Path | None = typer.Option(
        None, help="metrics.json of an evaluation report, stored in the package meta"
    ),
    check: bool = typer.Option(False, "--check", help="Install TARGET (a wheel) in a fresh venv"),
) -> None:
    """Build a pip-installable wheel of a trained pipeline, or check that one loads."""
    try:
        if check:
            with console.status(f"installing {target.name} in a fresh venv"):
                result = check_wheel(target)
            console.print(f"[green]spacy.load({result.package!r}) works[/green]")
            for text, label in result.entities:
                console.print(f"  {label:8} {text}")
            return
        scores = read_metrics(metrics) if metrics else None
        with console.status("spacy package"):
            wheel = build_wheel(target, out, name, version, scores)
        console.print(f"wheel: {wheel}")
    except (PackagingError, OSError) as err:
        console.print(f"[red]error[/red] {err}")
        raise typer.Exit(1) from None


def summary(
    report: Path = typer.Option(Path("evaluate/seeds"), help="Evaluation report folder"),
    wheel: Path | None = typer.Option(None, help="The built wheel"),
) -> None:
    """F1 per label on the held-out articles, and where the report and the wheel are."""
    try:
        strict = read_metrics(report / "metrics.json")["overall"]["strict"]
    except PackagingError as err:
        console.print(f"[red]error[/red] {err}")
        raise typer.Exit(1) from None
    table = Table("label", "precision", "recall", "F1", title="held-out articles, strict")
    rows = [*strict["per_label"].items(), ("micro", strict["micro"])]
    for label, s in rows:
        table.add_row(label, f"{s['p']:.3f}", f"{s['r']:.3f}", f"{s['f1']:.3f}")
    out.print(table)
    out.print(f"report: {report / 'report.html'}")
    if wheel:
        out.print(f"wheel:  {wheel}" + ("" if wheel.is_file() else " (missing)"))
