"""Shared fixtures: paths into the repository and ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

# The session-wide real doccano server and its helpers (tests/conftest_doccano.py).
pytest_plugins = ["conftest_doccano"]

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    """The real Prodigy exports in ../shared/datasets (skipped when shared/ is absent)."""
    path = SHARED / "datasets" / "prodigy_fashion_brands"
    if not path.is_dir():
        pytest.skip(f"{path} is not present")
    return path
