"""A measured variant: case-aware token features beside the uncased backbone.

all-MiniLM-L6-v2 lowercases its input, so the NER cannot tell "the Coalition"
from "the coalition" or a name from the word it is spelled like, except through
context. This variant gives the NER's tok2vec, beside the transformer's
listener, a small hash embedding of each token's own SHAPE (Xxxxx, XXX, dd),
PREFIX and SUFFIX, which keep case; the two are concatenated per token. Not yet
trained on the grown corpus (issue 22 asks for it on real-dev); to measure:

    python benchmarks/variants/case_features.py configs/ner_trf.cfg /tmp/case.cfg
    python benchmarks/generalisation.py --config /tmp/case.cfg --split dev \
        --code benchmarks/variants/case_features.py
"""

import sys

from spacy.util import registry
from thinc.api import Config, Model, concatenate
from thinc.types import Floats2d

ATTRS = ["SHAPE", "PREFIX", "SUFFIX"]
ROWS = [1000, 2500, 2500]
WIDTH = 64


# No `from __future__ import annotations` here: confection validates these
# signatures with pydantic, which needs the real types.
@registry.architectures("conflict_ner.WithCaseFeatures.v1")
def with_case_features(
    tok2vec: Model[list, list[Floats2d]], width: int, attrs: list[str], rows: list[int]
) -> Model[list, list[Floats2d]]:
    """A token-to-vector layer whose vectors carry a hash embedding of case-keeping attributes."""
    embed = registry.architectures.get("spacy.MultiHashEmbed.v2")(
        width=width, attrs=attrs, rows=rows, include_static_vectors=False
    )
    return concatenate(tok2vec, embed)


def derive_config(source: str, target: str) -> None:
    """Write a copy of a shipped config whose NER also sees the case features."""
    cfg = Config().from_disk(source, interpolate=False)
    ner = cfg["components"]["ner"]["model"]
    ner["tok2vec"] = {"@architectures": "conflict_ner.WithCaseFeatures.v1", "width": WIDTH,
                      "attrs": ATTRS, "rows": ROWS, "tok2vec": ner["tok2vec"]}  # fmt: skip
    with open(target, "w", encoding="utf8") as out:
        out.write(cfg.to_str())


if __name__ == "__main__":
    derive_config(sys.argv[1], sys.argv[2])
