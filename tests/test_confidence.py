"""The confidence step: the NER's entities its beam finds unlikely are dropped, the rest kept."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.pipeline import EntityRecognizer
from spacy.tokens import Doc, Span
from spacy.training import biluo_tags_to_spans
from thinc.api import Config

from conflict_ner import ruler_filters
from conflict_ner.packaging import custom_code_references
from conflict_ner.ruler_filters import (
    CONFIDENCE,
    confident_entities,
    entity_probabilities,
    greedy_entity_probabilities,
    ner_confidences,
    path_probabilities,
)
from conflict_ner.tasks import read_tasks

ROOT = Path(__file__).resolve().parents[1]
# A seed article: long enough for the small test model to tag, and hesitate over, many names.
TEXT = str(read_tasks(ROOT / "corpus" / "gold.jsonl")[0]["text"])


def tagged(words: list[str], ents: list[tuple[int, int, str]]) -> Doc:
    doc = Doc(spacy.blank("en").vocab, words=words)
    doc.ents = [Span(doc, s, e, label=label) for s, e, label in ents]
    return doc


def test_entities_under_their_labels_threshold_are_dropped() -> None:
    doc = tagged(["YPG", "took", "Manbij", "and", "Jarablus"],
                 [(0, 1, "FACTION"), (2, 3, "PLACE"), (4, 5, "PLACE")])  # fmt: skip
    found = {(0, 1, "FACTION"): 0.95, (2, 3, "PLACE"): 0.4, (4, 5, "PLACE"): 0.9}
    kept = confident_entities(doc, found, {"FACTION": 0.9, "PLACE": 0.9})
    assert [e.text for e in kept] == ["YPG", "Jarablus"]  # 0.9 reaches 0.9: kept
    # A label without a threshold keeps everything; an entity the beam never proposed
    # (probability 0) goes under any threshold.
    assert [e.text for e in confident_entities(doc, found, {"FACTION": 0.99})] == [
        "Manbij", "Jarablus"]  # fmt: skip
    assert confident_entities(doc, {}, {"FACTION": 0.1, "PLACE": 0.1}) == []
    assert len(confident_entities(doc, {}, {})) == 3


@pytest.fixture(scope="module")
def nlp(cnn_model: Path) -> Language:
    return spacy.load(cnn_model)


def ner_only(nlp: Language, text: str) -> Doc:
    with nlp.select_pipes(enable=nlp.pipe_names[: nlp.pipe_names.index("ner") + 1]):
        return nlp(text)


def test_probabilities_do_not_take_the_docs_entities_as_given(nlp: Language) -> None:
    # The NER keeps preset entities fixed: a naive beam over a tagged doc gives every
    # entity probability 1. The function must score a tagged doc as an untagged one.
    doc = ner_only(nlp, TEXT)
    before = [(e.start, e.end, e.label_) for e in doc.ents]
    assert before, "the test model should tag something here"
    untagged = nlp.make_doc(TEXT)
    with nlp.select_pipes(enable=nlp.pipe_names[: nlp.pipe_names.index("ner")]):
        untagged = nlp(untagged)
    ner = nlp.get_pipe("ner")
    [on_tagged] = entity_probabilities(ner, [doc], 16)  # type: ignore[arg-type]
    [on_untagged] = entity_probabilities(ner, [untagged], 16)  # type: ignore[arg-type]
    assert on_tagged == pytest.approx(on_untagged)
    assert [(e.start, e.end, e.label_) for e in doc.ents] == before  # restored
    assert any(p < 0.999 for p in on_tagged.values()), "a beam should hesitate somewhere"
    assert all(0.0 < p <= 1.0 for p in on_tagged.values())


def stepwise_greedy(ner: EntityRecognizer, doc: Doc) -> tuple[list[str], list[float]]:
    """The NER's greedy parse of an untagged doc, one step at a time through spaCy's own
    state machine and validity rules: each action and its probability among the valid."""
    names = [ner.moves.get_class_name(i) for i in range(ner.moves.n_moves)]
    [state] = ner.moves.init_batch([doc])
    step = ner.model.predict([doc])
    actions, probabilities = [], []
    while not state.is_final():
        scores = step.predict([state])[0]
        valid = numpy.array([bool(ner.moves.is_valid(state, name)) for name in names])
        p = numpy.exp(numpy.where(valid, scores - scores[valid].max(), -numpy.inf))
        best = int(numpy.argmax(numpy.where(valid, scores, -numpy.inf)))
        actions.append(names[best])
        probabilities.append(float(p[best] / p.sum()))
        ner.moves.apply_transition(state, names[best])
    step.clear_memory()
    return actions, probabilities


def test_the_greedy_paths_probabilities_are_the_parses_own(nlp: Language) -> None:
    # Read without parsing again, they must be what a step-by-step parse gives, and the
    # NER's own entities must be the path of the best valid action at every token.
    ner = nlp.get_pipe("ner")
    docs = [ner_only(nlp, text) for text in (TEXT, SENTENCE, "Fighters.")]
    assert docs[0].ents, "the test model should tag something here"
    for doc, found in zip(docs, path_probabilities(ner, docs), strict=True):  # type: ignore[arg-type]
        untagged = nlp.make_doc(doc.text)
        with nlp.select_pipes(enable=nlp.pipe_names[: nlp.pipe_names.index("ner")]):
            untagged = nlp(untagged)
        actions, expected = stepwise_greedy(ner, untagged)  # type: ignore[arg-type]
        assert len(actions) == len(doc)  # one action a token
        assert keys(doc) == [(e.start, e.end, e.label_) for e in biluo_tags_to_spans(doc, actions)]
        assert found == pytest.approx(expected, rel=1e-4, abs=1e-6)
    [by_entity] = greedy_entity_probabilities(ner, docs[:1])  # type: ignore[arg-type]
    [path] = path_probabilities(ner, docs[:1])  # type: ignore[arg-type]
    ent = docs[0].ents[0]
    assert by_entity[(ent.start, ent.end, ent.label_)] == pytest.approx(
        float(numpy.prod(path[ent.start : ent.end])))
    assert any(p < 0.999 for p in by_entity.values()), "a parse should hesitate somewhere"


def with_step(nlp: Language, threshold: float, beam_width: int = 8) -> Language:
    nlp.add_pipe("conflict_ner_confidence", name=CONFIDENCE, after="ner",
                 config={"thresholds": {"FACTION": threshold, "PLACE": threshold},
                         "beam_width": beam_width})  # fmt: skip
    return nlp


def keys(doc: Doc) -> list[tuple[int, int, str]]:
    return [(e.start, e.end, e.label_) for e in doc.ents]


@pytest.mark.parametrize("width", [1, 8])
def test_the_step_keeps_what_the_ner_finds_likely(cnn_model: Path, width: int) -> None:
    # The real parse (greedy path or beam): the step keeps exactly the NER's entities
    # that reach the threshold, and drops some.
    shipped = spacy.load(cnn_model, exclude=["pattern_ruler"])
    doc = ner_only(shipped, TEXT)
    [found] = ner_confidences(shipped.get_pipe("ner"), [doc], width)  # type: ignore[arg-type]
    # Halfway between the doc's least and most likely entity: where they differ (the
    # greedy path's always do, see above), the step must keep some and drop some.
    probabilities = [found.get(k, 0.0) for k in keys(doc)]
    threshold = (min(probabilities) + max(probabilities)) / 2
    expected = [k for k in keys(doc) if found.get(k, 0.0) >= threshold]
    if width == 1:
        assert 0 < len(expected) < len(doc.ents), "the test model should doubt some entities"
    gated = with_step(spacy.load(cnn_model, exclude=["pattern_ruler"]), threshold, width)
    with gated.select_pipes(enable=gated.pipe_names[: gated.pipe_names.index(CONFIDENCE) + 1]):
        assert keys(gated(TEXT)) == expected
        assert [keys(d) for d in gated.pipe([TEXT, TEXT])] == [keys(gated(TEXT))] * 2


SENTENCE = "Fighters of Jaish al-Fatah entered Wadi Ferzan and Qamishli on Monday."
# What a NER and its beam might say on SENTENCE: sure of the group, doubting both
# places, one of which (Qamishli) the gazetteer knows.
SENTENCE_ENTS = {(2, 6, "FACTION"): 0.95, (7, 9, "PLACE"): 0.2, (10, 11, "PLACE"): 0.3}


@Language.component("conflict_ner_test_tags")
def _test_tags(doc: Doc) -> Doc:
    """Stands in for the NER's output in one test: SENTENCE_ENTS."""
    doc.ents = [Span(doc, s, e, label=label) for s, e, label in SENTENCE_ENTS]
    return doc


