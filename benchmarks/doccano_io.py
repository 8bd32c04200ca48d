"""doccano round trip: push (gold pre-annotations) and pull of synthetic articles.

    python benchmarks/doccano_io.py [--sizes 1000 10000]

Starts a real local doccano (server.up, reusing the doccano venv in
$CONFLICT_NER_DOCCANO_VENV or .doccano/venv) on a free loopback port with a
temporary data folder, and stops it in a ``finally``. For each size it writes
that many synthetic articles (deterministic: seeded; realistic length, 250-550
words; random faction and place names from a template) as an articles JSONL
and a gold Prodigy JSONL (tasks.make_task), then times, each against its own
new doccano project:

- push: doccano.push.push with --pre-annotate gold (ask doccano what it has, read
  the gold and validate the tasks of the new articles, upload, doccano's import
  task, check that all arrived);
- pull: doccano.pull.pull (examples, members, two exports, merge, files written);
- re-push: the same push again, which must add zero examples (exit 1 if not);
  the push remembers what the project holds, so this asks doccano only for
  the project's fingerprint;
- cold re-push: the same again with that memory deleted (as from another
  machine), which lists every example from doccano.

Ratios: seconds per 1,000 examples at the largest size over the smallest
(scaling; 1.0 is linear) and push over pull at each size. 10,000 is the
target size; pass smaller --sizes for a quick run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from _common import ROOT, console, finish, machine_info, print_machine, ratio, table
from rich.progress import Progress

from conflict_ner.articles import content_id
from conflict_ner.doccano import pull as doccano_pull
from conflict_ner.doccano import push as doccano_push
from conflict_ner.doccano import server
from conflict_ner.doccano.client import Connection, DoccanoAPI
from conflict_ner.files import dumps
from conflict_ner.tasks import make_task

T = TypeVar("T")
SpanTuple = tuple[int, int, str]

FACTIONS = (
    "YPG", "SDF", "NDF", "ISIS", "Hizballah", "Free Syrian Army", "Asayish",
    "Syrian Democratic Forces", "National Defence Forces", "Jabhat al-Nusra",
    "People's Protection Units", "Islamic State", "Sutoro", "Ahrar al-Sham",
)  # fmt: skip
PLACES = (
    "Hasakah", "Hassakeh", "Qamishli", "Ghwairan", "Kawkab hills", "Raqqa", "Manbij",
    "Deir ez-Zor", "Tal Abyad", "Ras al-Ain", "Kobani", "Aleppo", "Nashwa", "Tal Tamr",
)  # fmt: skip
# {F}: a faction, {P}: a place, {N}: a number; names stand alone as spaCy tokens.
SENTENCES = (
    "Fighters of the {F} advanced on {P} early on the morning of the attack , witnesses said .",
    "A spokesman for the {F} told reporters that {N} of its members had been killed near {P} .",
    "Residents of {P} reported heavy shelling throughout the night and said {N} families fled .",
    "The {F} denied the claims and accused the {F} of targeting civilians in {P} .",
    "According to a monitoring group , clashes between the {F} and the {F} left {N} dead .",
    "Aid agencies said roads between {P} and {P} had been closed for {N} days .",
    "Local officials in {P} said the {F} now holds most districts east of the river .",
    "The fighting is the worst in {P} since the {F} took over the district {N} months ago .",
    "Analysts say the offensive is meant to cut the supply line that links {P} with {P} .",
    "Hospital staff in {P} said they had received {N} wounded , among them women and children .",
    "Negotiators met in {P} on Tuesday but failed to agree on a ceasefire , a source said .",
    "The {F} said it would not withdraw from {P} until its demands were met .",
    "Thousands of people gathered in {P} to mourn those killed in the strike .",
    "Electricity and water have been cut in parts of {P} for more than {N} hours .",
)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--venv", type=Path, default=None, help="doccano's venv to reuse")
    parser.add_argument("--task-timeout", type=float, default=3600.0, help="doccano task wait, s")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args()


def fill(sentence: str, rng: random.Random) -> tuple[str, list[SpanTuple]]:
    """A template sentence with its slots filled, and the spans (relative offsets) of names."""
    out, spans = "", []
    for word in sentence.split(" "):
        piece = word
        label = {"{F}": "FACTION", "{P}": "PLACE"}.get(word)
        if label == "FACTION":
            piece = rng.choice(FACTIONS)
        elif label == "PLACE":
            piece = rng.choice(PLACES)
        elif word == "{N}":
            piece = str(rng.randint(2, 400))
        start = len(out) + (1 if out else 0)
        out = f"{out} {piece}" if out else piece
        if label:
            spans.append((start, start + len(piece), label))
    return out.replace(" ,", ",").replace(" .", "."), _shift_spans(out, spans)


def _shift_spans(spaced: str, spans: list[SpanTuple]) -> list[SpanTuple]:
    """Span offsets after ' ,' and ' .' lose their space (as fill() does to the text)."""
    shifted = []
    for start, end, label in spans:
        removed = spaced[:start].count(" ,") + spaced[:start].count(" .")
        shifted.append((start - removed, end - removed, label))
    return shifted


def synthetic_article(number: int, rng: random.Random) -> tuple[dict[str, Any], list[SpanTuple]]:
    """One article row (as corpus/articles.jsonl has them) and its gold spans."""
    target = rng.randint(250, 550)
    place = rng.choice(PLACES)
    title = f"Report {number:05d}: fighting near {place}"
    text, spans = title, [(len(title) - len(place), len(title), "PLACE")]
    words = len(title.split())
    while words < target:
        paragraph: list[str] = []
        for _ in range(rng.randint(3, 6)):
            sentence, found = fill(rng.choice(SENTENCES), rng)
            offset = len(text) + 2 + sum(len(s) + 1 for s in paragraph)
            spans += [(s + offset, e + offset, lab) for s, e, lab in found]
            paragraph.append(sentence)
            words += len(sentence.split())
        text = f"{text}\n\n{' '.join(paragraph)}"
    day = 1 + number % 28
    row = {"id": content_id(text), "title": title, "date": f"2016-08-{day:02d}",
           "source": f"synthetic-{number:05d}.txt", "text": text}  # fmt: skip
    return row, spans


def write_corpus(size: int, seed: int, folder: Path) -> tuple[Path, Path, int]:
    """Write `size` articles and their gold tasks; return both paths and the word count."""
    rng = random.Random(f"{seed}-{size}")
    folder.mkdir(parents=True, exist_ok=True)
    articles, gold = folder / "articles.jsonl", folder / "gold.jsonl"
    words = 0
    with (
        articles.open("w", encoding="utf8") as art_out,
        gold.open("w", encoding="utf8") as gold_out,
        Progress(console=console, transient=True) as progress,
    ):
        task = progress.add_task(f"writing {size:,} synthetic articles", total=size)
        for number in range(size):
            row, spans = synthetic_article(number, rng)
            meta = {k: row[k] for k in ("title", "date", "source")} | {"article_id": row["id"]}
            art_out.write(json.dumps(row, ensure_ascii=False) + "\n")
            gold_out.write(dumps(make_task(row["text"], spans, meta)) + "\n")
            words += len(row["text"].split())
            progress.advance(task)
    return articles, gold, words


def timed(what: str, call: Callable[[], T]) -> tuple[T, float]:
    """Run call under a spinner; return its result and the wall seconds it took."""
    with console.status(what):
        start = time.perf_counter()
        result = call()
        return result, time.perf_counter() - start


def doccano_venv(given: Path | None) -> Path:
    """The doccano venv to reuse: --venv, else $CONFLICT_NER_DOCCANO_VENV, else .doccano/venv."""
    if given is not None:
        return given.absolute()
    return Path(os.environ.get(server.VENV_ENV) or ROOT / ".doccano/venv").absolute()


def round_trip(api: DoccanoAPI, size: int, seed: int, work: Path) -> dict[str, Any]:
    """Generate `size` articles, then time push, pull and the re-push in a new project."""
    articles, gold, words = write_corpus(size, seed, work / f"data-{size}")
    project = f"bench-{size}"

    def push() -> doccano_push.PushReport:
        return doccano_push.push(articles, project, "gold", [gold], api=api, guidelines=None)

    first, push_s = timed(f"push {size:,} articles", push)
    pulled, pull_s = timed(f"pull {size:,} articles", lambda: doccano_pull.pull(
        project, work / f"pull-{size}", api=api))  # fmt: skip
    again, repush_s = timed(f"re-push {size:,} articles", push)
    known = doccano_push.KnownExamples(api, project, first.project_id)
    known.path.unlink(missing_ok=True)
    cold, cold_s = timed(f"cold re-push {size:,} articles", push)
    figures = {"size": size, "words": words, "added": first.added, "spans": first.spans,
               "pulled": pulled.examples, "merged": pulled.merged, "push_s": push_s,
               "pull_s": pull_s, "repush_s": repush_s, "repush_added": again.added + cold.added,
               "cold_repush_s": cold_s,
               "gold_mib": gold.stat().st_size / 2**20}  # fmt: skip
    console.print(f"{size:,}: pushed {first.added:,} ({first.spans:,} spans) in {push_s:.1f} s, "
                  f"pulled {pulled.examples:,} in {pull_s:.1f} s, re-push added {again.added} "
                  f"in {repush_s:.1f} s, cold re-push added {cold.added} "
                  f"in {cold_s:.1f} s")  # fmt: skip
    return figures


def report(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Print per-size figures and the ratios; return the ratios."""
    rows = []
    for r in runs:
        per_k = 1000 / r["size"]
        rows.append([f"{r['size']:,}", f"{r['words']:,}", f"{r['push_s']:.1f}",
                     f"{r['push_s'] * per_k:.2f}", f"{r['pull_s']:.1f}",
                     f"{r['pull_s'] * per_k:.2f}", f"{r['repush_s']:.1f}",
                     f"{r['cold_repush_s']:.1f}", str(r["repush_added"]),
                     f"{ratio(r['push_s'], r['pull_s']):.2f}"])  # fmt: skip
    columns = ["examples", "words", "push s", "push s/1k", "pull s", "pull s/1k",
               "re-push s", "cold re-push s", "re-push added", "push/pull"]  # fmt: skip
    console.print(table("doccano push and pull", columns, rows))
    ratios = {f"push/pull at {r['size']}": ratio(r["push_s"], r["pull_s"]) for r in runs}
    if len(runs) > 1:
        small, large = runs[0], runs[-1]
        for key in ("push_s", "pull_s"):
            scale = ratio(large[key] / large["size"], small[key] / small["size"])
            ratios[f"{key[:-2]} s/1k at {large['size']} vs {small['size']}"] = scale
    for name, value in ratios.items():
        console.print(f"ratio {name}: {value:.2f}")
    return ratios


