"""The label scheme (../shared/LABELS.md): names, colours and doccano shortcut keys."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    """One entity label as annotators and models see it."""

    name: str
    description: str
    color: str
    shortcut: str


SCHEME: tuple[Label, ...] = (
    Label("FACTION", "A named, organised armed actor", "#e8564d", "f"),
    Label("PLACE", "A named geographic location or site", "#3f8fd2", "p"),
)

LABELS: tuple[str, ...] = tuple(label.name for label in SCHEME)
