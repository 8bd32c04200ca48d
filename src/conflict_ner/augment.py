"""Training-data augmenters, registered for spaCy configs (``[corpora.train.augmenter]``).

Mention replacement swaps gold mentions for other names of the same label, so
the model learns FACTION and PLACE from the words around a name rather than
from the name itself; case augmentation writes headlines and datelines in
capitals, as wires do. Both rebuild the reference ``Doc`` from tokens, so every
span stays on token boundaries and keeps its label.
"""

# No "from __future__ import annotations": spaCy validates registered functions
# against their real annotations, which must not be strings.
import random
from collections.abc import Callable, Iterator
from functools import cache

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from conflict_ner.scheme import LABELS

Augmenter = Callable[[Language, Example], Iterator[Example]]


@cache
def gazetteer_names() -> dict[str, tuple[str, ...]]:
    """Names per label from the faction list and the place gazetteer."""
    from conflict_ner import patterns  # compiling the lists takes a moment: once per process

    places = [*patterns.place_names(), *patterns.geonames_gazetteer()]
    return {
        "FACTION": tuple(sorted(set(patterns.faction_names()))),
        "PLACE": tuple(sorted(set(places))),
    }


class NamePool:
    """Names to swap in: those seen in the training stream so far, and the gazetteer's."""

    def __init__(self, use_gazetteer: bool) -> None:
        self.seen: dict[str, list[str]] = {label: [] for label in LABELS}
        self.known: dict[str, set[str]] = {label: set() for label in LABELS}
        self.use_gazetteer = use_gazetteer

    def add(self, doc: Doc) -> None:
        for ent in doc.ents:
            if ent.label_ in self.known and ent.text not in self.known[ent.label_]:
                self.known[ent.label_].add(ent.text)
                self.seen[ent.label_].append(ent.text)

    def draw(self, label: str, rng: random.Random) -> str | None:
        seen = self.seen.get(label) or []
        listed = gazetteer_names().get(label, ()) if self.use_gazetteer else ()
        if listed and (not seen or rng.random() < 0.5):
            return rng.choice(listed)
        return rng.choice(seen) if seen else None


def _rebuild(
    nlp: Language, doc: Doc, rng: random.Random, pool: NamePool, replace_prob: float
) -> Doc:
    """The doc with some entities replaced by other names of the same label."""
    words: list[str] = []
    spaces: list[bool] = []
    iob: list[str] = []
    ents = {ent.start: ent for ent in doc.ents}
    i = 0
    while i < len(doc):
        ent = ents.get(i)
        if ent is None:
            words.append(doc[i].text)
            spaces.append(bool(doc[i].whitespace_))
            iob.append("O")
            i += 1
            continue
        name = pool.draw(ent.label_, rng) if rng.random() < replace_prob else None
        tokens = [t for t in nlp.make_doc(name)] if name else list(ent)
        for n, tok in enumerate(tokens):
            words.append(tok.text)
            last = n == len(tokens) - 1
            spaces.append(bool(ent[-1].whitespace_) if last else bool(tok.whitespace_))
            iob.append(("B-" if n == 0 else "I-") + ent.label_)
        i = ent.end
    return Doc(nlp.vocab, words=words, spaces=spaces, ents=iob)


def _capitalise_headline_and_datelines(nlp: Language, doc: Doc) -> Doc:
    """The doc with its first paragraph (the headline) and each paragraph's opening
    place name in capitals; entities stay where they were."""
    upper = set()
    paragraph_start = True
    in_headline = True
    for tok in doc:
        if tok.is_space and "\n" in tok.text:
            in_headline = False
            paragraph_start = True
            continue
        if in_headline:
            upper.add(tok.i)
        elif paragraph_start and tok.ent_iob_ in ("B", "I"):
            upper.add(tok.i)
            continue
        paragraph_start = False
    words = [t.text.upper() if t.i in upper and len(t.text.upper()) == len(t.text) else t.text
             for t in doc]  # fmt: skip
    spaces = [bool(t.whitespace_) for t in doc]
    iob = [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in ("B", "I") else "O" for t in doc]
    return Doc(nlp.vocab, words=words, spaces=spaces, ents=iob)


def _example(nlp: Language, reference: Doc, original: Example) -> Example:
    augmented = Example(nlp.make_doc(reference.text), reference)
    augmented.reference.user_data.update(original.reference.user_data)
    return augmented


@registry.augmenters("conflict_ner.mentions_and_case.v1")
def mentions_and_case(
    replace_level: float = 0.5,
    replace_prob: float = 0.5,
    upper_level: float = 0.1,
    use_gazetteer: bool = True,
    seed: int = 0,
) -> Augmenter:
    """Per training example: with probability ``replace_level`` yield a copy whose
    entities are each replaced with probability ``replace_prob`` by another name
    of the same label; with probability ``upper_level`` a copy with its headline
    and datelines in capitals. The original is always yielded too."""
    rng = random.Random(seed)
    pool = NamePool(use_gazetteer)

    def augment(nlp: Language, example: Example) -> Iterator[Example]:
        pool.add(example.reference)
        yield example
        if rng.random() < replace_level:
            doc = _rebuild(nlp, example.reference, rng, pool, replace_prob)
            yield _example(nlp, doc, example)
        if rng.random() < upper_level:
            doc = _capitalise_headline_and_datelines(nlp, example.reference)
            yield _example(nlp, doc, example)

    return augment
