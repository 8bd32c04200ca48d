"""The tagging pipeline: a trained model plus sentence boundaries, optionally with its
transformer quantised to int8, and the raw rows one tagged article gives.

Both engines (plain spaCy and Dask) run exactly this code per article, so their
rows cannot differ.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

from conflict_ner.articles import Article
from conflict_ner.tagging.options import QUANTIZE_CHOICES

SENTENCE_PIPES = ("parser", "senter", "sentencizer")
PARAGRAPHS = "conflict_ner_paragraph_breaks"


@Language.component(PARAGRAPHS)
def paragraph_breaks(doc: Doc) -> Doc:
    """Sentences never cross a line break (a headline or dateline without a full stop is
    its own sentence), and the break itself stays with the sentence before it."""
    for token in doc[1:-1]:
        if token.is_space and "\n" in token.text:
            token.is_sent_start = False
            doc[token.i + 1].is_sent_start = True
    return doc


def add_sentences(nlp: Language) -> Language:
    """Give the pipeline sentence boundaries (punctuation, then line breaks) unless it sets
    them; added last, so the NER sees exactly what it saw in evaluation."""
    if not any(name in nlp.pipe_names for name in SENTENCE_PIPES):
        nlp.add_pipe("sentencizer", last=True)
        nlp.add_pipe(PARAGRAPHS, last=True)
    return nlp


def quantize_int8(nlp: Language) -> Language:
    """Dynamic int8 quantisation (torch's own) of every Linear layer in the pipeline's
    PyTorch models (the transformer); raises ValueError when there is none."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    shims = [s for _, pipe in nlp.pipeline if hasattr(pipe, "model")
             for layer in pipe.model.walk() for s in layer.shims
             if isinstance(getattr(s, "_model", None), torch.nn.Module)]
    if not shims:
        raise ValueError("--quantize needs a pipeline with a PyTorch (transformer) component")
    with warnings.catch_warnings():
        # torch marks torch.ao.quantization deprecated in favour of torchao, not a dependency.
        warnings.simplefilter("ignore")
        for shim in shims:
            shim._model = quantize_dynamic(shim._model, {torch.nn.Linear}, dtype=torch.qint8)
    return nlp


@cache
def load_tagger(model: str, quantize: str | None = None) -> Language:
    """The tagging pipeline for a model, loaded once per process."""
    if quantize not in (None, *QUANTIZE_CHOICES):
        raise ValueError(f"unknown quantisation {quantize!r}; expected one of {QUANTIZE_CHOICES}")
    nlp = add_sentences(spacy.load(model))
    return quantize_int8(nlp) if quantize else nlp


@dataclass
class Tagged:
    """One article's tagging result before canonical names: its metadata, sentence
    count and mentions (each with its sentence)."""

    article: dict[str, Any]
    sentences: int
    mentions: list[dict[str, Any]] = field(default_factory=list)


def article_meta(article: Article) -> dict[str, Any]:
    """The fields every row of an article repeats."""
    return {"article_id": article.id, "title": article.title, "date": article.date,
            "source": article.source}


def tagged(doc: Doc, article: Article) -> Tagged:
    """The mentions of a tagged article, with their sentence text, index and start (the
    character offset of the sentence text in the article, so that the pairing rule can
    find a mention inside its sentence)."""
    starts = {sent.start: i for i, sent in enumerate(doc.sents)}
    meta = article_meta(article)
    mentions = [
        {**meta, "start": ent.start_char, "end": ent.end_char, "label": ent.label_,
         "text": ent.text, "sentence": ent.sent.text.strip(),
         "sentence_index": starts[ent.sent.start], "sentence_start": _text_start(ent.sent)}
        for ent in doc.ents
    ]
    return Tagged(meta, len(starts), mentions)


def _text_start(span: Span) -> int:
    """Where a span's text starts once leading whitespace is stripped."""
    return span.start_char + len(span.text) - len(span.text.lstrip())


def tag_partition(model: str, quantize: str | None, articles: list[Article]) -> list[Tagged]:
    """Tag a list of articles with this process's one copy of the model (a worker's job
    in both multi-process engines)."""
    nlp = load_tagger(model, quantize)
    docs = nlp.pipe((a.text for a in articles), batch_size=8)
    return [tagged(doc, article) for doc, article in zip(docs, articles, strict=True)]
