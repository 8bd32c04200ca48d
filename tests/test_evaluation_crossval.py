"""Cross-validation: real spacy train runs (CNN config, few steps) on every LOGO fold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conflict_ner.articles import article_folds, load_splits
from conflict_ner.cli import app
from conflict_ner.evaluation.crossval import FIGURES, FoldRow, mean_std

ROOT = Path(__file__).resolve().parents[1]


def test_mean_std_over_folds() -> None:
    rows = [FoldRow(n, [], 1, {name: v for name in FIGURES}) for n, v in enumerate((0.2, 0.4, 0.6))]
    summary = mean_std(rows)
    # mean (0.2+0.4+0.6)/3 = 0.4; sample std sqrt(((-0.2)^2 + 0 + 0.2^2) / 2) = 0.2.
    assert summary["strict F1"].mean == pytest.approx(0.4)
    assert summary["strict F1"].std == pytest.approx(0.2)
    assert mean_std(rows[:1])["strict F1"].std == 0.0


@pytest.mark.slow
def test_crossval_trains_and_scores_every_fold(tmp_path: Path, seed_splits: Path) -> None:
    gold, splits = ROOT / "corpus" / "gold.jsonl", seed_splits
    if not gold.is_file():
        pytest.skip("corpus/gold.jsonl is not there yet")
    out = tmp_path / "evaluate" / "crossval"
    result = CliRunner().invoke(app, [
        "crossval", "--config", str(ROOT / "configs" / "ner_cnn.cfg"), "--gold", str(gold),
        "--splits", str(splits), "--out", str(out), "--work", str(tmp_path / "work"),
        "--max-steps", "5", "--resamples", "50",
    ])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "crossval.json").read_text())
    folds = article_folds(load_splits(splits))
    assert [row["held_out"] for row in data["folds"]] == [held for _, held in folds]
    assert set(data["summary"]["strict F1"]) == {"mean", "std"}
    assert "mean ± std" in (out / "crossval.md").read_text()
    # Held-out articles are scored with model-last; early stopping was off.
    assert (tmp_path / "work" / "folds" / "0" / "model" / "model-last").is_dir()
