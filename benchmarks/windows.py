"""Transformer windows: what the stride of the strided spans costs one trained pipeline.

    python benchmarks/windows.py MODEL [--window 128] [--strides 96 128] [--words 20000]

The pipeline's transformer reads each document in windows of --window tokens,
a new one every --stride tokens; tokens where windows overlap are read twice
and their outputs averaged. For each stride in turn the same loaded pipeline
gets that span getter and runs over the same text (benchmarks/inference.py's
texts and timing: interleaved rounds after a warm-up, best and median), and
the wordpieces its transformer reads are counted. Ratios are to the first
stride. A training step reads the same windows forward and backward, so the
wordpiece ratio is what a stride changes in the transformer's training cost;
its accuracy is measured by training (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import spacy
import torch
from _common import ROOT, console, cores, finish, machine_info, print_machine, ratio, table
from inference import Runner, count_words, load_texts, pipeline_runner, summarise, time_runs
from spacy.language import Language
from spacy_transformers.span_getters import configure_strided_spans


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="a trained transformer pipeline")
    parser.add_argument("--window", type=int, default=128)
    parser.add_argument("--strides", type=int, nargs="+", default=[96, 128],
                        help="the first is the baseline")  # fmt: skip
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--articles", type=Path, default=ROOT / "corpus/articles.jsonl")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args()


def set_stride(nlp: Language, window: int, stride: int) -> None:
    """Give the pipeline's transformer strided spans of `window` tokens every `stride`."""
    trf: Any = nlp.get_pipe("transformer")
    trf.model.attrs["get_spans"] = configure_strided_spans(window, stride)


def wordpieces_read(nlp: Language, texts: list[str]) -> int:
    """Wordpieces (special tokens included) the transformer's windows hold over the texts."""
    trf: Any = nlp.get_pipe("transformer")
    tokenizer = trf.model.tokenizer
    spans = trf.model.attrs["get_spans"]([nlp.make_doc(text) for text in texts])
    windows = [span.text for doc_spans in spans for span in doc_spans]
    return sum(len(ids) for ids in tokenizer(windows)["input_ids"])


def main() -> None:
    """Time the pipeline at each stride on the same text; print figures and ratios."""
    args = parse_args()
    torch.set_num_threads(cores())
    info = machine_info()
    print_machine(info)
    nlp = spacy.load(args.model)
    texts = load_texts(args.articles, args.words)
    words = count_words(texts)
    console.print(f"pipeline: {args.model}; text: {len(texts)} articles, {words:,} words")

    pieces: dict[str, int] = {}
    runners: dict[str, Runner] = {}
    for stride in args.strides:
        name = f"{args.window}/{stride}"
        set_stride(nlp, args.window, stride)
        pieces[name] = wordpieces_read(nlp, texts)
        runners[name] = strided_runner(nlp, texts, args.window, stride)
    figures = summarise(time_runs(runners, args.repeats), words)
    base = f"{args.window}/{args.strides[0]}"
    rows = [
        [name, f"{pieces[name]:,}", f"{ratio(pieces[name], pieces[base]):.3f}",
         f"{f['wps_best']:,.0f}", f"{f['wps_median']:,.0f}",
         f"{ratio(f['wps_best'], figures[base]['wps_best']):.3f}"]
        for name, f in figures.items()
    ]  # fmt: skip
    console.print(table("windows", ["window/stride", "wordpieces", "ratio", "wps", "median wps",
                                    "wps ratio"], rows))  # fmt: skip
    finish(info, {"model": str(args.model), "words": words, "wordpieces": pieces,
                  "figures": figures}, args.json)  # fmt: skip


def strided_runner(nlp: Language, texts: list[str], window: int, stride: int) -> Runner:
    """The whole pipeline over the texts with the transformer at this stride."""
    run_pipeline = pipeline_runner(nlp, texts)

    def run() -> None:
        set_stride(nlp, window, stride)
        run_pipeline()

    return run


if __name__ == "__main__":
    main()
