"""Measured saving of the model in the annotation loop: uncertainty-chosen articles vs random.

    python benchmarks/annotation_loop.py [--k 10] [--rounds 6] [--seeds 0 1 2 3]
        [--steps-base 100] [--steps-per-article 6]
        [--json benchmarks/results/annotation_loop.json] [--plot docs/annotation_loop.png]
    python benchmarks/annotation_loop.py --combine a.json b.json [--json ...] [--plot ...]

A simulation on the composed corpus in which the gold answers play the
annotators. Each run starts from the seed articles of the train split; each
round adds k articles of the train split's pool, chosen either by
`conflict-ner next` (``active.rank``: the NER beam's expected entity errors,
ranked with the model of the previous round) or at random, retrains
configs/ner_cnn.cfg (the dev theatres for model selection) and
scores model-best on the test theatres (corpus/splits.json), which no
training article comes from. Per round and strategy it records:

- strict micro F1 on the test theatres (evaluation.harness.score_system);
- recall on unseen mentions: test mentions whose surface is in no article of
  the whole train split and that the rules do not find
  (evaluation.novelty, as `evaluate` reports it). One fixed set for every round and strategy,
  so the curves compare like with like.

The step budget grows with the data: a model trained on n articles (seeds
included) gets ``steps_base + steps_per_article * n`` steps, so every model sees
each article about as often, and evaluates on dev four times
(``_common.step_budget_overrides``). Each seed trains
its own models (system.seed) and draws its own random articles. A model
trained on the whole pool (every train-split article) gives the final F1; the
script reports how many articles each strategy needed to reach 90% of it (the
first round that does; "not reached" otherwise) and the ratio uncertainty /
random (the baseline, run in the same process), with the spread over seeds:
per point the mean, standard deviation and range, and per seed the paired
difference uncertainty - random (in mean F1 over the rounds and in articles
needed) with a 95% t-interval over seeds. Seeds can run in separate processes
(one core each) and be put together with ``--combine``.
It asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    ratio,
    step_budget_overrides,
    table,
)
from spacy.language import Language
from spacy.tokens import Doc

from conflict_ner import active
from conflict_ner.convert import doc_article_id, write_docbin
from conflict_ner.evaluation.harness import Scored, known_to, score_system
from conflict_ner.evaluation.novelty import unseen
from conflict_ner.evaluation.systems import System
from conflict_ner.patterns import build_pipeline
from conflict_ner.training import train

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
    steps: int = 0
    seconds: float = 0.0


@dataclass
class Run:
    """Every point of some seeds, and each seed's whole-pool F1."""

    points: list[Point]
    finals: dict[int, float]


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=10, help="articles annotated per round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--steps-base", type=int, default=100)
    parser.add_argument(
        "--steps-per-article", type=int, default=6, help="steps added per training article"
    )
    parser.add_argument("--work", type=Path, default=None, help="keep DocBins and models here")
    parser.add_argument(
        "--combine", type=Path, nargs="+", default=None,
        help="report the runs in these JSON files (written by --json) instead of training",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--plot", type=Path, default=None, help="write the curves here (PNG)")
    return parser.parse_args()


def load_corpus(work: Path) -> Corpus:
    """Gold Docs split by corpus/splits.json; the train split's seeds start every run."""
    by_split = composed_splits()
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


def step_budget(articles: int, args: Any) -> int:
    """training.max_steps for a model trained on this many articles (seeds included)."""
    return int(args.steps_base + args.steps_per_article * articles)


def train_on(docs: Sequence[Doc], corpus: Corpus, out: Path, seed: int, args: Any) -> Path:
    """model-best of the CNN config trained on docs (the step budget, seeded)."""
    overrides = step_budget_overrides(step_budget(len(docs), args), seed)
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


def trained_point(
    strategy: str, seed: int, number: int, docs: Sequence[Doc], corpus: Corpus, out: Path,
    args: Any,
) -> tuple[Point, Language]:
    """Train on docs, score the model; the point and the loaded model."""
    started = time.perf_counter()
    nlp = spacy.load(train_on(docs, corpus, out, seed, args))
    f1, recall = score(nlp, corpus, [*corpus.seeds, *corpus.pool])
    articles = len(docs) - len(corpus.seeds)
    seconds = time.perf_counter() - started
    point = Point(strategy, seed, number, articles, f1, recall, step_budget(len(docs), args),
                  seconds)
    console.print(f"F1 {f1:.3f}, unseen recall {recall:.3f} ({point.steps} steps, {seconds:.0f} s)")
    return point, nlp


def run_strategy(
    strategy: str, seed: int, start: Language, start_point: Point, corpus: Corpus, work: Path,
    args: Any,
) -> list[Point]:
    """Rounds of k articles chosen by one strategy, a model trained and scored each round."""
    rng = random.Random(seed)
    labelled, pool, nlp = list(corpus.seeds), list(corpus.pool), start
    points = [replace(start_point, strategy=strategy)]
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
        point, nlp = trained_point(
            strategy, seed, number, labelled, corpus, work / f"s{seed}-{strategy}-r{number}", args
        )
        points.append(point)
    return points


def run_seed(seed: int, corpus: Corpus, work: Path, args: Any) -> tuple[list[Point], float]:
    """Both strategies from one seed's start model, and the seed's whole-pool F1."""
    console.rule(f"seed {seed} · the seeds alone")
    start_point, start = trained_point("start", seed, 0, corpus.seeds, corpus,
                                       work / f"s{seed}-start", args)
    points = [p for s in STRATEGIES
              for p in run_strategy(s, seed, start, start_point, corpus, work, args)]
    whole = [*corpus.seeds, *corpus.pool]
    console.rule(f"seed {seed} · the whole pool ({len(whole)} articles)")
    final, _ = trained_point("whole", seed, 0, whole, corpus, work / f"s{seed}-all", args)
    return points, final.f1


def articles_to_reach(points: Sequence[Point], target: float) -> int | None:
    """Articles annotated at the first round whose F1 reaches target (None: never)."""
    return next((p.articles for p in sorted(points, key=lambda p: p.round) if p.f1 >= target), None)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and the half-width of its 95% t-interval over seeds, and the standard deviation."""
    if len(values) < 2:
        return mean(values), float("nan"), float("nan")
    from scipy import stats

    sd = statistics.stdev(values)
    half = float(stats.t.ppf(0.975, len(values) - 1)) * sd / math.sqrt(len(values))
    return mean(values), half, sd


def at_round(points: Sequence[Point], strategy: str, number: int) -> list[Point]:
    return [p for p in points if p.strategy == strategy and p.round == number]


def curve_rows(points: Sequence[Point]) -> list[list[str]]:
    """Per round: articles, and per strategy F1 mean ± sd [range] and unseen recall (means)."""
    rows = []
    for number in sorted({p.round for p in points}):
        row = [str(at_round(points, "random", number)[0].articles)]
        for strategy in STRATEGIES:
            f1s = [p.f1 for p in at_round(points, strategy, number)]
            _, _, sd = spread(f1s)
            recall = mean([p.unseen_recall for p in at_round(points, strategy, number)])
            row += [f"{mean(f1s):.3f} ± {sd:.3f} [{min(f1s):.3f}-{max(f1s):.3f}]", f"{recall:.3f}"]
        ratio_f1 = ratio(mean([p.f1 for p in at_round(points, "uncertainty", number)]),
                         mean([p.f1 for p in at_round(points, "random", number)]))
        rows.append([*row, f"{ratio_f1:.2f}"])
    return rows


def paired_gain(run: Run) -> list[float]:
    """Per seed: uncertainty's mean F1 over the annotated rounds minus random's."""
    def curve(seed: int, strategy: str) -> float:
        return mean([p.f1 for p in run.points
                     if p.seed == seed and p.strategy == strategy and p.round > 0])

    return [curve(s, "uncertainty") - curve(s, "random") for s in sorted(run.finals)]


def needed_table(run: Run) -> tuple[dict[str, dict[int, int | None]], list[list[str]]]:
    """Articles each strategy needs to reach 90% of the seed's whole-pool F1, per seed."""
    needed: dict[str, dict[int, int | None]] = {s: {} for s in STRATEGIES}
    rows = []
    for seed, final in sorted(run.finals.items()):
        for strategy in STRATEGIES:
            mine = [p for p in run.points if p.strategy == strategy and p.seed == seed]
            needed[strategy][seed] = articles_to_reach(mine, TARGET_SHARE * final)
        rows.append([str(seed), f"{final:.3f}", f"{TARGET_SHARE * final:.3f}",
                     *(str(needed[s][seed]) if needed[s][seed] is not None else "not reached"
                       for s in STRATEGIES)])
    return needed, rows


def interval_row(name: str, values: Sequence[float], digits: int) -> list[str]:
    """A row: mean, 95% t-interval over seeds, and the values."""
    centre, half, _ = spread(values)
    shown = ", ".join(f"{v:.{digits}f}" for v in values)
    low, high = centre - half, centre + half
    return [name, f"{centre:.{digits}f}", f"[{low:.{digits}f}, {high:.{digits}f}]", shown]


def verdict_rows(run: Run, needed: dict[str, dict[int, int | None]], cap: int) -> list[list[str]]:
    """Mean and 95% interval over seeds of the articles needed and of the paired F1 gain."""
    # A seed that never reaches the target within the loop counts as needing the loop's size
    # (a lower bound), said in the row's name when it happens.
    rows = []
    for strategy in STRATEGIES:
        values = [float(v if v is not None else cap) for v in needed[strategy].values()]
        censored = sum(v is None for v in needed[strategy].values())
        label = f"articles to 90%, {strategy}" + (f" ({censored} not reached: {cap})"
                                                   if censored else "")
        rows.append(interval_row(label, values, 1))
    diffs = [float((needed["uncertainty"][s] or cap) - (needed["random"][s] or cap))
             for s in run.finals]
    rows.append(interval_row("articles to 90%, uncertainty - random", diffs, 1))
    rows.append(interval_row("mean F1 over rounds, uncertainty - random", paired_gain(run), 3))
    return rows


def plot(run: Run, path: Path) -> None:
    """F1 and unseen recall against articles annotated: each strategy's mean, its range
    over seeds (shaded) and every seed (thin)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"uncertainty": "tab:red", "random": "tab:blue"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    titles = ("strict F1, test theatres", "recall on unseen mentions")
    for ax, key, title in zip(axes, ("f1", "unseen_recall"), titles, strict=True):
        for strategy in STRATEGIES:
            mine = [p for p in run.points if p.strategy == strategy]
            for seed in sorted({p.seed for p in mine}):
                seed_run = sorted((p for p in mine if p.seed == seed), key=lambda p: p.round)
                ax.plot([p.articles for p in seed_run], [getattr(p, key) for p in seed_run],
                        color=colours[strategy], alpha=0.25, linewidth=0.8)
            rounds = sorted({p.round for p in mine})
            xs = [at_round(mine, strategy, r)[0].articles for r in rounds]
            values = [[getattr(p, key) for p in at_round(mine, strategy, r)] for r in rounds]
            ax.fill_between(xs, [min(v) for v in values], [max(v) for v in values],
                            color=colours[strategy], alpha=0.15)
            ax.plot(xs, [mean(v) for v in values], color=colours[strategy], marker="o",
                    linewidth=2, label=f"{strategy}: mean, range over {len(run.finals)} seeds")
        if key == "f1":
            target = TARGET_SHARE * mean(list(run.finals.values()))
            ax.axhline(target, color="grey", linestyle="--", linewidth=1,
                       label=f"90% of the whole pool's F1 ({target:.3f})")
        ax.set_ylim(0, 1)
        ax.set_title(title)
        ax.set_xlabel("articles annotated (beyond the seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def read_runs(paths: Sequence[Path]) -> tuple[Run, dict[str, Any]]:
    """The points and whole-pool F1s of several --json files, and the first one's settings."""
    points: list[Point] = []
    finals: dict[int, float] = {}
    settings: dict[str, Any] = {}
    for path in paths:
        results = json.loads(path.read_text(encoding="utf8"))["results"]
        points += [Point(**p) for p in results["points"]]
        finals.update({int(k): v for k, v in results["whole_pool_f1"].items()})
        settings = settings or {k: results[k] for k in ("k", "rounds", "steps_base",
                                                        "steps_per_article")}
    return Run(points, finals), settings


def main() -> None:
    args = parse_args()
    info = machine_info()
    print_machine(info)
    if args.combine:
        run, settings = read_runs(args.combine)
        report(run, argparse.Namespace(**{**vars(args), **settings}), info)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="annotation-loop-"))
    corpus = load_corpus(work)
    console.print(
        f"{len(corpus.seeds)} seed articles to start from, a pool of {len(corpus.pool)}, "
        f"{len(corpus.test)} test articles; k={args.k}, {args.rounds} rounds, seeds "
        f"{args.seeds}, steps {args.steps_base} + {args.steps_per_article} per article"
    )
    run = Run([], {})
    for seed in args.seeds:
        points, run.finals[seed] = run_seed(seed, corpus, work, args)
        run.points += points
    report(run, args, info)


