"""Shared fixtures: paths into the repository and ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from conflict_ner.articles import load_articles, make_splits, write_splits

# The session-wide real doccano server and its helpers (tests/conftest_doccano.py), and
# the CNN pipeline the model-in-the-loop tests serve and rank with (tests/conftest_loop.py).
pytest_plugins = ["conftest_doccano", "conftest_loop"]

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def seed_splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A splits file over the seed articles only (the committed one holds the composed
    corpus too), for tests whose gold is the seeds'."""
    articles = load_articles(ROOT / "corpus" / "articles.jsonl")
    path = tmp_path_factory.mktemp("seed-splits") / "splits.json"
    write_splits(path, make_splits([a for a in articles if a.origin == "seed"]))
    return path


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    """The real Prodigy exports in ../shared/datasets (skipped when shared/ is absent)."""
    path = SHARED / "datasets" / "prodigy_fashion_brands"
    if not path.is_dir():
        pytest.skip(f"{path} is not present")
    return path
