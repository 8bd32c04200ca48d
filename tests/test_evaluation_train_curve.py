"""The train-curve: nested seeded shares, the verdict worked out by hand, and a real tiny
`spacy train` run of the CNN config per share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc
from typer.testing import CliRunner

from conflict_ner.cli import app
from conflict_ner.evaluation.novelty import NoveltyRow
from conflict_ner.evaluation.scoring import Score
from conflict_ner.evaluation.train_curve import CurveStep, nested_shares, verdict, words
from conflict_ner.evaluation.uncertainty import Interval
from conflict_ner.training import make_docbins

ROOT = Path(__file__).resolve().parents[1]


def article(n: int) -> Doc:
    doc = spacy.blank("en")(f"Article {n} says the YPG held Hasakah.")
    doc.user_data["article_id"] = f"a{n}"
    return doc


def test_shares_are_nested_whole_articles_in_a_seeded_order() -> None:
    docs = [article(n) for n in range(10)]
    shares = nested_shares(docs, [0.25, 0.5, 1.0], seed=3)
    ids = [[d.user_data["article_id"] for d in share] for share in shares]
    # ceil(2.5) = 3, 5 and 10 articles; each share starts with the one before it.
    assert [len(s) for s in ids] == [3, 5, 10]
    assert ids[1][:3] == ids[0] and ids[2][:5] == ids[1]
    assert sorted(ids[2]) == sorted(f"a{n}" for n in range(10))
    assert nested_shares(list(reversed(docs)), [0.25], seed=3)[0] == shares[0]
    assert nested_shares(docs, [0.25], seed=4)[0] != shares[0]
    # "Article 0 says the YPG held Hasakah." has 7 words (the full stop is not one).
    assert words(docs[:2]) == 14


def curve_step(n_words: int, f1: float, low: float, high: float) -> CurveStep:
    score = Score(f1, f1, f1, 0, 0, 0, 0, 0, 0, 0)
    return CurveStep(1.0, 1, n_words, score, Interval(f1, low, high, 0.95, 100, 0, 5),
                     NoveltyRow.of("unseen", "all", 0, 0, 0))


def test_verdict_compares_the_last_step_with_the_previous_interval() -> None:
    rising = [curve_step(100, 0.50, 0.40, 0.60), curve_step(200, 0.65, 0.55, 0.75)]
    improved, text = verdict(rising)
    assert improved is True and "0.500 to 0.650" in text and "(0.400–0.600)" in text
    flat = [curve_step(100, 0.50, 0.40, 0.60), curve_step(200, 0.58, 0.50, 0.66)]
    assert verdict(flat)[0] is False
    assert verdict(flat[:1]) == (None, "one step only: no curve to read")


def test_bad_fractions_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train-curve", "--fractions", "0.5", "abc",
                                      "--train", str(tmp_path)])
    assert result.exit_code == 1


@pytest.mark.slow
def test_train_curve_trains_the_cnn_config_on_each_share(tmp_path: Path, seed_splits: Path) -> None:
    gold = ROOT / "corpus" / "gold.jsonl"
    paths = make_docbins(gold, seed_splits, tmp_path / "data")
    out = tmp_path / "curve"
    result = CliRunner().invoke(app, [
        "train-curve", "--config", str(ROOT / "configs" / "ner_cnn.cfg"),
        "--fractions", "0.5", "1.0", "--train", str(paths["train"]), "--dev", str(paths["dev"]),
        "--test", str(paths["test"]), "--held-out", "test", "--out", str(out),
        "--work", str(tmp_path / "work"), "--max-steps", "4", "--resamples", "50",
    ])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "train_curve.json").read_text())
    train_articles = len(list(spacy.tokens.DocBin().from_disk(paths["train"]).get_docs(
        spacy.blank("en").vocab)))
    assert [s["fraction"] for s in data["steps"]] == [0.5, 1.0]
    assert data["steps"][-1]["articles"] == train_articles
    assert data["steps"][0]["words"] < data["steps"][1]["words"]
    assert data["improved"] in (True, False) and data["verdict"] in result.output
    assert (out / "train_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| share |" in (out / "train_curve.md").read_text()
    # Each share was really trained (model-last is what gets scored).
    assert (tmp_path / "work" / "share-0.5" / "model" / "model-last").is_dir()
