"""The `conflict-ner` command line, in spaCy's style: one app (in ``_util``), one
module per stage, each command a thin wrapper over a library function."""

from __future__ import annotations

# Importing a stage module registers its commands on the app.
from conflict_ner.cli import (
    _util,
    articles,
    convert,
    corpus,
    doccano,
    evaluation,
    loop,
    packaging,
    tagging,
    training,
)
from conflict_ner.cli._util import app

__all__ = [
    "app",
    "articles",
    "convert",
    "corpus",
    "doccano",
    "evaluation",
    "loop",
    "main",
    "packaging",
    "tagging",
    "training",
]


def main() -> None:
    """The `conflict-ner` program (and ``python -m conflict_ner``): one command, then exit."""
    _util.standalone = True
    app()