def test_the_step_drops_under_the_threshold_and_the_ruler_fills_the_gap(
    cnn_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ruler_filters, "entity_probabilities",
                        lambda ner, docs, width: [dict(SENTENCE_ENTS) for _ in docs])  # fmt: skip
    nlp = with_step(spacy.load(cnn_model), 0.9)
    nlp.add_pipe("conflict_ner_test_tags", after="ner")  # before the step
    # Must fire: both doubted places go; the one the gazetteer knows comes back by rule.
    assert [e.text for e in nlp(SENTENCE).ents] == ["Jaish al-Fatah", "Qamishli"]
    with nlp.select_pipes(disable=["pattern_ruler"]):
        assert [e.text for e in nlp(SENTENCE).ents] == ["Jaish al-Fatah"]
    # Must not fire: under a lower threshold, or for a label without one, all stay.
    step = nlp.get_pipe(CONFIDENCE)
    for thresholds in ({"FACTION": 0.1, "PLACE": 0.1}, {"FACTION": 0.9}):
        step.thresholds = thresholds
        assert [e.text for e in nlp(SENTENCE).ents] == ["Jaish al-Fatah", "Wadi Ferzan",
                                                        "Qamishli"]  # fmt: skip


def test_no_threshold_means_no_beam(cnn_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("the beam ran with every threshold at 0")

    monkeypatch.setattr(ruler_filters, "entity_probabilities", fail)
    nlp = with_step(spacy.load(cnn_model), 0.0)
    assert keys(nlp(TEXT)) == keys(spacy.load(cnn_model)(TEXT))


def test_the_default_is_the_shipped_setting(cnn_model: Path) -> None:
    shipped = Config().from_disk(ROOT / "configs/ner_trf.cfg", interpolate=False)
    setting = shipped["components"][CONFIDENCE]
    nlp = spacy.load(cnn_model)
    step = nlp.add_pipe("conflict_ner_confidence", name=CONFIDENCE, after="ner")
    assert step.thresholds == pytest.approx(setting["thresholds"])  # type: ignore[attr-defined]
    assert step.beam_width == setting["beam_width"]  # type: ignore[attr-defined]


def test_the_step_survives_saving_and_ships_in_the_wheel(cnn_model: Path, tmp_path: Path) -> None:
    with_step(spacy.load(cnn_model), 0.9).to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.pipe_names.index(CONFIDENCE) == loaded.pipe_names.index("ner") + 1
    assert loaded.get_pipe(CONFIDENCE).thresholds == {"FACTION": 0.9, "PLACE": 0.9}
    refs = custom_code_references(loaded.config)
    assert refs["conflict_ner_confidence"] == "conflict_ner.ruler_filters"
