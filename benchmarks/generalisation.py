"""Generalisation: a real training run on the whole corpus, scored on held-out wars.

    python benchmarks/generalisation.py [--config configs/ner_trf.cfg] [--max-steps N]

Trains CONFIG (a ``spacy train`` subprocess, as `conflict-ner train` runs it,
with the same allocator setting) on
the train split of corpus/gold.jsonl + corpus/composed.jsonl (the seeds' train
articles and every theatre not held out), with the dev split for model
selection, then scores model-best on the test split (or, with --split dev,
on the dev split, to make a modelling choice), whose composed articles come
from theatres no training article comes from. Figures:

- strict micro F1 of the full pipeline as configured, of the NER alone (the
  pattern ruler switched off), of the NER with the ruler after it filling only
  the gaps, and of the rules alone (the baseline run in this process; the
  ratios are model / rules);
- strict recall on unseen mentions: gold mentions whose surface is neither
  found by the pattern ruler in that article nor a gold surface of any
  training article;
- training wall time and the peak RSS of the training subprocess.

The targets of issue 9 are printed beside them; this script asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import spacy
from _common import ROOT, console, finish, machine_info, print_machine, ratio, table
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from conflict_ner.evaluation.harness import score_system
from conflict_ner.evaluation.models import System
from conflict_ner.patterns import FILL_GAPS, RULER_NAME, add_ruler, build_pipeline
from conflict_ner.training import ALLOCATOR_ENV, OFFLINE_ENV, make_docbins

GOLD = [ROOT / "corpus/gold.jsonl", ROOT / "corpus/composed.jsonl"]
SPLITS = ROOT / "corpus/splits.json"
TARGETS = {"ner_alone_f1": 0.80, "pipeline_f1": 0.90, "unseen_recall": 0.70,
           "train_minutes": 20.0, "peak_rss_gib": 4.0}  # fmt: skip


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs/ner_trf.cfg")
    parser.add_argument("--max-steps", type=int, default=None, help="training.max_steps")
    parser.add_argument("--work", type=Path, default=None, help="keep DocBins and models here")
    parser.add_argument("--override", nargs=2, action="append", default=[],
                        metavar=("KEY", "VALUE"), help="a spacy train override, repeatable")
    parser.add_argument("--model", type=Path, default=None,
                        help="score this trained pipeline instead of training one")
    parser.add_argument("--split", choices=["dev", "test"], default="test",
                        help="score on dev (to make a modelling choice) or test (to report)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    return parser.parse_args()


def train(config: Path, work: Path, overrides: dict[str, str]) -> tuple[Path, float, float]:
    """Run spacy train; return model-best, wall seconds and the subprocess's peak RSS in GiB."""
    command = [
        sys.executable, "-m", "spacy", "train", str(config), "--output", str(work / "model"),
        "--paths.train", str(work / "train.spacy"), "--paths.dev", str(work / "dev.spacy"),
        *(a for key, value in overrides.items() for a in (f"--{key}", value)),
    ]  # fmt: skip
    start = time.monotonic()
    process = subprocess.Popen(command, env={**ALLOCATOR_ENV, **os.environ, **OFFLINE_ENV})
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"spacy train failed ({status})")
    return work / "model" / "model-best", seconds, usage.ru_maxrss / 1024**2


def strict_f1(nlp: Language, name: str, gold: Sequence[Doc]) -> tuple[float, list[Doc]]:
    """Strict micro F1 of a pipeline on the gold Docs (with its bootstrap interval over
    articles, printed), and its predictions."""
    scored = score_system(System(name, nlp), gold, resamples=500)
    interval = scored.intervals["strict"]
    console.print(f"{name}: strict F1 {interval.f1:.3f} [{interval.low:.3f}, {interval.high:.3f}]")
    return scored.summary["strict"]["micro"]["f1"], [p for _, p in scored.pairs]


