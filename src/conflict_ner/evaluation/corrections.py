"""Annotator actions: what it takes to turn an article's pre-annotations into its gold.

The model of the annotator (doccano's span editor, or Prodigy's ner.manual):
every action is one edit of one span, and costs one.

- **add**: a gold span with no pre-annotated span overlapping it is drawn;
- **delete**: a pre-annotated span overlapping no gold span is removed;
- **boundary**: a pre-annotated span with the right label and the wrong extent is
  dragged to the gold extent;
- **label**: a pre-annotated span with the right extent and the wrong label is
  relabelled;
- a span wrong in both extent and label costs both a boundary and a label action.

Overlapping pre-annotated and gold spans are paired one to one so that the
actions are fewest (an assignment problem; a pair that needs both fixes costs
what deleting and redrawing costs). The harness's greedy left-to-right pairing
(``scoring.align``) can count more: two pre-annotations over one gold span, the
first with the wrong label, would cost three actions there and two here. From
an empty article the actions are one add per gold span.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment
from spacy.tokens import Doc

from conflict_ner.evaluation.crosscheck import ents_of
from conflict_ner.evaluation.error_analysis import error_kind
from conflict_ner.evaluation.scoring import Ent

ACTIONS: tuple[str, ...] = ("add", "delete", "boundary", "label")
# The actions that fix one error kind of error_analysis.
ACTIONS_OF_KIND: dict[str, tuple[str, ...]] = {
    "false_negative": ("add",),
    "false_positive": ("delete",),
    "boundary": ("boundary",),
    "label": ("label",),
    "boundary_label": ("boundary", "label"),
}


@dataclass
class Corrections:
    """Actions per kind and the words of the articles they were counted over."""

    actions: Counter[str] = field(default_factory=Counter)
    words: int = 0
    articles: int = 0

    @property
    def total(self) -> int:
        return sum(self.actions[a] for a in ACTIONS)

    @property
    def per_1000_words(self) -> float:
        return 1000 * self.total / self.words if self.words else float("nan")

    def saving_against(self, baseline: Corrections) -> float:
        """The share of the baseline's actions this one spares (0.4: 40% fewer)."""
        return 1 - self.total / baseline.total if baseline.total else float("nan")


def words(doc: Doc) -> int:
    """Words of an article: its tokens that are neither punctuation nor space."""
    return sum(not (t.is_punct or t.is_space) for t in doc)


def article_actions(gold: Doc, pre: Doc) -> Counter[str]:
    """The fewest actions that turn one article's pre-annotated spans (pre) into its gold."""
    actions: Counter[str] = Counter()
    for g, p in fewest_action_pairs(ents_of(gold), ents_of(pre)):
        kind = error_kind(g, p)
        if kind is not None:
            actions.update(ACTIONS_OF_KIND[kind])
    return actions


def fewest_action_pairs(gold: list[Ent], pre: list[Ent]) -> list[tuple[Ent | None, Ent | None]]:
    """(gold, pre) pairs of overlapping spans, (gold, None) and (None, pre) for the rest,
    paired so that the actions are fewest."""
    # Pairing saves the delete and the add (2) less the fixes the pair needs; a tie
    # (both fixes) goes to fixing, as an editor would, by a bonus too small to
    # change the fewest total.
    saving = np.zeros((len(gold), len(pre)))
    tie_bonus = 1 / (len(gold) + len(pre) + 1)
    for i, g in enumerate(gold):
        for j, p in enumerate(pre):
            if g.overlaps(p):
                fixes = len(ACTIONS_OF_KIND.get(error_kind(g, p) or "", ()))
                saving[i, j] = 2 - fixes + tie_bonus
    rows, cols = linear_sum_assignment(saving, maximize=True) if saving.size else ([], [])
    paired = [(i, j) for i, j in zip(rows, cols, strict=True) if saving[i, j] > 0]
    pairs: list[tuple[Ent | None, Ent | None]] = [(gold[i], pre[j]) for i, j in paired]
    pairs += [(g, None) for i, g in enumerate(gold) if i not in {i for i, _ in paired}]
    pairs += [(None, p) for j, p in enumerate(pre) if j not in {j for _, j in paired}]
    return pairs


def count_corrections(pairs: Iterable[tuple[Doc, Doc]]) -> Corrections:
    """Actions summed over (gold, pre-annotated) articles in the gold tokenization."""
    total = Corrections()
    for gold, pre in pairs:
        total.actions.update(article_actions(gold, pre))
        total.words += words(gold)
        total.articles += 1
    return total


def from_nothing(gold: Iterable[Doc]) -> Corrections:
    """The actions from empty articles: one add per gold span."""
    return count_corrections((doc, _without_entities(doc)) for doc in gold)


def _without_entities(doc: Doc) -> Doc:
    empty = doc.copy()
    empty.ents = []
    return empty
