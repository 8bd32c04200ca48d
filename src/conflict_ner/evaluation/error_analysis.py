"""Error analysis: each strict error with its context, and a token-level confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix
from spacy.tokens import Doc

from conflict_ner.evaluation.crosscheck import ents_of
from conflict_ner.evaluation.plots import pyplot, save_png
from conflict_ner.evaluation.scoring import Ent, align

# Error kinds, in the order the report lists them.
KINDS: tuple[str, ...] = ("false_positive", "false_negative", "boundary", "label", "boundary_label")
KIND_TITLES = {
    "false_positive": "False positives (predicted, no gold span overlaps)",
    "false_negative": "False negatives (gold, no prediction overlaps)",
    "boundary": "Boundary errors (right label, wrong extent)",
    "label": "Label confusions (right extent, wrong label)",
    "boundary_label": "Boundary and label both wrong",
}
WINDOW = 60  # characters of context on each side


@dataclass(frozen=True)
class ErrorRow:
    """One error: where, what gold and prediction say, and the text around it."""

    article: str
    position: int  # character offset in the article, for ordering
    kind: str
    gold: str | None  # "text [LABEL]"
    pred: str | None
    left: str
    middle: str
    right: str
    gold_label: str | None = None
    pred_label: str | None = None

    @property
    def label(self) -> str:
        """The label an error counts under: the gold one where there is gold (a miss, a
        boundary, a swap), else the predicted one (a false positive)."""
        return self.gold_label or self.pred_label or ""

    def context(self, mark: str = "**") -> str:
        """The context with the erroneous stretch marked."""
        return f"{self.left}{mark}{self.middle}{mark}{self.right}"

    def to_dict(self) -> dict[str, str | None]:
        return {**asdict(self), "context": self.context()}


def _describe(doc: Doc, ent: Ent | None) -> str | None:
    if ent is None:
        return None
    return f"{doc[ent.start:ent.end].text} [{ent.label}]"


def error_kind(gold: Ent | None, pred: Ent | None) -> str | None:
    """The error kind of one aligned pair, None when it is correct."""
    if gold is None:
        return "false_positive"
    if pred is None:
        return "false_negative"
    bounds, label = gold.same_bounds(pred), gold.label == pred.label
    if bounds and label:
        return None
    if label:
        return "boundary"
    return "label" if bounds else "boundary_label"


def _window(doc: Doc, start: int, end: int) -> tuple[str, str, str]:
    """Text before, of and after a token range; context cut to WINDOW characters, one line."""
    first, last = doc[start].idx, doc[end - 1].idx + len(doc[end - 1].text)
    text = doc.text
    left = text[max(0, first - WINDOW) : first]
    right = text[last : last + WINDOW]

    def flat(s: str) -> str:
        return " ".join(s.split()) if s.strip() else ""

    pad_l = " " if left[-1:].isspace() else ""
    pad_r = " " if right[:1].isspace() else ""
    cut_l = "…" if first - WINDOW > 0 else ""
    cut_r = "…" if last + WINDOW < len(text) else ""
    return (cut_l + flat(left) + pad_l, text[first:last], pad_r + flat(right) + cut_r)


def error_rows(article: str, gold: Doc, pred: Doc) -> list[ErrorRow]:
    """Every strict error in one article, in text order."""
    rows = []
    for g, p in align(ents_of(gold), ents_of(pred)):
        kind = error_kind(g, p)
        if kind is None:
            continue
        spans = [e for e in (g, p) if e is not None]
        start, end = min(e.start for e in spans), max(e.end for e in spans)
        left, middle, right = _window(gold, start, end)
        rows.append(ErrorRow(article, gold[start].idx, kind, _describe(gold, g),
                             _describe(pred, p), left, middle, right,
                             g.label if g else None, p.label if p else None))
    return sorted(rows, key=lambda r: r.position)


def counts_by_label(rows: Sequence[ErrorRow], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """Errors per kind and label (``ErrorRow.label``), every kind and label present."""
    counts = {kind: dict.fromkeys(labels, 0) for kind in KINDS}
    for row in rows:
        counts[row.kind][row.label] = counts[row.kind].get(row.label, 0) + 1
    return counts


def token_labels(doc: Doc) -> list[str]:
    """Each token's entity label, or O."""
    return [t.ent_type_ or "O" for t in doc]


def token_confusion(
    pairs: Sequence[tuple[Doc, Doc]], labels: Sequence[str]
) -> tuple[list[str], np.ndarray]:
    """Rows gold, columns predicted, over ``labels`` + O; other labels count as O."""
    names = [*labels, "O"]
    keep = set(labels)
    y_true: list[str] = []
    y_pred: list[str] = []
    for gold, pred in pairs:
        y_true += [x if x in keep else "O" for x in token_labels(gold)]
        y_pred += [x if x in keep else "O" for x in token_labels(pred)]
    if not y_true:
        return names, np.zeros((len(names), len(names)), dtype=int)
    return names, confusion_matrix(y_true, y_pred, labels=names)


def plot_confusion(names: Sequence[str], matrix: np.ndarray, path: Path, title: str) -> Path:
    """Draw the confusion matrix as a PNG, written atomically."""
    fig, ax = pyplot().subplots(figsize=(4.8, 4.2), dpi=120)
    # Colour by share of each gold row, so rare labels are not washed out by O.
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=10)
    for i in range(len(names)):
        for j in range(len(names)):
            colour = "white" if shares[i, j] > 0.6 else "black"
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=colour)
    return save_png(fig, path)
