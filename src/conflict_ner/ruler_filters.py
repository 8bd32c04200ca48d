"""Which rule matches become entities: the filters a trained pipeline's ruler calls.

A match inside a hyphenated compound or of a blocked form never becomes an
entity; before the NER the longest match wins, after it a match only fills a gap.

This module imports spaCy only, never the rest of conflict_ner: `conflict-ner
package` ships it inside the model wheel (spaCy's --code), so the installed
model needs no toolkit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from spacy.tokens import Doc, Span
from spacy.util import filter_spans, registry

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

