"""Inference speed: words per second of the transformer pipeline, against two baselines.

    python benchmarks/inference.py [MODEL_DIR] [--words 20000] [--repeats 3]

MODEL_DIR (default training/model-best) is a trained transformer pipeline; if
it is missing, configs/ner_trf.cfg is initialised on its default backbone
without training (the speed is the same: training changes weights, not work).
Baselines, measured in the same process on the same texts:

- raw: the same backbone in plain transformers (AutoTokenizer + AutoModel,
  torch.no_grad), fed exactly the windows the pipeline's transformer sees
  (its strided spans of 128 tokens, as configured) in the pipeline's own sub-batches:
  what the machine allows for this backbone;
- cnn: configs/ner_cnn.cfg, initialised the same way.

Words are whitespace-separated words of the input text, the same count for all
three systems. The text is corpus/articles.jsonl repeated (whole articles) to
at least --words words. Runs interleave (raw, pipeline, cnn, raw, ...) so that
load from other work on the machine hits all three alike; the best run is the
figure, the median is printed beside it. After the rounds, the pipeline's time
is split by component (the tokenizer, then each component's ``pipe`` in turn
over the same texts, best of two), so a gap to the raw pass has a name.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import spacy
import torch
from _common import ROOT, console, cores, finish, machine_info, print_machine, ratio, table
from rich.progress import Progress
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example
from spacy_transformers.util import batch_by_length

from conflict_ner.tasks import read_tasks
from conflict_ner.training import resolve_backbone

Runner = Callable[[], None]


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", type=Path, default=ROOT / "training/model-best")
    parser.add_argument("--words", type=int, default=20_000, help="words of text per run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per system")
    parser.add_argument("--articles", type=Path, default=ROOT / "corpus/articles.jsonl")
    parser.add_argument("--trf-config", type=Path, default=ROOT / "configs/ner_trf.cfg")
    parser.add_argument("--cnn-config", type=Path, default=ROOT / "configs/ner_cnn.cfg")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args()


def load_texts(articles: Path, words: int) -> list[str]:
    """Whole articles from the articles file, repeated until they hold at least `words` words."""
    rows = [json.loads(line) for line in articles.read_text(encoding="utf8").splitlines() if line]
    base = [row["text"] for row in rows if row.get("text")]
    if not base:
        raise SystemExit(f"{articles} holds no article text")
    texts: list[str] = []
    total = 0
    while total < words:
        text = base[len(texts) % len(base)]
        texts.append(text)
        total += len(text.split())
    return texts


def count_words(texts: list[str]) -> int:
    """Whitespace-separated words: the one denominator for every system."""
    return sum(len(text.split()) for text in texts)


def init_examples(nlp: Language) -> list[Example]:
    """A few annotated examples for nlp.initialize: corpus/train.spacy, else corpus/gold.jsonl."""
    train = ROOT / "corpus/train.spacy"
    if train.is_file():
        docs = list(DocBin().from_disk(train).get_docs(nlp.vocab))
        examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    else:
        examples = []
        for task in read_tasks(ROOT / "corpus/gold.jsonl"):
            ents = [(s["start"], s["end"], s["label"]) for s in task.get("spans", [])]
            examples.append(Example.from_dict(nlp.make_doc(task["text"]), {"entities": ents}))
    return examples[:8]


def build_untrained(config_path: Path) -> Language:
    """A pipeline from a training config, initialised on a few examples, not trained."""
    config = spacy.util.load_config(config_path, interpolate=True)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    examples = init_examples(nlp)
    nlp.initialize(lambda: examples)
    return nlp


def load_transformer_pipeline(model: Path, config: Path) -> tuple[Language, str]:
    """The trained pipeline at `model`, else an untrained one from `config`; and which it is."""
    if (model / "config.cfg").is_file():
        nlp = spacy.load(model)
        source = f"trained pipeline {model}"
    else:
        nlp = build_untrained(config)
        source = f"{config.name} initialised without training ({model} is missing)"
    if "transformer" not in nlp.pipe_names:
        raise SystemExit(f"{model} has no transformer component: {nlp.pipe_names}")
    return nlp, source


def backbone_name(nlp: Language) -> str:
    """What the pipeline's transformer loads (a Hugging Face name or a local directory)."""
    name: Any = nlp.config.interpolate()["components"]["transformer"]["model"]["name"]
    if isinstance(name, dict):
        name = name.get("name")
    return resolve_backbone(str(name))


def raw_batches(nlp: Language, texts: list[str]) -> list[list[str]]:
    """The window texts of each forward pass the pipeline's transformer makes, in order.

    Same outer batches (nlp.batch_size docs), same sub-batches (batch_by_length
    over max_batch_items), same strided spans: computed before timing.
    """
    trf: Any = nlp.get_pipe("transformer")  # a spacy-transformers Transformer
    get_spans = trf.model.attrs["get_spans"]
    docs = [nlp.make_doc(text) for text in texts]
    batches: list[list[str]] = []
    for start in range(0, len(docs), nlp.batch_size):
        outer = docs[start : start + nlp.batch_size]
        for indices in batch_by_length(outer, trf.cfg["max_batch_items"]):
            spans = get_spans([outer[i] for i in indices])
            batches.append([span.text for doc_spans in spans for span in doc_spans])
    return batches


