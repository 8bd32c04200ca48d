"""A measured and rejected variant: the gazetteer as an input feature of the NER.

Issue 9 asked for three roles of the gazetteer to be measured; this is the
third (the other two, rules before the NER and rules filling gaps after it,
are in docs/generalisation.md). A span ruler before the NER writes the list
matches into ``doc.spans["gazetteer"]``; the NER's tok2vec output gets, per
token and label, whether a match begins there and whether one continues there.
On the dev theatres it lowered strict F1 for both seeds (docs/generalisation.md),
so it is not shipped; it lives here to keep the figures reproducible:

    python benchmarks/variants/gazetteer_feature.py configs/ner_cnn.cfg /tmp/gaz.cfg
    python benchmarks/generalisation.py --config /tmp/gaz.cfg --split dev \
        --code benchmarks/variants/gazetteer_feature.py
"""

import sys
from collections.abc import Callable
from typing import cast

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Config, Model, concatenate
from thinc.types import Floats2d

from conflict_ner.ruler_filters import in_hyphenated_compound

SPANS_KEY = "gazetteer"
LABELS = ["FACTION", "PLACE"]


def _flags(doc: Doc, spans_key: str, labels: list[str]) -> Floats2d:
    """Per token, 1.0 where a match of a label begins (column 2i) or continues (2i + 1)."""
    flags = numpy.zeros((len(doc), 2 * len(labels)), dtype="f")
    column = {label: 2 * i for i, label in enumerate(labels)}
    for span in doc.spans.get(spans_key, []):
        if span.label_ in column and not in_hyphenated_compound(span):
            flags[span.start, column[span.label_]] = 1.0
            flags[span.start + 1 : span.end, column[span.label_] + 1] = 1.0
    return cast(Floats2d, flags)


# No `from __future__ import annotations` here: confection validates these
# signatures with pydantic, which needs the real types.
@registry.architectures("conflict_ner.GazetteerFlags.v1")
def gazetteer_flags(spans_key: str, labels: list[str]) -> Model[list[Doc], list[Floats2d]]:
    """Token features from the list matches an earlier component put in doc.spans."""

    def forward(model: Model, docs: list[Doc], is_train: bool) -> tuple[list[Floats2d], Callable]:
        arrays = [model.ops.asarray2f(_flags(doc, spans_key, labels)) for doc in docs]
        return arrays, lambda d_arrays: []  # fixed features: nothing to learn or pass back

    return Model("gazetteer_flags", forward, dims={"nO": 2 * len(labels)})


@registry.architectures("conflict_ner.WithGazetteer.v1")
def with_gazetteer(
    tok2vec: Model[list[Doc], list[Floats2d]], spans_key: str, labels: list[str]
) -> Model[list[Doc], list[Floats2d]]:
    """A token-to-vector layer whose vectors carry the gazetteer flags as extra columns."""
    return concatenate(tok2vec, gazetteer_flags(spans_key, labels))


def derive_config(source: str, target: str) -> None:
    """Write a copy of a shipped config whose NER sees the gazetteer flags."""
    cfg = Config().from_disk(source, interpolate=False)
    cfg["nlp"]["pipeline"].insert(cfg["nlp"]["pipeline"].index("ner"), SPANS_KEY)
    cfg["components"][SPANS_KEY] = {
        "factory": "span_ruler", "spans_key": SPANS_KEY, "spans_filter": None,
        "annotate_ents": False, "ents_filter": {"@misc": "spacy.first_longest_spans_filter.v1"},
        "phrase_matcher_attr": None, "validate": False, "overwrite": True,
        "matcher_fuzzy_compare": {"@misc": "spacy.levenshtein_compare.v1"},
        "scorer": {"@scorers": "spacy.overlapping_labeled_spans_scorer.v1"},
    }  # fmt: skip
    ner = cfg["components"]["ner"]["model"]
    ner["tok2vec"] = {"@architectures": "conflict_ner.WithGazetteer.v1", "spans_key": SPANS_KEY,
                      "labels": LABELS, "tok2vec": ner["tok2vec"]}  # fmt: skip
    cfg["initialize"]["components"][SPANS_KEY] = {"patterns": {"@misc": "conflict_ner.patterns.v1"}}
    training = cfg["training"]
    training["annotating_components"] = [*training.get("annotating_components", []), SPANS_KEY]
    # The CNN's embed width points into the tok2vec it wraps, now one level deeper.
    text = cfg.to_str().replace("${components.ner.model.tok2vec.encode.width}",
                                "${components.ner.model.tok2vec.tok2vec.encode.width}")
    with open(target, "w", encoding="utf8") as out:
        out.write(text)


if __name__ == "__main__":
    derive_config(sys.argv[1], sys.argv[2])
