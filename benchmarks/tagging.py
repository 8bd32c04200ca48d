"""Tagging throughput (articles/s, words/s) for 1 and 2 processes and Dask with 2
workers, and the int8 quantisation's speed-up and F1 change.

    python benchmarks/tagging.py [MODEL_DIR] [--articles 2000] [--test corpus/test.spacy]

The corpus is corpus/articles.jsonl repeated to at least --articles articles,
each copy made distinct by a last line "Copy N." (tag skips repeated texts).
Each engine runs `conflict_ner.tagging.tag.tag` in a fresh Python process (a
fork after torch has run can hang, and each engine must load its own model).
The figure is the steady rate: articles and words committed between the first
and the last batch over the time between them, so model loading and cluster
start-up are left out (their cost is printed apart, as the wall time). Ratios are
to the 1-process run of the same invocation.

Quantisation: fp32 and int8 pipelines in this process, alternating runs over the
same articles (the best of --repeats is the figure), and strict micro F1 of both
on the held-out test articles (--test, a .spacy file). The load average is
printed beside every figure: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _common import ROOT, console, finish, load_average, machine_info, print_machine, ratio, table

from conflict_ner.articles import content_id, load_articles, write_articles

RUNS = {"spacy, 1 process": ("spacy", 1), "spacy, 2 processes": ("spacy", 2),
        "dask, 2 workers": ("dask", 2)}


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", type=Path, default=ROOT / "training/model-best")
    parser.add_argument("--articles", type=int, default=2000, help="articles in the corpus")
    parser.add_argument("--source", type=Path, default=ROOT / "corpus/articles.jsonl")
    parser.add_argument("--batch-size", type=int, default=32, help="articles per batch")
    parser.add_argument("--test", type=Path, default=ROOT / "corpus/test.spacy")
    parser.add_argument("--quantize-articles", type=int, default=100,
                        help="articles per timed run of fp32 and int8")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of fp32 and int8")
    parser.add_argument("--skip", nargs="*", default=[], choices=["engines", "quantize"])
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--child", nargs=4, metavar=("ENGINE", "N", "CORPUS", "OUT"),
                        help=argparse.SUPPRESS)
    return parser.parse_args()


def make_corpus(source: Path, n: int, path: Path) -> int:
    """Write at least n distinct articles by repeating the source; return its words."""
    base = load_articles(source)
    copies = []
    for i in range(n):
        article = base[i % len(base)]
        text = f"{article.text}\n\nCopy {i // len(base)}."
        copies.append(replace(article, text=text, id=content_id(text)))
    write_articles(path, copies)
    return sum(len(a.text.split()) for a in copies)


def child(engine: str, n: int, corpus: Path, out: Path, model: Path, batch_size: int) -> None:
    """One timed engine run (in its own process); prints its figures as JSON."""
    from conflict_ner.tagging.tag import TagOptions, tag

    options = TagOptions(batch_size=batch_size, n_process=n if engine == "spacy" else 1)
    run_engine = None
    if engine == "dask":
        from conflict_ner.tagging.dask_engine import dask_engine

        run_engine = dask_engine(str(model), options, workers=n)
    words = [len(a.text.split()) for a in load_articles(corpus)]
    marks: list[tuple[float, int]] = []

    def progress(done: int) -> None:
        marks.append((time.perf_counter(), (marks[-1][1] if marks else 0) + done))

    start = time.perf_counter()
    tag(str(model), [str(corpus)], out, options, engine=run_engine, progress=progress)
    wall = time.perf_counter() - start
    (t0, first), (t1, last) = marks[0], marks[-1]
    steady_words = sum(words[first:last])
    print(json.dumps({"wall_s": wall, "first_batch_s": t0 - start,
                      "articles_s": (last - first) / (t1 - t0),
                      "words_s": steady_words / (t1 - t0), "load": load_average()}))


def run_engines(args: argparse.Namespace, corpus: Path, work: Path) -> dict[str, Any]:
    """Each engine in a fresh process, one after the other."""
    results = {}
    for name, (engine, n) in RUNS.items():
        console.print(f"{name} ... (load {load_average()})")
        command = [sys.executable, __file__, str(args.model), "--batch-size", str(args.batch_size),
                   "--child", engine, str(n), str(corpus), str(work / name.replace(" ", ""))]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def engines_table(results: dict[str, Any]) -> Any:
    base = results["spacy, 1 process"]
    rows = [[name, f"{r['articles_s']:.2f}", f"{r['words_s']:.0f}",
             f"{ratio(r['articles_s'], base['articles_s']):.2f}", f"{r['wall_s']:.0f}",
             f"{r['first_batch_s']:.0f}", r["load"]] for name, r in results.items()]
    columns = ["engine", "articles/s", "words/s", "ratio to 1 process", "wall s",
               "first batch s", "load at end (1/5/15)"]
    return table("tagging throughput (steady rate, loading left out)", columns, rows)


def quantize(args: argparse.Namespace) -> dict[str, Any]:
    """fp32 against int8: best time over the same articles, strict F1 on the test set."""
    import spacy

    from conflict_ner.evaluation.harness import score_system
    from conflict_ner.evaluation.systems import System, load_gold
    from conflict_ner.tagging.pipeline import quantize_int8

    texts = [a.text for a in load_articles(args.source)][: args.quantize_articles]
    words = sum(len(t.split()) for t in texts)
    systems = {"fp32": spacy.load(args.model), "int8": quantize_int8(spacy.load(args.model))}
    times: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(args.repeats):
        for name, nlp in systems.items():
            start = time.perf_counter()
            for _doc in nlp.pipe(texts, batch_size=8):
                pass
            times[name].append(time.perf_counter() - start)
    gold = load_gold(args.test)
    f1 = {name: score_system(System(name, nlp), gold, resamples=100).summary["strict"].micro.f1
          for name, nlp in systems.items()}
    return {name: {"best_s": min(times[name]), "words_s": words / min(times[name]),
                   "f1": f1[name]} for name in systems} | {"words": words, "load": load_average()}


def quantize_table(result: dict[str, Any]) -> Any:
    fp32, int8 = result["fp32"], result["int8"]
    rows = [[name, f"{r['best_s']:.1f}", f"{r['words_s']:.0f}", f"{r['f1']:.4f}"]
            for name, r in (("fp32", fp32), ("int8", int8))]
    rows.append(["int8 / fp32", f"{ratio(int8['best_s'], fp32['best_s']):.2f}",
                 f"{ratio(int8['words_s'], fp32['words_s']):.2f}",
                 f"{int8['f1'] - fp32['f1']:+.4f}"])
    return table(f"int8 quantisation ({result['words']} words per run; load {result['load']})",
                 ["model", "best s", "words/s", "strict F1 (test)"], rows)


def main() -> None:
    args = parse_args()
    if args.child:
        engine, n, corpus, out = args.child
        child(engine, int(n), Path(corpus), Path(out), args.model, args.batch_size)
        return
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "1048576")
    info = machine_info()
    print_machine(info)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="conflict-ner-bench-tag-") as tmp:
        work = Path(tmp)
        if "engines" not in args.skip:
            words = make_corpus(args.source, args.articles, work / "corpus.jsonl")
            console.print(f"corpus: {args.articles} articles, {words} words; model {args.model}")
            results["engines"] = run_engines(args, work / "corpus.jsonl", work)
            results["corpus"] = {"articles": args.articles, "words": words}
            console.print(engines_table(results["engines"]))
    if "quantize" not in args.skip:
        results["quantize"] = quantize(args)
        console.print(quantize_table(results["quantize"]))
    finish(info, results, args.json)


if __name__ == "__main__":
    main()
