"""The functions a trained pipeline calls at load and run time.

This module imports spaCy only, never the rest of conflict_ner: `conflict-ner
package` ships it inside the model wheel (spaCy's --code), so the installed
model needs no toolkit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from spacy.tokens import Span
from spacy.util import filter_spans, registry

BLOCK = "_BLOCK"  # label of surface forms that must stay untagged; never output


def is_adjectival_compound(span: Span) -> bool:
    """A place inside an adjective: "US-backed", "Kurdish-held", "pro-Damascus", "Syria-based"."""
    doc = span.doc
    after = span.end < len(doc) and doc[span.end].text in ("-", "–") and not span[-1].whitespace_
    before = span.start >= 2 and doc[span.start - 1].text in ("-", "–") and (
        not doc[span.start - 2].whitespace_ and doc[span.start - 2].lower_ in ("pro", "anti")
    )
    after_word = after and span.end + 1 < len(doc) and doc[span.end + 1].is_lower
    return bool(after_word or before)


def keep_rule_span(span: Span) -> bool:
    """Whether a matched span becomes an entity (not a blocked form or an adjectival place)."""
    if span.label_ == BLOCK:
        return False
    return not (span.label_ == "PLACE" and is_adjectival_compound(span))


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
