"""The functions a trained pipeline calls at load and run time.

This module imports spaCy only, never the rest of conflict_ner: `conflict-ner
package` ships it inside the model wheel (spaCy's --code), so the installed
model needs no toolkit.
"""


from collections.abc import Callable, Iterable
from typing import cast

import numpy
from spacy.tokens import Doc, Span
from spacy.util import filter_spans, registry
from thinc.api import Model, concatenate
from thinc.types import Floats2d

BLOCK = "_BLOCK"  # label of surface forms that must stay untagged; never output


HYPHENS = ("-", "–")
# "al-Hasakah" is a name written with a hyphen, not a compound: a rule that
# knows only "Hasakah" still marks it there, as before the compound rule.
ARABIC_ARTICLES = ("al", "el", "as", "ad", "ar", "ash", "at", "az", "an")


def _hyphen_between(doc: Doc, left: int) -> bool:
    """Whether tokens ``left`` and ``left + 2`` form one word joined by a hyphen."""
    if left < 0 or left + 2 >= len(doc) or doc[left + 1].text not in HYPHENS:
        return False
    word, hyphen, other = doc[left], doc[left + 1], doc[left + 2]
    glued = not word.whitespace_ and not hyphen.whitespace_
    return glued and word.text[-1:].isalnum() and other.text[:1].isalnum()


def in_hyphenated_compound(span: Span) -> bool:
    """A name that is only part of a hyphenated word: "IS-held", "anti-ISIS",
    "regime-YPG", "US-backed", "pro-Damascus" (LABELS.md: never tagged)."""
    doc = span.doc
    left = span.start - 2
    before = _hyphen_between(doc, left) and doc[left].lower_ not in ARABIC_ARTICLES
    return before or _hyphen_between(doc, span.end - 1)


def keep_rule_span(span: Span) -> bool:
    """Whether a matched span becomes an entity (not a blocked form, not inside a compound)."""
    return span.label_ != BLOCK and not in_hyphenated_compound(span)


@registry.misc("conflict_ner.ruler_ents_filter.v1")
def make_ents_filter() -> Callable[[Iterable[Span], Iterable[Span]], list[Span]]:
    """A SpanRuler ents_filter: longest match wins, blocked forms and adjectival places dropped,
    existing entities (e.g. from an earlier component) kept where nothing new overlaps them."""

    def ents_filter(entities: Iterable[Span], spans: Iterable[Span]) -> list[Span]:
        chosen = filter_spans(list(spans))
        taken = {i for s in chosen for i in range(s.start, s.end)}
        kept = [s for s in chosen if keep_rule_span(s)]
        old = [e for e in entities if not taken.intersection(range(e.start, e.end))]
        return sorted(kept + old, key=lambda s: s.start)

    return ents_filter


@registry.misc("conflict_ner.ruler_fill_gaps.v1")
def make_gap_filter() -> Callable[[Iterable[Span], Iterable[Span]], list[Span]]:
    """A SpanRuler ents_filter for a ruler after the NER: the NER's entities stay,
    and a rule match (longest first, blocked forms and compounds dropped) is added
    only where it overlaps none of them."""

    def ents_filter(entities: Iterable[Span], spans: Iterable[Span]) -> list[Span]:
        existing = list(entities)
        taken = {i for e in existing for i in range(e.start, e.end)}
        new = [
            s
            for s in filter_spans(list(spans))
            if keep_rule_span(s) and not taken.intersection(range(s.start, s.end))
        ]
        return sorted(existing + new, key=lambda s: s.start)

    return ents_filter


# -- the gazetteer as an input feature of the NER -----------------------------------------
def _flags(doc: Doc, spans_key: str, labels: list[str]) -> Floats2d:
    """Per token, 1.0 where a match of a label begins (column 2i) or continues (2i + 1)."""
    flags = numpy.zeros((len(doc), 2 * len(labels)), dtype="f")
    column = {label: 2 * i for i, label in enumerate(labels)}
    for span in doc.spans.get(spans_key, []):
        if span.label_ in column and not in_hyphenated_compound(span):
            flags[span.start, column[span.label_]] = 1.0
            flags[span.start + 1 : span.end, column[span.label_] + 1] = 1.0
    return cast(Floats2d, flags)


@registry.architectures("conflict_ner.GazetteerFlags.v1")
def gazetteer_flags(spans_key: str, labels: list[str]) -> Model[list[Doc], list[Floats2d]]:
    """Token features from the list matches an earlier component put in doc.spans[spans_key]:
    for each label, whether a match begins at the token and whether it continues there."""

    def forward(
        model: Model, docs: list[Doc], is_train: bool
    ) -> tuple[list[Floats2d], Callable]:
        arrays = [model.ops.asarray2f(_flags(doc, spans_key, labels)) for doc in docs]
        return arrays, lambda d_arrays: []  # fixed features: nothing to learn, nothing to pass

    return Model("gazetteer_flags", forward, dims={"nO": 2 * len(labels)})


@registry.architectures("conflict_ner.WithGazetteer.v1")
def with_gazetteer(
    tok2vec: Model[list[Doc], list[Floats2d]], spans_key: str, labels: list[str]
) -> Model[list[Doc], list[Floats2d]]:
    """A token-to-vector layer whose vectors carry the gazetteer flags as extra columns."""
    return concatenate(tok2vec, gazetteer_flags(spans_key, labels))
