"""How a tagging run is asked for: its options and the choices they take.

Apart from ``tag.py`` because the command line needs them to build `conflict-ner
tag --help`, and ``tag.py`` imports spaCy and the model's stack, which take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("jsonl", "parquet")
ENGINES = ("spacy", "dask")
QUANTIZE_CHOICES = ("int8",)
# Which pairs the tables list: every shared sentence or article, or those the pairing
# rule supports (tagging.pairs).
PAIR_MODES = ("cooccurrence", "model")
# A news article is a few thousand characters; far beyond this is a scrape gone wrong.
MAX_CHARS = 100_000


@dataclass(frozen=True)
class TagOptions:
    """How to tag: batch size (articles per shard), processes, limits, output format
    and which pairs the tables list."""

    batch_size: int = 64
    n_process: int = 1
    max_chars: int = MAX_CHARS
    fmt: str = "jsonl"
    quantize: str | None = None
    resume: bool = False
    pairs: str = "cooccurrence"
