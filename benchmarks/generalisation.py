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
from pathlib import Path
from typing import Any

import spacy
from _common import ROOT, console, finish, machine_info, print_machine, ratio, table
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from conflict_ner.evaluation.harness import build_systems, run, score_system
from conflict_ner.evaluation.results import SystemResult
from conflict_ner.evaluation.systems import MODEL, NER_ALONE, RULES_ALONE, System
from conflict_ner.patterns import FILL_GAPS, RULER_NAME, add_ruler
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
    parser.add_argument("--code", type=Path, default=None,
                        help="Python file with functions the config names (spacy train --code)")
    return parser.parse_args()


def train(config: Path, work: Path, overrides: dict[str, str],
          code: Path | None = None) -> tuple[Path, float, float]:  # fmt: skip
    """Run spacy train; return model-best, wall seconds and the subprocess's peak RSS in GiB."""
    command = [
        sys.executable, "-m", "spacy", "train", str(config), "--output", str(work / "model"),
        "--paths.train", str(work / "train.spacy"), "--paths.dev", str(work / "dev.spacy"),
        *(["--code", str(code)] if code else []),
        *(a for key, value in overrides.items() for a in (f"--{key}", value)),
    ]  # fmt: skip
    start = time.monotonic()
    process = subprocess.Popen(command, env={**ALLOCATOR_ENV, **os.environ, **OFFLINE_ENV})
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"spacy train failed ({status})")
    return work / "model" / "model-best", seconds, usage.ru_maxrss / 1024**2


def show(result: SystemResult) -> SystemResult:
    """Print a system's strict F1 with its bootstrap interval over articles."""
    ci = result.bootstrap["strict"]
    console.print(f"{result.name}: strict F1 {ci.f1:.3f} [{ci.low:.3f}, {ci.high:.3f}]")
    return result


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
        best, seconds, rss = train(args.config, work, overrides, args.code)
    else:
        best, seconds, rss = args.model, float("nan"), float("nan")
    if args.code:  # the trained pipeline names its functions too
        spacy.util.import_file("variant_code", args.code)
    nlp = spacy.load(best)
    test, train_docs = read(work / f"{args.split}.spacy", nlp), read(work / "train.spacy", nlp)
    # The harness scores the pipeline, NER alone (ruler off) and the rules alone, and
    # splits mentions into in the rules / in training / unseen.
    scored = run(build_systems(best, patterns=False), test, train_docs, resamples=500)
    by_role = {s.system.role: show(s.result(scored.known))
               for s in (scored.model, *scored.ablations)}
    full, ner, rules = by_role[MODEL], by_role[NER_ALONE], by_role[RULES_ALONE]
    # The NER never sees the ruler's output in training (the ruler is not an
    # annotating component), so the same model serves every role of the ruler.
    after_nlp = add_ruler(spacy.load(best, exclude=[RULER_NAME]), ents_filter=FILL_GAPS)
    after = show(score_system(System("ruler after", after_nlp), test, 500).result(scored.known))
    rules_f1, n_unseen = rules.strict.f1, full.unseen.gold
    results: dict[str, Any] = {
        "config": str(args.config), "overrides": overrides, "split": args.split,
        "scored_articles": len(test), "train_articles": len(train_docs),
        "pipeline_f1": full.strict.f1, "ner_alone_f1": ner.strict.f1, "rules_f1": rules_f1,
        "ruler_after_f1": after.strict.f1, "unseen_recall": full.unseen.r,
        "unseen_recall_ner_alone": ner.unseen.r, "unseen_recall_ruler_after": after.unseen.r,
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
        [f"unseen recall ({n_unseen})", f"{results['unseen_recall'] or 0:.3f}", "",
         str(TARGETS["unseen_recall"])],
        ["unseen recall, NER alone", f"{results['unseen_recall_ner_alone'] or 0:.3f}", "", ""],
        ["unseen recall, ruler after", f"{results['unseen_recall_ruler_after'] or 0:.3f}", "", ""],
        ["training minutes", f"{seconds / 60:.1f}", "", f"{TARGETS['train_minutes']:.0f}"],
        ["peak RSS GiB", f"{rss:.2f}", "", f"{TARGETS['peak_rss_gib']:.0f}"],
    ]
    title = f"held-out theatres: {len(test)} {args.split} articles, trained on {len(train_docs)}"
    console.print(table(title, ["figure", "value", "ratio to rules", "target"], rows))
    finish(info, results, args.json)


if __name__ == "__main__":
    main()
