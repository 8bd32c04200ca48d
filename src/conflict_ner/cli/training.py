"""`data`, `train`: gold annotations to DocBins, and `spacy train` offline."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from conflict_ner import re3d
from conflict_ner.cli._util import app, console, exit_on_error, fail


@app.command()
def data(
    gold: list[Path] = typer.Option(
        [Path("corpus/gold.jsonl")],
        help="Gold annotations (Prodigy JSONL, a file or a folder of them; repeatable)",
    ),
    splits: Path = typer.Option(Path("corpus/splits.json"), help="Splits file"),
    out_dir: Path = typer.Option(Path("corpus"), "--out-dir", help="Where .spacy files go"),
    fold: int | None = typer.Option(
        None, help="Write fold N of the leave-one-group-out CV to OUT_DIR/folds/N instead"
    ),
    real: Path = typer.Option(
        re3d.DEFAULT_ANNOTATIONS, help="Our stand-off annotation of the re3d documents"
    ),
    re3d_dir: Path = typer.Option(
        re3d.DEFAULT_DIR, "--re3d", help="The re3d data set (skipped when absent)"
    ),
) -> None:
    """Write train/dev/test .spacy files (or one CV fold's train/dev) from gold annotations.

    With the re3d data set and our annotation of it, also real_dev.spacy and
    real_test.spacy; the real-dev documents join dev.spacy (model selection),
    never train.spacy."""
    from conflict_ner import training

    with exit_on_error():
        halves = re3d.split_docs(real, re3d_dir) if fold is None and real.is_file() else {}
        paths = training.make_docbins(gold, splits, out_dir, fold, halves)
    if not halves and fold is None:
        console.print(f"no real documents: {re3d_dir} or {real} is absent", markup=False)
    for name, path in paths.items():
        console.print(f"wrote {name}: {path}", markup=False)


@app.command()
def train(
    config: Path = typer.Option(Path("configs/ner_trf.cfg"), help="spaCy training config"),
    output: Path = typer.Option(Path("training"), help="Output directory (model-best, model-last)"),
    train_path: Path = typer.Option(Path("corpus/train.spacy"), "--train", help="Training data"),
    dev_path: Path = typer.Option(Path("corpus/dev.spacy"), "--dev", help="Development data"),
    max_steps: int | None = typer.Option(None, help="Override training.max_steps"),
    eval_frequency: int | None = typer.Option(
        None, help="Override training.eval_frequency: score dev every N steps (a learning curve)"
    ),
    transformer: str | None = typer.Option(
        None, help="Backbone: a Hugging Face name or a local directory (paths.transformer)"
    ),
) -> None:
    """Train a spaCy pipeline offline; writes OUTPUT/model-best and OUTPUT/model-last."""
    from conflict_ner import training

    for path in (config, train_path, dev_path):
        if not path.exists():
            fail(f"{path} does not exist (run `conflict-ner data` for the .spacy files)")
    overrides: dict[str, object] = {}
    if max_steps is not None:
        overrides["training.max_steps"] = max_steps
    if eval_frequency is not None:
        overrides["training.eval_frequency"] = eval_frequency
    if transformer is not None:
        overrides["paths.transformer"] = transformer
    os.environ.update(training.OFFLINE_ENV)
    with exit_on_error():
        best = training.train(config, output, train_path, dev_path, overrides)
    console.print(f"trained: {best} and {output / 'model-last'}", markup=False)