def report(run: Run, args: Any, info: dict[str, Any]) -> None:
    """Print the curves, the articles needed and the paired differences; write JSON and plot."""
    columns = ["articles"] + [f"{s} {m}" for s in STRATEGIES for m in ("F1", "unseen R")]
    console.print(table(f"held-out test theatres over {len(run.finals)} seeds "
                        "(F1: mean ± sd [range])", [*columns, "F1 ratio unc./random"],
                        curve_rows(run.points)))
    needed, rows = needed_table(run)
    console.print(table("articles annotated to reach 90% of the whole pool's F1",
                        ["seed", "whole-pool F1", "90%", *STRATEGIES], rows))
    console.print(table("over seeds: mean and 95% t-interval",
                        ["figure", "mean", "95% interval", "per seed"],
                        verdict_rows(run, needed, args.k * args.rounds)))
    if args.plot:
        plot(run, args.plot)
        console.print(f"plot written to {args.plot}")
    results = {
        "k": args.k,
        "rounds": args.rounds,
        "steps_base": args.steps_base,
        "steps_per_article": args.steps_per_article,
        "seeds": sorted(run.finals),
        "points": [p.__dict__ for p in run.points],
        "whole_pool_f1": run.finals,
        "articles_to_90pct": needed,
        "paired_f1_gain": paired_gain(run),
    }
    finish(info, results, args.json)


if __name__ == "__main__":
    main()