def raw_runner(name: str, batches: list[list[str]]) -> Runner:
    """A function that runs tokenizer + forward pass of the backbone over every batch."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name, use_fast=True)
    model = AutoModel.from_pretrained(name).eval()

    def run() -> None:
        with torch.no_grad():
            for texts in batches:
                encoded = tokenizer(texts, padding="longest", return_tensors="pt")
                model(**encoded)

    return run


def pipeline_runner(nlp: Language, texts: list[str]) -> Runner:
    """A function that runs the whole pipeline (tokenizer included) over the texts."""

    def run() -> None:
        for _ in nlp.pipe(texts, batch_size=nlp.batch_size):
            pass

    return run


def component_seconds(nlp: Language, texts: list[str], rounds: int = 2) -> dict[str, float]:
    """Best seconds per component (and the tokenizer) over the texts, one component at a time."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        start = time.perf_counter()
        docs = [nlp.make_doc(text) for text in texts]
        times = {"tokenizer": time.perf_counter() - start}
        for name, component in nlp.pipeline:
            start = time.perf_counter()
            pipe = getattr(component, "pipe", None)  # a plain function has none
            run = pipe(docs, batch_size=nlp.batch_size) if pipe else map(component, docs)
            docs = list(run)
            times[name] = time.perf_counter() - start
        best = {k: min(v, best.get(k, v)) for k, v in times.items()}
    return best


def time_runs(runners: dict[str, Runner], repeats: int) -> dict[str, list[float]]:
    """Seconds of each run, the systems interleaved; one untimed warm-up each first."""
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("timing", total=len(runners) * (repeats + 1))
        for round_ in range(repeats + 1):
            for name, run in runners.items():
                progress.update(task, description=f"{name} run {round_}/{repeats}")
                start = time.perf_counter()
                run()
                if round_:  # round 0 is the warm-up
                    seconds[name].append(time.perf_counter() - start)
                progress.advance(task)
    return seconds


def summarise(seconds: dict[str, list[float]], words: int) -> dict[str, dict[str, float]]:
    """Words per second, best and median, for each system."""
    return {
        name: {
            "words": words,
            "best_s": min(runs),
            "median_s": statistics.median(runs),
            "wps_best": words / min(runs),
            "wps_median": words / statistics.median(runs),
        }
        for name, runs in seconds.items()
    }


def report(figures: dict[str, dict[str, float]]) -> dict[str, float]:
    """Print the figures and the ratios; return the ratios."""
    rows = [
        [name, f"{f['words']:,}", f"{f['best_s']:.2f}", f"{f['wps_best']:,.0f}",
         f"{f['wps_median']:,.0f}"]
        for name, f in figures.items()
    ]  # fmt: skip
    console.print(table("inference speed", ["system", "words", "best s", "wps", "median wps"],
                        rows))  # fmt: skip
    ratios = {
        "pipeline/raw": ratio(figures["pipeline"]["wps_best"], figures["raw"]["wps_best"]),
        "pipeline/cnn": ratio(figures["pipeline"]["wps_best"], figures["cnn"]["wps_best"]),
    }
    for name, value in ratios.items():
        console.print(f"ratio {name} (words per second): {value:.3f}")
    return ratios


def main() -> None:
    """Build the three systems, time them on the same text, print figures and ratios."""
    args = parse_args()
    torch.set_num_threads(cores())
    info = machine_info()
    info["torch_threads"] = torch.get_num_threads()
    print_machine(info)
    texts = load_texts(args.articles, args.words)
    words = count_words(texts)
    with console.status("loading the pipelines and the backbone"):
        nlp, source = load_transformer_pipeline(args.model, args.trf_config)
        cnn = build_untrained(args.cnn_config)
        backbone = backbone_name(nlp)
        raw = raw_runner(backbone, raw_batches(nlp, texts))
    console.print(f"pipeline: {source}\nbackbone: {backbone}\n"
                  f"text: {len(texts)} articles, {words:,} words; torch threads "
                  f"{info['torch_threads']}")  # fmt: skip
    runners = {
        "raw": raw,
        "pipeline": pipeline_runner(nlp, texts),
        "cnn": pipeline_runner(cnn, texts),
    }
    figures = summarise(time_runs(runners, args.repeats), words)
    ratios = report(figures)
    components = component_seconds(nlp, texts)
    console.print(table("pipeline seconds by component", ["component", "s"],
                        [[name, f"{sec:.2f}"] for name, sec in components.items()]))  # fmt: skip
    results = {"source": source, "backbone": backbone, "articles": len(texts),
               "figures": figures, "ratios": ratios, "repeats": args.repeats,
               "components": components}  # fmt: skip
    finish(info, results, args.json)


if __name__ == "__main__":
    main()
