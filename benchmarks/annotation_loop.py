"""Measured saving of the model in the annotation loop: uncertainty-chosen articles vs random.

    python benchmarks/annotation_loop.py [--k 20] [--rounds 4] [--seeds 0 1] [--max-steps 300]
        [--json benchmarks/results/annotation_loop.json] [--plot docs/annotation_loop.png]

A simulation on the composed corpus in which the gold answers play the
annotators. Each run starts from the seed articles of the train split; each
round adds k articles of the train split's pool, chosen either by
`conflict-ner next` (``active.rank``: the NER beam's expected entity errors,
ranked with the model of the previous round) or at random, retrains
configs/ner_cnn.cfg (bounded steps, the dev theatres for model selection) and
scores model-best on the test theatres (corpus/splits.json), which no
training article comes from. Per round and strategy it records:

- strict micro F1 on the test theatres (evaluation.harness.score_system);
- recall on unseen mentions: test mentions whose surface is in no article of
  the whole train split and that the rules do not find
  (evaluation.novelty, as `evaluate` reports it). One fixed set for every round and strategy,
  so the curves compare like with like.

Each seed trains its own models (system.seed) and draws its own random
articles. A model trained on the whole pool (every train-split article) gives
the final F1; the script reports how many articles each strategy needed to
reach 90% of it (the first round that does; "not reached" otherwise), and the
ratio uncertainty / random (the baseline, run in the same process).
It asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spacy
from _common import ROOT, console, finish, machine_info, print_machine, ratio, table
from spacy.language import Language
from spacy.tokens import Doc

from conflict_ner import active
from conflict_ner.articles import load_splits
from conflict_ner.convert import doc_article_id, gold_docs, write_docbin
from conflict_ner.evaluation.harness import Scored, known_to, score_system
from conflict_ner.evaluation.novelty import unseen
from conflict_ner.evaluation.systems import System
from conflict_ner.patterns import build_pipeline
from conflict_ner.training import train

GOLD = [ROOT / "corpus/gold.jsonl", ROOT / "corpus/composed.jsonl"]
SPLITS = ROOT / "corpus/splits.json"
CONFIG = ROOT / "configs/ner_cnn.cfg"
STRATEGIES = ("uncertainty", "random")
TARGET_SHARE = 0.9


@dataclass
class Corpus:
    """The gold Docs of the simulation: seeds to start from, the pool, dev and test."""

    seeds: list[Doc]
    pool: list[Doc]
    dev: Path
    test: list[Doc]
    rules_on_test: Scored


@dataclass
class Point:
    """One trained model's place on a curve."""

    strategy: str
    seed: int
    round: int
    articles: int  # annotated in the loop, beyond the seeds
    f1: float
    unseen_recall: float


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=20, help="articles annotated per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--max-steps", type=int, default=300, help="training.max_steps per model")
    parser.add_argument("--eval-frequency", type=int, default=100)
    parser.add_argument("--work", type=Path, default=None, help="keep DocBins and models here")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--plot", type=Path, default=None, help="write the curves here (PNG)")
    return parser.parse_args()


def load_corpus(work: Path) -> Corpus:
    """Gold Docs split by corpus/splits.json; the train split's seeds start every run."""
    where = load_splits(SPLITS).split_of()
    docs = [doc for path in GOLD for doc in gold_docs(path)]
    by_split: dict[str, list[Doc]] = {"train": [], "dev": [], "test": []}
    for doc in docs:
        by_split[where[doc_article_id(doc)]].append(doc)
    seeds = [d for d in by_split["train"] if d.user_data.get("meta", {}).get("origin") == "seed"]
    seed_ids = {doc_article_id(d) for d in seeds}
    pool = [d for d in by_split["train"] if doc_article_id(d) not in seed_ids]
    rules_on_test = score_system(System("rules", build_pipeline()), by_split["test"], resamples=1)
    return Corpus(
        seeds,
        pool,
        write_docbin(work / "dev.spacy", by_split["dev"]),
        by_split["test"],
        rules_on_test,
    )


