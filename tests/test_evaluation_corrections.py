"""Annotator actions from pre-annotations to gold: one per add, delete, boundary or label fix."""

from __future__ import annotations

import spacy
from spacy.tokens import Doc, Span

from conflict_ner.evaluation.corrections import (
    Corrections,
    article_actions,
    count_corrections,
    from_nothing,
    words,
)

TEXT = "Wagner fighters left Kidal , and the Malian army entered Gao on Monday ."
NLP = spacy.blank("en")


def doc_with(spans: list[tuple[int, int, str]]) -> Doc:
    doc = NLP.make_doc(TEXT)
    doc.ents = [Span(doc, s, e, label=label) for s, e, label in spans]
    return doc


GOLD = [(0, 1, "FACTION"), (3, 4, "PLACE"), (10, 11, "PLACE")]


def test_exact_pre_annotations_need_nothing() -> None:
    assert sum(article_actions(doc_with(GOLD), doc_with(GOLD)).values()) == 0


def test_each_kind_of_slip_costs_its_action() -> None:
    pre = [
        (0, 2, "FACTION"),  # "Wagner fighters": right label, wrong extent -> boundary
        (3, 4, "FACTION"),  # Kidal as FACTION: right extent, wrong label -> label
        (7, 9, "FACTION"),  # "Malian army": no gold overlaps -> delete
        # Gao missing -> add
    ]
    actions = article_actions(doc_with(GOLD), doc_with(pre))
    assert actions == {"boundary": 1, "label": 1, "delete": 1, "add": 1}


def test_wrong_extent_and_label_costs_two() -> None:
    actions = article_actions(doc_with([(3, 4, "PLACE")]), doc_with([(2, 4, "FACTION")]))
    assert actions == {"boundary": 1, "label": 1}


def test_a_span_is_fixed_where_one_overlaps_not_deleted_and_redrawn() -> None:
    # Two predictions overlap one gold span: one is fixed, the other deleted.
    actions = article_actions(doc_with([(7, 9, "FACTION")]),
                              doc_with([(7, 8, "PLACE"), (8, 9, "FACTION")]))
    assert actions == {"boundary": 1, "delete": 1}


def test_from_nothing_is_one_add_per_gold_span_and_counts_words() -> None:
    gold = [doc_with(GOLD), doc_with(GOLD[:1])]
    empty = from_nothing(gold)
    assert empty.actions == {"add": 4} and empty.articles == 2
    assert empty.words == 2 * words(gold[0]) == 2 * 12  # the two punctuation tokens do not count
    assert empty.per_1000_words == 1000 * 4 / 24


def test_saving_is_the_share_of_actions_spared() -> None:
    gold = [doc_with(GOLD)]
    ruler_like = count_corrections([(gold[0], doc_with(GOLD[:2]))])  # one add left
    assert ruler_like.total == 1
    assert ruler_like.saving_against(from_nothing(gold)) == 1 - 1 / 3
    assert Corrections().saving_against(Corrections()) != Corrections().saving_against(
        Corrections()
    )  # NaN: no baseline actions, no saving to speak of
