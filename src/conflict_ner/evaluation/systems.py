"""What gets scored: gold Docs from .spacy or Prodigy JSONL, and systems that predict on them.

A system is anything that turns a text into entities: a trained spaCy pipeline,
the pattern baseline, the memorisation baseline or another installed pipeline
with its labels mapped onto ours. Predictions always come back as Docs in the
gold Doc's tokenization, so every scorer compares token offsets like for like.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans, is_package

from conflict_ner.convert import gold_docs, read_docbin
from conflict_ner.scheme import LABELS

# Factories whose components write entities by rule, not by a trained model.
RULE_FACTORIES = frozenset({"span_ruler", "entity_ruler"})
# What a system is in the report: the model, one of its ablations, or a baseline.
MODEL, NER_ALONE, RULES_ALONE, BASELINE = "model", "ner alone", "rules alone", "baseline"


@dataclass
class System:
    """A named predictor: a pipeline, the components switched off while it predicts,
    and how its labels map onto ours (None: as they are)."""

    name: str
    nlp: Language
    label_map: dict[str, str] | None = None
    note: str = ""
    role: str = BASELINE
    disable: tuple[str, ...] = ()


@dataclass
class Skipped:
    """A baseline that could not run, and why (shown in the report, never silent)."""

    name: str
    reason: str


@dataclass
class Systems:
    """The systems to score: the model, its ablations, baselines, those skipped, and the
    training data that decides which names the model has seen (None: not known)."""

    model: System
    ablations: list[System] = field(default_factory=list)
    baselines: list[System] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    train: Path | None = None


def load_gold(path: Path) -> list[Doc]:
    """Gold Docs from a .spacy file or Prodigy JSONL (one Doc per accepted task)."""
    path = Path(path)
    if path.suffix == ".spacy":
        return read_docbin(path, LABELS)  # a label outside the scheme is refused, as in JSONL
    return gold_docs(path)


def load_pipeline(name: str | Path) -> Language:
    """A spaCy pipeline from a path or an installed package name."""
    return spacy.load(name)


def parse_label_map(text: str) -> dict[str, str]:
    """``GPE=PLACE,ORG=FACTION`` -> {"GPE": "PLACE", "ORG": "FACTION"}; raises ValueError."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"label map item {item!r} is not SOURCE=TARGET")
        mapping[source.strip()] = target.strip()
    return mapping


def predict(system: System, gold: Sequence[Doc]) -> list[Doc]:
    """The system's entities on each gold text, as Docs in the gold tokenization.

    A predicted entity off the gold token boundaries is widened to the tokens
    it touches (``expand``), the alignment spaCy's own scorer applies.
    """
    with system.nlp.select_pipes(disable=list(system.disable)):
        predicted = list(system.nlp.pipe(doc.text for doc in gold))
    return [transfer(g, p, system.label_map) for g, p in zip(gold, predicted, strict=True)]


def rule_components(nlp: Language) -> list[str]:
    """The pipeline's components that set entities by rule (span and entity rulers)."""
    return [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory in RULE_FACTORIES]


def ablations(model: System) -> list[System | Skipped]:
    """The model with its rule components off (NER alone) and its rule components alone."""
    rules = rule_components(model.nlp)
    others = [name for name in model.nlp.pipe_names if name not in rules]
    no_rules = Skipped("", "the pipeline has no rule component")
    ner_alone = System(NER_ALONE, model.nlp, role=NER_ALONE, disable=tuple(rules),
                       note=f"rule components off: {', '.join(rules)}")
    rules_alone = System(RULES_ALONE, model.nlp, role=RULES_ALONE, disable=tuple(others),
                         note=f"only {', '.join(rules)}")
    return [
        ner_alone if rules and others else Skipped(
            NER_ALONE, no_rules.reason if not rules else "the pipeline is nothing but rules"),
        rules_alone if rules else Skipped(RULES_ALONE, no_rules.reason),
    ]


def trained_on(nlp: Language) -> Path | None:
    """The training data a pipeline's config names (``paths.train``), if that file exists."""
    path = nlp.config.get("paths", {}).get("train")
    return Path(path) if isinstance(path, str) and Path(path).is_file() else None


def transfer(gold: Doc, pred: Doc, label_map: dict[str, str] | None) -> Doc:
    """A copy of the gold tokens carrying the prediction's (mapped) entities."""
    out = Doc(gold.vocab, words=[t.text for t in gold], spaces=[bool(t.whitespace_) for t in gold])
    out.user_data.update(gold.user_data)
    spans: list[Span] = []
    for ent in pred.ents:
        label = ent.label_ if label_map is None else label_map.get(ent.label_)
        if label is None:
            continue  # a label outside the mapping (PERSON, DATE...) is not ours to score
        span = out.char_span(ent.start_char, ent.end_char, label=label, alignment_mode="expand")
        if span is not None:
            spans.append(span)
    out.ents = filter_spans(spans)
    return out


def memorisation_pipeline(train: Sequence[Doc]) -> Language:
    """A pipeline that tags every surface form seen in training with its majority label.

    Phrases match on token boundaries (the entity ruler's PhraseMatcher) and
    overlapping matches resolve longest first, as the ruler does.
    """
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in train:
        for ent in doc.ents:
            votes[ent.text][ent.label_] += 1
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    # most_common breaks ties by first seen; sort labels first so ties are stable.
    patterns = [
        {"label": max(sorted(c), key=c.__getitem__), "pattern": text}
        for text, c in sorted(votes.items())
    ]
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]
    return nlp


def pattern_system() -> System | Skipped:
    """The pattern baseline from patterns.build_pipeline(), or why it is unavailable."""
    try:
        from conflict_ner.patterns import build_pipeline
    except ImportError as err:
        return Skipped("patterns", f"conflict_ner.patterns is not available ({err})")
    return System("patterns", build_pipeline(), note="faction names and place gazetteer")


def named_system(name: str, label_map: dict[str, str]) -> System | Skipped:
    """An installed spaCy pipeline with its labels mapped onto ours, or why it was skipped."""
    if not is_package(name) and not Path(name).exists():
        return Skipped(name, f"spaCy pipeline {name!r} is not installed: pip install it to compare")
    unknown = sorted(set(label_map.values()) - set(LABELS))
    if unknown:
        return Skipped(name, f"label map targets {unknown} are not in the scheme {list(LABELS)}")
    mapping = ", ".join(f"{k}→{v}" for k, v in label_map.items())
    return System(name, load_pipeline(name), dict(label_map), note=f"labels mapped: {mapping}")


def memorisation_system(train_path: Path) -> System | Skipped:
    """The memorisation baseline from a training file, or why it was skipped."""
    if not Path(train_path).exists():
        return Skipped("memorisation", f"training data {train_path} does not exist")
    train = load_gold(train_path)
    surfaces = len({e.text for d in train for e in d.ents})
    return System("memorisation", memorisation_pipeline(train),
                  note=f"{surfaces} surface forms from {train_path}")
