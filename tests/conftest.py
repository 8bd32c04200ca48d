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
# The fixtures of the session's real doccano (tests/conftest_doccano.py).
DOCCANO_FIXTURES = {"doccano_venv", "doccano_server", "doccano_connection", "doccano_api"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test an xdist group: its module, or "doccano" for every module
    that talks to the real doccano.

    `make test` runs pytest-xdist with --dist loadgroup. Keeping a module on one
    worker builds its module fixtures (a trained model, a wheel) once; keeping
    every doccano module on one worker starts one server and builds doccano's
    venv once, never two workers into the same .doccano/venv.
    """
    uses_doccano = {item.path for item in items if DOCCANO_FIXTURES & set(item.fixturenames)}
    for item in items:
        group = "doccano" if item.path in uses_doccano else item.path.stem
        item.add_marker(pytest.mark.xdist_group(group))


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
