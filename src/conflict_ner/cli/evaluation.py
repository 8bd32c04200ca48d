"""`evaluate`, `crossval`, `summary`: scores on held-out articles."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from conflict_ner.cli._util import app, console, exit_on_error, fail, out, warn

if TYPE_CHECKING:
    from conflict_ner.evaluation.results import Headline, Metrics

DEFAULT_LABEL_MAP = "GPE=PLACE,LOC=PLACE,FAC=PLACE,ORG=FACTION,NORP=FACTION"
META_FIELDS = ("theatre", "source", "origin")
# Options the commands that train (crossval, train-curve) share.
CNN_CONFIG = typer.Option(Path("configs/ner_cnn.cfg"), help="spaCy training config")
MAX_STEPS = typer.Option(None, help="Override training.max_steps of every run")
RESAMPLES = typer.Option(1000, min=1, help="Bootstrap resamples (over articles)")
SEED = typer.Option(0, help="Seed")
# train_curve.FRACTIONS, written out: that module imports spaCy, which `--help` must not
# wait for (tests/test_cli.py checks that the two agree).
FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def _print_headline(headline: Headline) -> None:
    """The headline figures, caveats in bold."""
    first, *caveats = headline.lines()
    out.print(first, markup=False)
    for caveat in caveats:
        out.print(Text(caveat, style="bold"))


def _print_metrics(metrics: Metrics) -> None:
    """What a terminal shows of a report: headline, systems, seen/unseen, groups."""
    from conflict_ner.evaluation.report import groups_table, novelty_table, systems_table
    from conflict_ner.evaluation.tables import to_rich

    _print_headline(metrics.headline)
    out.print(to_rich(systems_table([metrics.as_system(), *metrics.ablations,
                                     *metrics.baselines])))
    out.print(to_rich(novelty_table(metrics.as_system())))
    if metrics.groups:
        out.print(to_rich(groups_table(metrics)))


@app.command()
def evaluate(
    model: str = typer.Argument(..., help="A spaCy pipeline: a directory or an installed package"),
    data: Path = typer.Argument(
        ..., help="Gold data: a .spacy file, or Prodigy JSONL (a file or a folder)"
    ),
    out_dir: Path = typer.Option(
        Path("evaluate/model"), "--out", help="Report folder (evaluate/NAME/)"
    ),
    train: Path | None = typer.Option(
        None, help="Training data: which names count as seen, and the memorisation baseline "
        "(default: the data the model's config trained on, when that file exists)",
    ),
    baseline_model: list[str] = typer.Option(
        [], help="Installed spaCy pipeline to compare, its labels mapped by --label-map"
    ),
    label_map: str = typer.Option(DEFAULT_LABEL_MAP, help="SOURCE=TARGET,... for --baseline-model"),
    patterns: bool = typer.Option(True, help="Include the pattern baseline"),
    by: list[str] = typer.Option(
        [], help=f"Scores per value of a meta field ({', '.join(META_FIELDS)}), repeatable"
    ),
    min_f1: float | None = typer.Option(None, help="Fail (exit 1) below this strict micro F1"),
    baseline: Path | None = typer.Option(
        None, help="metrics.json of an earlier run: fail when worse beyond the bootstrap interval"
    ),
    resamples: int = RESAMPLES,
    seed: int = SEED,
    missing_ok: bool = typer.Option(
        False, help="Say so and exit 0 when DATA is absent (a workflow step on optional data)"
    ),
) -> None:
    """Score a model on gold articles: four schemes, seen and unseen names, ablations,
    baselines, groups, errors and a report."""
    from conflict_ner.evaluation import harness
    from conflict_ner.evaluation.systems import parse_label_map

    if not Path(data).exists():
        if missing_ok:
            console.print(f"{data} is absent: nothing to score", markup=False)
            return
        fail(f"{data} does not exist")
    if baseline is not None and not baseline.is_file():
        fail(f"baseline metrics {baseline} does not exist")
    with exit_on_error():
        # Read before the scoring: a bad baseline should not cost a whole evaluation.
        earlier = harness.load_metrics(baseline) if baseline else None
        mapping = parse_label_map(label_map)
        metrics = harness.evaluate(
            model, data, out_dir, train=train, baseline_models=baseline_model, label_map=mapping,
            patterns=patterns, by=by, resamples=resamples, seed=seed,
        )
    _print_metrics(metrics)
    for skipped in metrics.skipped:
        warn("skipped", f"{skipped.name}: {skipped.reason}")
    agree = metrics.crosscheck.agree
    console.print(f"cross-check with spaCy Scorer and nervaluate: agree={str(agree).lower()}")
    reports = (out_dir / name for name in ("report.html", "report.md", "metrics.json"))
    console.print("report: " + " · ".join(map(str, reports)), markup=False)
    failures = harness.gate(metrics, min_f1, earlier)
    if failures:
        fail("regression gate failed: " + "; ".join(failures))


@app.command()
def crossval(
    config: Path = CNN_CONFIG,
    gold: Path = typer.Option(
        Path("corpus/gold.jsonl"), help="Gold annotations (Prodigy JSONL, a file or a folder)"
    ),
    splits: Path = typer.Option(Path("corpus/splits.json"), help="Splits file (its groups)"),
    out_dir: Path = typer.Option(Path("evaluate/crossval"), "--out", help="Report folder"),
    work: Path = typer.Option(Path("training/crossval"), help="Fold data and models"),
    max_steps: int | None = MAX_STEPS,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> None:
    """Leave-one-group-out cross-validation: train and score each fold; mean and std."""
    from conflict_ner.evaluation import crossval as crossval_mod
    from conflict_ner.evaluation.tables import to_rich

    for path in (config, gold, splits):
        if not path.exists():
            fail(f"{path} does not exist")
    with exit_on_error():
        result = crossval_mod.crossval(config, gold, splits, work, max_steps, resamples, seed)
    files = crossval_mod.write_crossval(out_dir, result)
    out.print(to_rich(crossval_mod.folds_table(result)))
    console.print(f"report: {files['markdown']} · {files['json']}", markup=False)


@app.command()
def summary(
    report: Path = typer.Option(Path("evaluate/test"), help="Evaluation report folder"),
    real_report: Path = typer.Option(
        Path("evaluate/real-test"), help="Report on real documents (re3d real-test), if any"
    ),
    wheel: Path | None = typer.Option(None, help="The built wheel"),
) -> None:
    """The held-out figures in brief: F1 with its interval, unseen recall, rules alone,
    caveats, F1 per label, on the composed test theatres and, when there is a report
    on them, on real documents; and where the reports and the wheel are."""
    from conflict_ner.evaluation import harness
    from conflict_ner.evaluation.report import labels_table
    from conflict_ner.evaluation.tables import to_rich

    for folder, title in ((report, "held-out articles"), (real_report, "real documents")):
        if folder == real_report and not (folder / "metrics.json").is_file():
            out.print(f"no report on real documents in {folder} (../shared absent?)", markup=False)
            continue
        with exit_on_error():
            metrics = harness.load_metrics(folder / "metrics.json")
        out.print(Text(f"{title}: {metrics.data}", style="bold"))
        _print_headline(metrics.headline)
        table = to_rich(labels_table(metrics.overall, schemes=("strict",)))
        table.title = f"{title} ({metrics.articles}), strict"
        out.print(table)
        out.print(f"report: {folder / 'report.html'}", markup=False)
    if wheel:
        out.print(f"wheel:  {wheel}" + ("" if wheel.is_file() else " (missing)"), markup=False)


@app.command("train-curve", context_settings={"allow_extra_args": True})
def train_curve(
    ctx: typer.Context,
    config: Path = CNN_CONFIG,
    fractions: list[float] = typer.Option(
        list(FRACTIONS), help="Shares of the training articles: --fractions 0.25 0.5 1"
    ),
    train_path: Path = typer.Option(Path("corpus/train.spacy"), "--train", help="Training data"),
    dev_path: Path = typer.Option(Path("corpus/dev.spacy"), "--dev", help="Development data"),
    test_path: Path = typer.Option(Path("corpus/test.spacy"), "--test", help="Test data"),
    out_dir: Path = typer.Option(Path("evaluate/train-curve"), "--out", help="Report folder"),
    work: Path = typer.Option(Path("training/train-curve"), help="Shares and their models"),
    held_out: str = typer.Option(
        "dev", help="Score on dev (to decide on more data) or test (to report)"
    ),
    max_steps: int | None = MAX_STEPS,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> None:
    """Train on growing shares of the training articles, score each on the same held-out
    articles: a table, a plot and whether the last step still helped."""
    from conflict_ner.evaluation import train_curve as curve_mod
    from conflict_ner.evaluation.tables import to_rich

    data = {"train": train_path, "dev": dev_path, "test": test_path}
    if held_out not in ("dev", "test"):
        fail(f"--held-out must be dev or test, not {held_out!r}")
    for path in (config, train_path, dev_path, data[held_out]):
        if not path.exists():
            fail(f"{path} does not exist (run `conflict-ner data` for the .spacy files)")
    try:  # `--fractions 0.25 0.5 1`: the numbers after the first arrive as extra arguments
        shares = [*fractions, *(float(a) for a in ctx.args)] if ctx.args else fractions
    except ValueError:
        fail(f"unexpected arguments: {' '.join(ctx.args)} (fractions are numbers in (0, 1])")
    with exit_on_error():
        curve = curve_mod.train_curve(config, data, work, shares, held_out, max_steps,
                                      resamples, seed, announce=console.rule)
        files = curve_mod.write_train_curve(out_dir, curve)
    out.print(to_rich(curve_mod.curve_table(curve)))
    out.print(f"verdict: {curve.verdict}", markup=False)
    console.print("report: " + " · ".join(str(p) for p in files.values()), markup=False)
