"""The NER's confidence step: scores per threshold on a gold set, and its inference cost.

    python benchmarks/confidence.py MODEL DATA.spacy [--composed-only] [--thresholds ...]
    python benchmarks/confidence.py MODEL --speed THRESHOLD [--words 20000]

Scores: the model's transformer and NER run once over DATA; the beam
(``ruler_filters.ner_confidences``, width --beam-width; 1 reads the greedy
parse's own action probabilities instead) gives each NER entity its
probability; then, per threshold, the entities below it are dropped (FACTION
and PLACE alike, or FACTION alone with PLACE at --place-threshold), and the
rest of the model's own pipeline runs as shipped (the ruler fills the gaps, the
boundary step bounds every span), exactly what the ``conflict_ner_confidence``
component does right after the NER. Strict micro scores with a bootstrap
interval over articles.
--composed-only leaves the re3d documents out (dev.spacy holds real-dev too).

--speed: words per second of the model as shipped and with the confidence step
(that threshold for both labels) after its NER, on the same texts in one
process, interleaved (benchmarks/inference.py's texts and timing).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import spacy
from _common import ROOT, console, finish, machine_info, print_machine, table
from inference import (
    component_seconds,
    count_words,
    load_texts,
    pipeline_runner,
    summarise,
    time_runs,
)
from spacy.language import Language
from spacy.tokens import Doc

from conflict_ner.evaluation.crosscheck import ents_of
from conflict_ner.evaluation.scoring import DocCounts, count_doc, total
from conflict_ner.evaluation.scoring import summarise as score
from conflict_ner.evaluation.systems import load_gold, transfer
from conflict_ner.evaluation.uncertainty import bootstrap
from conflict_ner.patterns import RULER_NAME
from conflict_ner.ruler_filters import (
    CONFIDENCE,
    EntityKey,
    confident_entities,
    ner_confidences,
)

GRID = [0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99]
Parsed = list[tuple[Doc, dict[EntityKey, float]]]


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path, nargs="?", default=None)
    parser.add_argument("--composed-only", action="store_true", help="leave re3d documents out")
    parser.add_argument("--thresholds", type=float, nargs="+", default=GRID)
    parser.add_argument("--beam-width", type=int, default=16)
    parser.add_argument("--place-threshold", type=float, default=0.0,
                        help="PLACE's threshold where FACTION's is swept alone")  # fmt: skip
    parser.add_argument("--speed", type=float, default=None, metavar="THRESHOLD")
    parser.add_argument("--words", type=int, default=20_000, help="words per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per system")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args()


def parse_once(nlp: Language, gold: list[Doc], beam_width: int) -> Parsed:
    """Every text through the pipeline up to the NER, with its entities' beam probabilities."""
    upto = nlp.pipe_names[: nlp.pipe_names.index("ner") + 1]
    with nlp.select_pipes(enable=upto):
        docs = list(nlp.pipe(doc.text for doc in gold))
    parsed = []
    for doc, found in zip(docs, ner_confidences(nlp.get_pipe("ner"), docs, beam_width),
                          strict=True):  # fmt: skip
        doc._.trf_data = None  # the rest of the pipeline does not read it; copies stay small
        parsed.append((doc, found))
    return parsed


def rest_of_pipeline(nlp: Language, doc: Doc) -> Doc:
    """The components after the NER (and after any confidence step), in their order."""
    after = nlp.pipe_names[nlp.pipe_names.index("ner") + 1 :]
    for name in after:
        if name != CONFIDENCE:
            doc = nlp.get_pipe(name)(doc)
    return doc


def score_threshold(nlp: Language, gold: list[Doc], parsed: Parsed,
                    thresholds: dict[str, float]) -> dict[str, Any]:  # fmt: skip
    """Strict scores of the pipeline with the NER's entities under the thresholds dropped."""
    counts: list[DocCounts] = []
    dropped = 0
    for i, (g, (doc, found)) in enumerate(zip(gold, parsed, strict=True)):
        copy = doc.copy()
        kept = confident_entities(copy, found, thresholds)
        dropped += len(copy.ents) - len(kept)
        copy.ents = kept
        pred = transfer(g, rest_of_pipeline(nlp, copy), None)
        counts.append(count_doc(str(i), ents_of(g), ents_of(pred)))
    strict = score(total(counts))["strict"]
    ci = bootstrap(counts, "strict", 1000, seed=0)
    per = strict.per_label
    return {"thresholds": thresholds, "dropped": dropped, "p": strict.micro.p,
            "r": strict.micro.r, "f1": strict.micro.f1, "low": ci.low, "high": ci.high,
            "faction_f1": per["FACTION"].f1, "place_f1": per["PLACE"].f1}  # fmt: skip