def train_on(docs: Sequence[Doc], corpus: Corpus, out: Path, seed: int, args: Any) -> Path:
    """model-best of the CNN config trained on docs (bounded steps, seeded)."""
    overrides = {
        "training.max_steps": args.max_steps,
        "training.eval_frequency": args.eval_frequency,
        "system.seed": seed,
    }
    return train(CONFIG, out, write_docbin(out / "train.spacy", docs), corpus.dev, overrides)


def score(nlp: Language, corpus: Corpus, train_split: Sequence[Doc]) -> tuple[float, float]:
    """Strict micro F1 on the test theatres and recall on their unseen mentions."""
    scored = score_system(System("model", nlp), corpus.test, resamples=200)
    known = known_to(corpus.rules_on_test, corpus.test, train_split)
    return scored.summary["strict"].micro.f1, unseen(scored.result(known).novelty).r or 0.0


def choose(strategy: str, nlp: Language, pool: list[Doc], k: int, rng: random.Random) -> list[Doc]:
    """The next k pool articles: by the model's uncertainty, or at random."""
    if strategy == "random":
        return rng.sample(pool, min(k, len(pool)))
    items = [{"text": d.text, "article_id": doc_article_id(d)} for d in pool]
    ranked = active.rank(nlp, items, n=k)
    by_id = {doc_article_id(d): d for d in pool}
    return [by_id[r.article_id] for r in ranked]


def run_strategy(
    strategy: str,
    seed: int,
    start: Language,
    start_point: Point,
    corpus: Corpus,
    work: Path,
    args: Any,
) -> list[Point]:
    """Rounds of k articles chosen by one strategy, a model trained and scored each round."""
    rng = random.Random(seed)
    labelled, pool, nlp = list(corpus.seeds), list(corpus.pool), start
    points = [Point(strategy, seed, 0, 0, start_point.f1, start_point.unseen_recall)]
    train_split = [*corpus.seeds, *corpus.pool]
    for number in range(1, args.rounds + 1):
        chosen = choose(strategy, nlp, pool, args.k, rng)
        chosen_ids = {doc_article_id(d) for d in chosen}
        pool = [d for d in pool if doc_article_id(d) not in chosen_ids]
        labelled += chosen
        console.rule(
            f"seed {seed} · {strategy} · round {number}/{args.rounds} · "
            f"{len(labelled) - len(corpus.seeds)} articles annotated"
        )
        # Loaded once: scored now, and it ranks the next round's articles.
        nlp = spacy.load(
            train_on(labelled, corpus, work / f"s{seed}-{strategy}-r{number}", seed, args)
        )
        f1, recall = score(nlp, corpus, train_split)
        points.append(Point(strategy, seed, number, len(labelled) - len(corpus.seeds), f1, recall))
        console.print(f"F1 {f1:.3f}, unseen recall {recall:.3f}")
    return points


def articles_to_reach(points: Sequence[Point], target: float) -> int | None:
    """Articles annotated at the first round whose F1 reaches target (None: never)."""
    return next((p.articles for p in sorted(points, key=lambda p: p.round) if p.f1 >= target), None)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def curve_rows(points: Sequence[Point], seeds: Sequence[int]) -> list[list[str]]:
    """Per round: articles, and per strategy the F1 and unseen recall (mean over seeds)."""
    rows = []
    for number in sorted({p.round for p in points}):
        at = [p for p in points if p.round == number]
        row = [str(at[0].articles)]
        for strategy in STRATEGIES:
            mine = [p for p in at if p.strategy == strategy]
            row += [
                f"{mean([p.f1 for p in mine]):.3f}",
                f"{mean([p.unseen_recall for p in mine]):.3f}",
            ]
        uncertain = mean([p.f1 for p in at if p.strategy == "uncertainty"])
        row.append(f"{ratio(uncertain, mean([p.f1 for p in at if p.strategy == 'random'])):.2f}")
        rows.append(row)
    return rows


