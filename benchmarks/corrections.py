"""What pre-annotations save the annotator: actions per 1,000 words to reach the gold.

    python benchmarks/corrections.py [--model training/model-best]
        [--fractions 0.25 0.5 1.0] [--config configs/ner_cnn.cfg]
        [--steps-base 100] [--steps-per-article 8] [--seed 0]
        [--json benchmarks/results/corrections.json] [--plot docs/corrections.png]

On held-out articles (the composed test theatres of corpus/splits.json and,
when ../shared is there, re3d's real-test half) it counts the annotator
actions that turn each system's spans into the gold
(``conflict_ner.evaluation.corrections``: one action to add a span, delete
one, fix one's boundary or fix its label), starting from:

- nothing (an empty article: one add per gold span), the baseline;
- the pattern ruler's spans (``patterns.build_pipeline``);
- the shipped model's spans (``--model``; what doccano's auto-labelling or
  pushed pre-annotations show the annotator);
- models trained on a seeded share of the train split's articles
  (``--fractions``; CONFIG with ``steps_base + steps_per_article * n`` steps
  for n articles, the dev split for model selection).

Per held-out set and system it prints the actions by kind, actions per 1,000
words and the saving against nothing (the baseline run in this process). It
asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spacy
from _common import (
    ROOT,
    composed_splits,
    console,
    finish,
    machine_info,
    print_machine,
    step_budget_overrides,
    table,
)
from spacy.language import Language
from spacy.tokens import Doc

from conflict_ner import re3d
from conflict_ner.convert import write_docbin
from conflict_ner.evaluation.corrections import (
    ACTIONS,
    Corrections,
    count_corrections,
    from_nothing,
)
from conflict_ner.evaluation.harness import score_system
from conflict_ner.evaluation.systems import System
from conflict_ner.patterns import build_pipeline
from conflict_ner.training import train

REAL, RE3D = ROOT / "corpus/re3d.jsonl", ROOT.parent / "shared/datasets/re3d"
COMPOSED_TEST, REAL_TEST = "composed test theatres", "re3d real-test"


@dataclass
class Row:
    """One system's corrections on one held-out set."""

    held_out: str
    system: str
    train_articles: int | None  # None: no training (nothing, the rules)
    corrections: Corrections


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "training/model-best",
                        help="the shipped model (skipped, with a note, when it is not there)")
    parser.add_argument("--train-articles", type=int, default=None,
                        help="articles the shipped model was trained on (default: the train split)")
    parser.add_argument("--fractions", type=float, nargs="*", default=[0.25, 0.5, 1.0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs/ner_cnn.cfg")
    parser.add_argument("--steps-base", type=int, default=100)
    parser.add_argument("--steps-per-article", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="the draw of articles and training")
    parser.add_argument("--work", type=Path, default=None, help="keep DocBins and models here")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--plot", type=Path, default=None, help="write the plot here (PNG)")
    return parser.parse_args()


def held_out_sets(composed_test: list[Doc]) -> dict[str, list[Doc]]:
    """The composed test theatres, and re3d's real-test half when ../shared has it."""
    sets = {COMPOSED_TEST: composed_test}
    real = re3d.split_docs(REAL, RE3D).get("real_test")
    if real:
        sets[REAL_TEST] = real
    else:
        console.print(f"[yellow]no re3d at {RE3D}: the composed test theatres only[/]")
    return sets


def corrections_of(nlp: Language, gold: list[Doc]) -> Corrections:
    """Actions from the system's spans to the gold, over the gold articles."""
    return count_corrections(score_system(System("pre", nlp), gold, resamples=1).pairs)


def trained_on_share(share: float, splits: dict[str, list[Doc]], work: Path,
                     args: Any) -> tuple[Language, int]:
    """A model trained on a seeded share of the train split, and its article count."""
    train_docs = list(splits["train"])
    chosen = random.Random(args.seed).sample(train_docs, max(1, round(share * len(train_docs))))
    out = work / f"share-{share:g}"
    steps = args.steps_base + args.steps_per_article * len(chosen)
    overrides = step_budget_overrides(steps, args.seed)
    console.rule(f"training on {share:.0%} of the train split: {len(chosen)} articles, "
                 f"{steps} steps")
    best = train(args.config, out, write_docbin(out / "train.spacy", chosen),
                 write_docbin(work / "dev.spacy", splits["dev"]), overrides)
    return spacy.load(best), len(chosen)


def measure(args: Any) -> list[Row]:
    """Corrections of every system on every held-out set."""
    work = args.work or Path(tempfile.mkdtemp(prefix="corrections-"))
    splits = composed_splits()
    sets = held_out_sets(splits["test"])
    systems: list[tuple[str, int | None, Language]] = [("the rules", None, build_pipeline())]
    if args.model.exists():
        shipped: int = args.train_articles or len(splits["train"])
        systems.append((f"shipped model ({args.model.name})", shipped, spacy.load(args.model)))
    else:
        console.print(f"[yellow]no model at {args.model}: run `make demo` for the shipped one[/]")
    for share in args.fractions:
        model, articles = trained_on_share(share, splits, work, args)
        systems.append((f"{args.config.stem}, {share:.0%} of train", articles, model))
    rows = [Row(name, "nothing", None, from_nothing(gold)) for name, gold in sets.items()]
    for system, n, nlp in systems:
        rows += [Row(name, system, n, corrections_of(nlp, gold)) for name, gold in sets.items()]
    return rows


def rows_of(rows: list[Row], held_out: str) -> list[list[str]]:
    """Table rows of one held-out set: actions by kind, per 1,000 words, saving."""
    baseline = next(r.corrections for r in rows if r.held_out == held_out and
                    r.system == "nothing")
    out = []
    for row in (r for r in rows if r.held_out == held_out):
        c = row.corrections
        out.append([row.system, "" if row.train_articles is None else str(row.train_articles),
                    *(str(c.actions[a]) for a in ACTIONS), str(c.total),
                    f"{c.per_1000_words:.1f}", f"{c.saving_against(baseline):.0%}"])
    return out


def plot(rows: list[Row], path: Path) -> None:
    """Actions per 1,000 words against the articles a model was trained on."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for colour, held_out in zip(("tab:blue", "tab:red"), sorted({r.held_out for r in rows}),
                                strict=False):
        mine = [r for r in rows if r.held_out == held_out]
        trained = sorted((r for r in mine if r.train_articles is not None
                          and not r.system.startswith("shipped")),
                         key=lambda r: r.train_articles or 0)
        ax.plot([r.train_articles or 0 for r in trained],
                [r.corrections.per_1000_words for r in trained], marker="o", color=colour,
                label=f"{held_out}: trained models")
        for r in mine:
            if r.system.startswith("shipped"):
                ax.plot([r.train_articles or 0], [r.corrections.per_1000_words], marker="*",
                        markersize=14, color=colour, linestyle="none",
                        label=f"{held_out}: shipped model")
            elif r.train_articles is None:
                style = "--" if r.system == "nothing" else ":"
                ax.axhline(r.corrections.per_1000_words, color=colour, linestyle=style,
                           linewidth=1, label=f"{held_out}: from {r.system}")
    ax.set_xlabel("training articles")
    ax.set_ylabel("annotator actions per 1,000 words")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    info = machine_info()
    print_machine(info)
    rows = measure(args)
    columns = ["system", "train articles", *ACTIONS, "actions", "per 1,000 words", "saving"]
    for held_out in dict.fromkeys(r.held_out for r in rows):
        first = next(r for r in rows if r.held_out == held_out).corrections
        console.print(table(f"{held_out}: {first.articles} articles, {first.words} words",
                            columns, rows_of(rows, held_out)))
    if args.plot:
        plot(rows, args.plot)
        console.print(f"plot written to {args.plot}")
    results = {
        "config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT)
                      else args.config),
        "steps_base": args.steps_base,
        "steps_per_article": args.steps_per_article,
        "seed": args.seed,
        "rows": [{"held_out": r.held_out, "system": r.system,
                  "train_articles": r.train_articles, "articles": r.corrections.articles,
                  "words": r.corrections.words, "actions": dict(r.corrections.actions),
                  "total": r.corrections.total, "per_1000_words": r.corrections.per_1000_words}
                 for r in rows],
    }
    finish(info, results, args.json)


if __name__ == "__main__":
    main()