def sweep(args: argparse.Namespace, nlp: Language) -> dict[str, Any]:
    """Scores per threshold, for both labels, and for FACTION with PLACE's held at
    --place-threshold."""
    gold = load_gold(args.data)
    if args.composed_only:
        gold = [d for d in gold if (d.user_data.get("meta") or {}).get("origin") != "re3d"]
    parsed = parse_once(nlp, gold, args.beam_width)
    rows, out = [], []
    for labels in (("FACTION", "PLACE"), ("FACTION",)):
        for t in args.thresholds:
            thresholds = {"PLACE": args.place_threshold, **{label: t for label in labels}}
            fig = score_threshold(nlp, gold, parsed, thresholds)
            out.append({"labels": list(labels), "threshold": t, **fig})
            alone = f"FACTION (PLACE {args.place_threshold})"
            name = "+".join(labels) if len(labels) > 1 else alone
            rows.append([name, f"{t:.2f}", str(fig["dropped"]), f"{fig['p']:.3f}",
                         f"{fig['r']:.3f}", f"{fig['f1']:.3f}",
                         f"{fig['low']:.3f}-{fig['high']:.3f}", f"{fig['faction_f1']:.3f}",
                         f"{fig['place_f1']:.3f}"])  # fmt: skip
    title = f"{args.data} ({len(gold)} articles), beam width {args.beam_width}"
    columns = ["labels", "threshold", "dropped", "P", "R", "F1", "95% CI", "FACTION F1",
               "PLACE F1"]  # fmt: skip
    console.print(table(title, columns, rows))
    return {"data": str(args.data), "articles": len(gold), "rows": out}


def speed(args: argparse.Namespace) -> dict[str, Any]:
    """Words per second without and with the confidence step, interleaved."""
    texts = load_texts(ROOT / "corpus/articles.jsonl", args.words)
    shipped = spacy.load(args.model)
    gated = spacy.load(args.model)
    if CONFIDENCE in shipped.pipe_names:
        raise SystemExit(f"{args.model} already has {CONFIDENCE}: give the model without it")
    config = {"thresholds": {"FACTION": args.speed, "PLACE": args.speed},
              "beam_width": args.beam_width}  # fmt: skip
    gated.add_pipe("conflict_ner_confidence", name=CONFIDENCE, after="ner", config=config)
    runners = {"shipped": pipeline_runner(shipped, texts),
               "confidence": pipeline_runner(gated, texts)}  # fmt: skip
    figures = summarise(time_runs(runners, args.repeats), count_words(texts))
    rows = [[name, f"{f['words']:,}", f"{f['best_s']:.2f}", f"{f['wps_best']:,.0f}",
             f"{f['wps_median']:,.0f}"] for name, f in figures.items()]  # fmt: skip
    columns = ["system", "words", "best s", "wps", "median wps"]
    console.print(table("inference speed", columns, rows))
    cost = 1 - figures["confidence"]["wps_best"] / figures["shipped"]["wps_best"]
    console.print(f"the confidence step costs {cost:.1%} of the words per second (best runs)")
    upstream, step = step_seconds(gated, texts)
    console.print(f"the step alone: {step:.2f} s after {upstream:.2f} s of transformer and NER "
                  f"on the same texts ({step / upstream:.0%})")
    return {"speed": figures, "cost": cost, "beam_width": args.beam_width,
            "upstream_s": upstream, "step_s": step}  # fmt: skip


def step_seconds(nlp: Language, texts: list[str]) -> tuple[float, float]:
    """Seconds of the pipeline up to the NER, and of the confidence step alone, on the texts:
    under load the whole pipeline's runs vary by more than the step costs."""
    seconds = component_seconds(nlp, texts)
    upto = ["tokenizer", *nlp.pipe_names[: nlp.pipe_names.index("ner") + 1]]
    return sum(seconds[name] for name in upto), seconds[CONFIDENCE]


def main() -> None:
    args = parse_args()
    info = machine_info()
    print_machine(info)
    if args.speed is not None:
        results = speed(args)
    else:
        if args.data is None:
            raise SystemExit("give DATA (a .spacy file) or --speed")
        nlp = spacy.load(args.model)
        if RULER_NAME not in nlp.pipe_names:
            console.print("note: the model has no pattern ruler")
        results = sweep(args, nlp)
    finish(info, results, args.json)


if __name__ == "__main__":
    main()
