"""A real CNN pipeline trained once per session for the model-in-the-loop tests
(serving, ranking, doccano auto-labelling): the seeds' gold, a few dozen steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from conflict_ner import training

ROOT = Path(__file__).resolve().parents[1]
# Enough steps for the NER to propose entities of its own (the ranking needs its
# beam to hesitate), few enough to train in seconds.
STEPS = {"training.max_steps": 80, "training.eval_frequency": 40, "training.patience": 0}


@pytest.fixture(scope="session")
def cnn_model(tmp_path_factory: pytest.TempPathFactory, seed_splits: Path) -> Path:
    """model-best of configs/ner_cnn.cfg trained on corpus/gold.jsonl's seed splits."""
    work = tmp_path_factory.mktemp("loop-cnn")
    bins = training.make_docbins(ROOT / "corpus" / "gold.jsonl", seed_splits, work)
    return training.train(
        ROOT / "configs" / "ner_cnn.cfg",
        work / "model",
        bins["train"],
        bins["dev"],
        overrides=STEPS,
    )
