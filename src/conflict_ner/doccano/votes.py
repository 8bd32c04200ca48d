"""Annotator votes: per doccano example, each annotator's spans and who confirmed it.

The shared data of merge and agreement, which are pure functions over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conflict_ner.convert import SpanTuple


@dataclass
class ExampleVotes:
    """One example: its text, meta, and each annotator's spans."""

    example_id: int
    text: str
    meta: dict[str, Any]
    spans: dict[str, list[SpanTuple]] = field(default_factory=dict)
    confirmed_by: set[str] = field(default_factory=set)