def plot(points: Sequence[Point], finals: dict[int, float], path: Path) -> None:
    """F1 and unseen recall against articles annotated, both strategies, every seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"uncertainty": "tab:red", "random": "tab:blue"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for ax, key, title in zip(
        axes,
        ("f1", "unseen_recall"),
        ("strict F1, test theatres", "recall on unseen mentions"),
        strict=True,
    ):
        for strategy in STRATEGIES:
            mine = [p for p in points if p.strategy == strategy]
            for seed in sorted({p.seed for p in mine}):
                run = sorted((p for p in mine if p.seed == seed), key=lambda p: p.round)
                ax.plot(
                    [p.articles for p in run],
                    [getattr(p, key) for p in run],
                    color=colours[strategy],
                    alpha=0.3,
                    linewidth=1,
                )
            rounds = sorted({p.round for p in mine})
            xs = [next(p.articles for p in mine if p.round == r) for r in rounds]
            ys = [mean([getattr(p, key) for p in mine if p.round == r]) for r in rounds]
            ax.plot(
                xs,
                ys,
                color=colours[strategy],
                marker="o",
                linewidth=2,
                label=f"{strategy} (mean of {len(finals)} seeds)",
            )
        if key == "f1":
            target = TARGET_SHARE * mean(list(finals.values()))
            ax.axhline(
                target,
                color="grey",
                linestyle="--",
                linewidth=1,
                label=f"90% of the whole pool's F1 ({target:.3f})",
            )
        ax.set_ylim(0, 1)
        ax.set_title(title)
        ax.set_xlabel("articles annotated (beyond the seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    info = machine_info()
    print_machine(info)
    work = args.work or Path(tempfile.mkdtemp(prefix="annotation-loop-"))
    corpus = load_corpus(work)
    console.print(
        f"{len(corpus.seeds)} seed articles to start from, a pool of "
        f"{len(corpus.pool)}, {len(corpus.test)} test articles; k={args.k}, "
        f"{args.rounds} rounds, seeds {args.seeds}, {args.max_steps} steps a model"
    )
    train_split = [*corpus.seeds, *corpus.pool]
    points: list[Point] = []
    finals: dict[int, float] = {}
    for seed in args.seeds:
        console.rule(f"seed {seed} · the seeds alone")
        start = spacy.load(train_on(corpus.seeds, corpus, work / f"s{seed}-start", seed, args))
        f1, recall = score(start, corpus, train_split)
        start_point = Point("start", seed, 0, 0, f1, recall)
        for strategy in STRATEGIES:
            points += run_strategy(strategy, seed, start, start_point, corpus, work, args)
        console.rule(f"seed {seed} · the whole pool ({len(train_split)} articles)")
        whole = spacy.load(train_on(train_split, corpus, work / f"s{seed}-all", seed, args))
        finals[seed], _ = score(whole, corpus, train_split)
    report(points, finals, args, info)


def report(points: list[Point], finals: dict[int, float], args: Any, info: dict[str, Any]) -> None:
    """Print the curves and the articles needed, write JSON and the plot."""
    columns = ["articles"] + [f"{s} {m}" for s in STRATEGIES for m in ("F1", "unseen R")]
    console.print(
        table(
            "held-out test theatres, mean over seeds",
            [*columns, "F1 ratio unc./random"],
            curve_rows(points, args.seeds),
        )
    )
    needed: dict[str, dict[int, int | None]] = {s: {} for s in STRATEGIES}
    for seed, final in finals.items():
        for strategy in STRATEGIES:
            mine = [p for p in points if p.strategy == strategy and p.seed == seed]
            needed[strategy][seed] = articles_to_reach(mine, TARGET_SHARE * final)
    rows = [
        [
            str(seed),
            f"{final:.3f}",
            f"{TARGET_SHARE * final:.3f}",
            *(
                str(needed[s][seed]) if needed[s][seed] is not None else "not reached"
                for s in STRATEGIES
            ),
        ]
        for seed, final in finals.items()
    ]
    console.print(
        table(
            "articles annotated to reach 90% of the whole pool's F1",
            ["seed", "whole-pool F1", "90%", *STRATEGIES],
            rows,
        )
    )
    if args.plot:
        plot(points, finals, args.plot)
        console.print(f"plot written to {args.plot}")
    results = {
        "k": args.k,
        "rounds": args.rounds,
        "seeds": args.seeds,
        "max_steps": args.max_steps,
        "points": [p.__dict__ for p in points],
        "whole_pool_f1": finals,
        "articles_to_90pct": needed,
    }
    finish(info, results, args.json)


if __name__ == "__main__":
    main()
