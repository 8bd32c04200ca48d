"""`evaluate`, `crossval`, `summary`: scores on held-out articles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from conflict_ner.cli._util import app, console, exit_on_error, fail, out, warn
from conflict_ner.evaluation import crossval as crossval_mod
from conflict_ner.evaluation import harness
from conflict_ner.evaluation.models import parse_label_map
from conflict_ner.evaluation.report import pct
from conflict_ner.evaluation.scoring import SCHEMES
from conflict_ner.packaging import read_metrics

DEFAULT_LABEL_MAP = "GPE=PLACE,LOC=PLACE,FAC=PLACE,ORG=FACTION,NORP=FACTION"


def _scores_table(metrics: dict[str, Any]) -> Table:
    """The model and its baselines, micro F1 in each scheme, for the terminal."""
    table = Table("system", *(f"{s} F1" for s in SCHEMES), "strict 95% CI")
    rows = [("model", metrics["overall"], metrics["bootstrap"])]
    rows += [(b["name"], b["overall"], b["bootstrap"]) for b in metrics["baselines"]]
    for name, overall, boot in rows:
        ci = boot["strict"]
        table.add_row(name, *(pct(overall[s]["micro"]["f1"]) for s in SCHEMES),
                      f"{pct(ci['low'])}–{pct(ci['high'])}")
    return table


def _folds_table(result: dict[str, Any]) -> Table:
    """Per-fold micro F1 in each scheme and mean ± std, narrow enough for a terminal."""
    names = [f"{s} F1" for s in SCHEMES]
    table = Table("fold", "held out", *names)
    for row in result["folds"]:
        table.add_row(str(row["fold"]), str(len(row["held_out"])),
                      *(pct(row[n]) for n in names))
    summary = result["summary"]
    table.add_row("mean ± std", "",
                  *(f"{pct(summary[n]['mean'])} ± {pct(summary[n]['std'])}" for n in names))
    return table


@app.command()
def evaluate(
    model: str = typer.Argument(..., help="A spaCy pipeline: a directory or an installed package"),
    data: Path = typer.Argument(..., help="Gold data: a .spacy file or Prodigy JSONL"),
    out_dir: Path = typer.Option(
        Path("evaluate/model"), "--out", help="Report folder (evaluate/NAME/)"
    ),
    train: Path = typer.Option(
        Path("corpus/train.spacy"), help="Training data for the memorisation baseline"
    ),
    baseline_model: list[str] = typer.Option(
        [], help="Installed spaCy pipeline to compare, its labels mapped by --label-map"
    ),
    label_map: str = typer.Option(DEFAULT_LABEL_MAP, help="SOURCE=TARGET,... for --baseline-model"),
    patterns: bool = typer.Option(True, help="Include the pattern baseline"),
    min_f1: float | None = typer.Option(None, help="Fail (exit 1) below this strict micro F1"),
    baseline: Path | None = typer.Option(
        None, help="metrics.json of an earlier run: fail when worse beyond the bootstrap interval"
    ),
    resamples: int = typer.Option(1000, min=1, help="Bootstrap resamples (over articles)"),
    seed: int = typer.Option(0, help="Bootstrap seed"),
) -> None:
    """Score a model on gold articles under four schemes, with baselines, errors and a report."""
    if not Path(data).exists():
        fail(f"{data} does not exist")
    if baseline is not None and not baseline.is_file():
        fail(f"baseline metrics {baseline} does not exist")
    with exit_on_error():
        mapping = parse_label_map(label_map)
        metrics = harness.evaluate(
            model, data, out_dir, train=train, baseline_models=baseline_model, label_map=mapping,
            patterns=patterns, resamples=resamples, seed=seed,
        )
    out.print(_scores_table(metrics))
    for skipped in metrics["skipped_baselines"]:
        warn("skipped", f"{skipped['name']}: {skipped['reason']}")
    agree = metrics["crosscheck"]["agree"]
    console.print(f"cross-check with spaCy Scorer and nervaluate: agree={str(agree).lower()}")
    reports = (out_dir / name for name in ("report.html", "report.md", "metrics.json"))
    console.print("report: " + " · ".join(map(str, reports)), markup=False)
    failures = harness.gate(metrics, min_f1, harness.load_metrics(baseline) if baseline else None)
    if failures:
        fail("regression gate failed: " + "; ".join(failures))


@app.command()
def crossval(
    config: Path = typer.Option(Path("configs/ner_cnn.cfg"), help="spaCy training config"),
    gold: Path = typer.Option(Path("corpus/gold.jsonl"), help="Gold annotations"),
    splits: Path = typer.Option(Path("corpus/splits.json"), help="Splits file (its groups)"),
    out_dir: Path = typer.Option(Path("evaluate/crossval"), "--out", help="Report folder"),
    work: Path = typer.Option(Path("training/crossval"), help="Fold data and models"),
    max_steps: int | None = typer.Option(None, help="Override training.max_steps per fold"),
    resamples: int = typer.Option(
        1000, min=1, help="Bootstrap resamples for the pooled interval"
    ),
    seed: int = typer.Option(0, help="Bootstrap seed"),
) -> None:
    """Leave-one-group-out cross-validation: train and score each fold; mean and std."""
    for path in (config, gold, splits):
        if not path.exists():
            fail(f"{path} does not exist")
    with exit_on_error():
        result = crossval_mod.crossval(config, gold, splits, work, max_steps, resamples, seed)
    files = crossval_mod.write_crossval(out_dir, result)
    out.print(_folds_table(result))
    console.print(f"report: {files['markdown']} · {files['json']}", markup=False)


@app.command()
def summary(
    report: Path = typer.Option(Path("evaluate/test"), help="Evaluation report folder"),
    wheel: Path | None = typer.Option(None, help="The built wheel"),
) -> None:
    """F1 per label on the held-out articles, and where the report and the wheel are."""
    with exit_on_error():
        strict = read_metrics(report / "metrics.json")["overall"]["strict"]
    table = Table("label", "precision", "recall", "F1", title="held-out articles, strict")
    rows = [*strict["per_label"].items(), ("micro", strict["micro"])]
    for label, s in rows:
        table.add_row(label, f"{s['p']:.3f}", f"{s['r']:.3f}", f"{s['f1']:.3f}")
    out.print(table)
    out.print(f"report: {report / 'report.html'}")
    if wheel:
        out.print(f"wheel:  {wheel}" + ("" if wheel.is_file() else " (missing)"))
