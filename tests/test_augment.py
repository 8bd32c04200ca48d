"""Augmenters: names swapped and headlines capitalised without breaking a span."""

from __future__ import annotations

import random
from collections import Counter

import spacy
from spacy.tokens import Doc
from spacy.training import Example

from conflict_ner import augment
from conflict_ner.convert import task_to_doc
from conflict_ner.tasks import make_task

TEXT = (
    "Clashes near Goma\n\nGOMA — M23 fighters and the Congolese army fought in Sake, "
    "west of Goma's airport, said the Kivu monitor."
)
SPANS = [("Goma", "PLACE"), ("GOMA", "PLACE"), ("M23", "FACTION"), ("Congolese army", "FACTION"),
         ("Sake", "PLACE"), ("Goma", "PLACE")]  # fmt: skip


def _reference() -> Doc:
    found, start = [], 0
    for surface, label in SPANS:
        start = TEXT.index(surface, start)
        found.append((start, start + len(surface), label))
        start += len(surface)
    doc, issues = task_to_doc(make_task(TEXT, found, {"article_id": "a1"}))
    assert not issues
    return doc


def _labels(doc: Doc) -> list[str]:
    return [e.label_ for e in doc.ents]


def test_replacement_keeps_labels_and_token_boundaries() -> None:
    nlp = spacy.blank("en")
    pool = augment.NamePool(use_gazetteer=False)
    pool.add(nlp.make_doc("x"))
    pool.seen = {"PLACE": ["Deir ez-Zor", "al-Hasakah"], "FACTION": ["Ansar Allah"]}
    reference = _reference()
    for seed in range(20):
        doc = augment._rebuild(nlp, reference, random.Random(seed), pool, replace_prob=1.0)
        assert _labels(doc) == _labels(reference)
        assert {e.text for e in doc.ents if e.label_ == "PLACE"} <= {"Deir ez-Zor", "al-Hasakah"}
        assert {e.text for e in doc.ents if e.label_ == "FACTION"} == {"Ansar Allah"}
        # Every span sits on the tokens our tokenizer makes of the new text.
        retokenised = nlp.make_doc(doc.text)
        for ent in doc.ents:
            span = retokenised.char_span(ent.start_char, ent.end_char, alignment_mode="strict")
            assert span is not None and span.text == ent.text
        assert doc.text.endswith("'s airport, said the Kivu monitor.")


def test_replacement_with_probability_zero_is_the_original() -> None:
    nlp = spacy.blank("en")
    reference = _reference()
    doc = augment._rebuild(nlp, reference, random.Random(0), augment.NamePool(False), 0.0)
    assert doc.text == reference.text
    assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == [
        (e.start_char, e.end_char, e.label_) for e in reference.ents
    ]


def test_capitals_for_headline_and_dateline_only() -> None:
    nlp = spacy.blank("en")
    reference = _reference()
    doc = augment._capitalise_headline_and_datelines(nlp, reference)
    assert doc.text.startswith("CLASHES NEAR GOMA\n\nGOMA — M23 fighters and the Congolese army")
    assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == [
        (e.start_char, e.end_char, e.label_) for e in reference.ents
    ]


def test_augmenter_yields_the_original_and_copies_with_its_user_data() -> None:
    nlp = spacy.blank("en")
    reference = _reference()
    example = Example(nlp.make_doc(reference.text), reference)
    run = augment.mentions_and_case(1.0, 1.0, 1.0, use_gazetteer=True, seed=1)
    produced = list(run(nlp, example))
    assert produced[0] is example and len(produced) == 3
    for copy in produced[1:]:
        assert Counter(_labels(copy.reference)) == Counter(_labels(reference))
        assert copy.reference.user_data["article_id"] == "a1"