def unseen_recall(gold: Sequence[Doc], predicted: Sequence[Doc], train: Sequence[Doc],
                  rules: Sequence[Doc]) -> tuple[float, int]:  # fmt: skip
    """Strict recall on gold mentions neither seen in training nor found by the rules."""
    seen = {(e.text, e.label_) for doc in train for e in doc.ents}
    hits = total = 0
    for g, p, r in zip(gold, predicted, rules, strict=True):
        ruled = {(e.start_char, e.end_char, e.label_) for e in r.ents}
        found = {(e.start_char, e.end_char, e.label_) for e in p.ents}
        for ent in g.ents:
            key = (ent.start_char, ent.end_char, ent.label_)
            if (ent.text, ent.label_) in seen or key in ruled:
                continue
            total += 1
            hits += key in found
    return ratio(hits, total), total


def read(path: Path, nlp: Language) -> list[Doc]:
    return list(DocBin().from_disk(path).get_docs(nlp.vocab))


def main() -> None:
    args = parse_args()
    info = machine_info()
    print_machine(info)
    work = args.work or Path(tempfile.mkdtemp(prefix="generalisation-"))
    make_docbins(GOLD, SPLITS, work)
    overrides = dict(args.override)
    if args.max_steps is not None:
        overrides["training.max_steps"] = str(args.max_steps)
    if args.model is None:
        console.rule(f"training {args.config.name}")
        best, seconds, rss = train(args.config, work, overrides)
    else:
        best, seconds, rss = args.model, float("nan"), float("nan")
    nlp = spacy.load(best)
    test, train_docs = read(work / f"{args.split}.spacy", nlp), read(work / "train.spacy", nlp)
    rules_f1, rules_pred = strict_f1(build_pipeline(), "rules", test)
    full_f1, full_pred = strict_f1(nlp, "pipeline", test)
    with nlp.select_pipes(disable=[RULER_NAME] if RULER_NAME in nlp.pipe_names else []):
        ner_f1, ner_pred = strict_f1(nlp, "NER alone", test)
    # The NER never sees the ruler's output in training (the ruler is not an
    # annotating component), so the same model serves every role of the ruler.
    after = spacy.load(best, exclude=[RULER_NAME])
    after_f1, after_pred = strict_f1(add_ruler(after, ents_filter=FILL_GAPS), "ruler after", test)
    unseen, n_unseen = unseen_recall(test, full_pred, train_docs, rules_pred)
    unseen_ner, _ = unseen_recall(test, ner_pred, train_docs, rules_pred)
    unseen_after, _ = unseen_recall(test, after_pred, train_docs, rules_pred)
    results: dict[str, Any] = {
        "config": str(args.config), "overrides": overrides, "split": args.split,
        "scored_articles": len(test), "train_articles": len(train_docs),
        "pipeline_f1": full_f1, "ner_alone_f1": ner_f1, "rules_f1": rules_f1,
        "ruler_after_f1": after_f1, "unseen_recall": unseen, "unseen_recall_ner_alone": unseen_ner,
        "unseen_recall_ruler_after": unseen_after,
        "unseen_mentions": n_unseen, "train_minutes": seconds / 60, "peak_rss_gib": rss,
    }  # fmt: skip
    rows = [
        [name, f"{results[key]:.3f}", f"{ratio(results[key], rules_f1):.2f}",
         f"{TARGETS[key]:.2f}" if key in TARGETS else ""]
        for name, key in (("full pipeline F1", "pipeline_f1"), ("NER alone F1", "ner_alone_f1"),
                          ("NER + ruler after (fills gaps) F1", "ruler_after_f1"),
                          ("rules alone F1", "rules_f1"))
    ]  # fmt: skip
    rows += [
        [f"unseen recall ({n_unseen})", f"{unseen:.3f}", "", str(TARGETS["unseen_recall"])],
        ["unseen recall, NER alone", f"{unseen_ner:.3f}", "", ""],
        ["unseen recall, ruler after", f"{unseen_after:.3f}", "", ""],
        ["training minutes", f"{seconds / 60:.1f}", "", f"{TARGETS['train_minutes']:.0f}"],
        ["peak RSS GiB", f"{rss:.2f}", "", f"{TARGETS['peak_rss_gib']:.0f}"],
    ]
    title = f"held-out theatres: {len(test)} {args.split} articles, trained on {len(train_docs)}"
    console.print(table(title, ["figure", "value", "ratio to rules", "target"], rows))
    finish(info, results, args.json)


if __name__ == "__main__":
    main()