def main() -> int:
    """Start doccano, run every size, stop doccano; exit 1 if a re-push added anything."""
    args = parse_args()
    info = machine_info()
    print_machine(info)
    work = Path(tempfile.mkdtemp(prefix="conflict-ner-bench-doccano-"))
    data_dir = work / "doccano"
    runs: list[dict[str, Any]] = []
    try:
        port = server.free_port()
        venv = doccano_venv(args.venv)
        srv, up_s = timed("starting doccano", lambda: server.up(
            data_dir, port=port, venv=venv, timeout=300, console=console))  # fmt: skip
        console.print(f"doccano up at {srv.url} in {up_s:.1f} s (data in {data_dir})")
        creds = server.read_credentials(data_dir)
        api = DoccanoAPI(Connection(srv.url, creds["username"], creds["password"]),
                         task_timeout=args.task_timeout)  # fmt: skip
        runs = [round_trip(api, size, args.seed, work) for size in sorted(args.sizes)]
    finally:
        server.down(data_dir, quiet=True)
        shutil.rmtree(work, ignore_errors=True)
    ratios = report(runs)
    finish(info, {"runs": runs, "ratios": ratios, "doccano_start_s": up_s}, args.json)
    bad = [r for r in runs if r["repush_added"]]
    for r in bad:
        console.print(f"[red]FAIL[/red] re-push of {r['size']:,} added {r['repush_added']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
