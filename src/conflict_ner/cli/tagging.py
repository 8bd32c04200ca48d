"""`tag`: run a trained model over a corpus; mentions, canonical names, who fought where."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from conflict_ner.cli._util import app, console, exit_on_error, out, warn
from conflict_ner.tagging.options import (
    ENGINES,
    FORMATS,
    MAX_CHARS,
    PAIR_MODES,
    QUANTIZE_CHOICES,
    TagOptions,
)

if TYPE_CHECKING:
    from conflict_ner.tagging.tag import Engine


class ArticlesPerSecond(ProgressColumn):
    """The tagging speed in articles per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:.1f} articles/s")


def _engine(name: str, model: str, options: TagOptions, scheduler: str | None,
            workers: int) -> Engine | None:
    """None for plain spaCy (tag's default); the Dask engine otherwise."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; expected one of {ENGINES}")
    if name == "spacy":
        if scheduler:
            raise ValueError("--scheduler needs --engine dask")
        return None
    try:
        from conflict_ner.tagging.dask_engine import dask_engine
    except ImportError:
        raise RuntimeError("--engine dask needs the dask extra: "
                           "pip install 'conflict-ner[dask]'") from None

    return dask_engine(model, options, scheduler=scheduler, workers=workers)


@app.command("tag")
def tag_command(
    model: str = typer.Argument(..., help="A trained spaCy pipeline: a directory or a package"),
    inputs: list[str] = typer.Argument(
        ..., help="Articles JSONL (as ingest writes), .txt/.jsonl files, folders or globs"
    ),
    out_dir: Path = typer.Option(Path("tagged"), "--out", help="Output folder"),
    fmt: str = typer.Option("jsonl", "--format", help=f"Mentions file: {', '.join(FORMATS)}"),
    n_process: int = typer.Option(
        1, "--n-process", min=1, help="Plain-engine worker processes, each with its own model"
    ),
    batch_size: int = typer.Option(
        64, "--batch-size", min=1, help="Articles per committed batch (what a kill can lose)"
    ),
    resume: bool = typer.Option(False, "--resume", help="Skip the articles already in --out"),
    max_chars: int = typer.Option(MAX_CHARS, "--max-chars", min=1, help="Skip longer articles"),
    quantize: str | None = typer.Option(
        None, "--quantize", help=f"Quantise the transformer: {', '.join(QUANTIZE_CHOICES)}"
    ),
    engine: str = typer.Option("spacy", "--engine", help=f"{' or '.join(ENGINES)}"),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask scheduler address (default: a LocalCluster for the run)"
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="LocalCluster worker processes"),
    pairs: str = typer.Option(
        "cooccurrence", "--pairs",
        help=f"Pairs the tables list: {' or '.join(PAIR_MODES)} (named together, or what "
             "the pairing rule supports)",
    ),
) -> None:
    """Tag a corpus: mentions with canonical names, per-article counts, who-fought-where
    and who-fought-whom tables and a report with a map, resumable and skipping articles
    that cannot be tagged."""
    from conflict_ner.tagging.tag import checked_inputs, tag

    options = TagOptions(batch_size=batch_size, n_process=n_process, max_chars=max_chars,
                         fmt=fmt, quantize=quantize, resume=resume, pairs=pairs)
    with exit_on_error():  # a bad request is one line, before a progress bar or a cluster
        checked_inputs(inputs, out_dir, options)
    columns = (TextColumn("tagging"), BarColumn(), MofNCompleteColumn(), ArticlesPerSecond(),
               TimeRemainingColumn())
    with exit_on_error(), Progress(*columns, console=console) as progress:
        task = progress.add_task("tag", total=None)
        result = tag(
            model, inputs, out_dir, options,
            engine=_engine(engine, model, options, scheduler, workers),
            progress=lambda n: progress.advance(task, n),
            on_start=lambda total: progress.update(task, total=total),
        )
    for skipped in result.skipped:
        warn("skipped", f"{skipped.id}: {skipped.reason}")
    console.print(
        f"tagged {result.tagged} articles ({result.mentions} mentions), "
        f"{result.already} already done, {len(result.skipped)} skipped", markup=False,
    )
    for path in result.files:
        out.print(str(path), markup=False, highlight=False)
