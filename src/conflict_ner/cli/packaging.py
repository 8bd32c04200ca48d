"""`package`: build the model wheel, or check one in a fresh venv."""

from __future__ import annotations

from pathlib import Path

import typer

from conflict_ner.cli._util import app, console, exit_on_error
from conflict_ner.packaging import MODEL_VERSION, build_wheel, check_wheel, read_metrics


@app.command()
def package(
    target: Path = typer.Argument(..., help="A trained pipeline folder, or a wheel with --check"),
    name: str = typer.Option("conflict_ner", help="Package name (spaCy prefixes the language)"),
    version: str = typer.Option(MODEL_VERSION, help="The model wheel's version"),
    out_dir: Path = typer.Option(
        Path("packages"), "--out", help="Folder for the package and its wheel"
    ),
    metrics: Path | None = typer.Option(
        None, help="metrics.json of an evaluation report, stored in the package meta"
    ),
    check: bool = typer.Option(False, "--check", help="Install TARGET (a wheel) in a fresh venv"),
) -> None:
    """Build a pip-installable wheel of a trained pipeline, or check that one loads."""
    with exit_on_error():
        if check:
            with console.status(f"installing {target.name} in a fresh venv"):
                result = check_wheel(target)
            console.print(f"spacy.load({result.package!r}) works", markup=False)
            for text, label in result.entities:
                console.print(f"  {label:8} {text}", markup=False)
            return
        scores = read_metrics(metrics) if metrics else None
        with console.status("spacy package"):
            wheel = build_wheel(target, out_dir, name, version, scores)
        console.print(f"wheel: {wheel}", markup=False)
