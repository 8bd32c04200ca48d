"""Tag a corpus: run a trained model over articles, map mentions to canonical names and
write mentions, per-article counts, the who-fought-where table and a report.

Articles are tagged in batches; each batch is committed as a pair of shards
(``store.ShardStore``), so a killed run loses at most the batch in hand and
``resume`` skips the articles already committed. An article that cannot be
tagged (unreadable, not UTF-8, empty, too long) is reported and skipped.
"""

from __future__ import annotations

import csv
import glob
import io
import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from spacy.util import minibatch

from conflict_ner.articles import Article, iter_articles
from conflict_ner.files import (
    Problem,
    refuse_replacing_inputs,
    write_bytes_atomic,
    write_jsonl,
    write_text_atomic,
)
from conflict_ner.tagging.canonical import Canonicaliser, canonicaliser, resolve_acronyms
from conflict_ner.tagging.cooccurrence import (
    PAIR_COLUMNS,
    WHOM_COLUMNS,
    WhoFoughtWhere,
    who_fought_where,
)
from conflict_ner.tagging.options import FORMATS, PAIR_MODES, TagOptions
from conflict_ner.tagging.pipeline import Tagged, load_tagger, tag_partition, tagged
from conflict_ner.tagging.report import HEATMAP, MAP, write_report
from conflict_ner.tagging.store import ShardStore

Engine = Callable[[list[Article]], Iterator[list[Tagged]]]


@dataclass(frozen=True)
class Skipped:
    """An article left out: its id (or, when it has none, where it was read) and why."""

    id: str
    reason: str


@dataclass
class TagResult:
    """What a run did and where its files are."""

    out: Path
    tagged: int = 0
    already: int = 0
    mentions: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


# Every file tag writes into its output folder.
OUTPUT_NAMES = ("mentions.jsonl", "mentions.parquet", "articles.jsonl", "skipped.jsonl",
                "who_fought_where.csv", "who_fought_whom.csv", "report.md", "report.html",
                HEATMAP, MAP)


def input_paths(inputs: list[str]) -> list[Path]:
    """Files and folders named, with glob patterns expanded (a pattern that matches
    nothing stays as it is, so that ``tag`` can refuse it by name)."""
    paths: list[Path] = []
    for item in inputs:
        matches = sorted(glob.glob(item)) if glob.has_magic(item) else []
        paths += [Path(m) for m in matches] or [Path(item)]
    return paths


def problem_with(article: Article, max_chars: int) -> str | None:
    """Why an article cannot be tagged, or None."""
    if not article.text.strip():
        return "empty text after cleaning"
    if len(article.text) > max_chars:
        return f"too long: {len(article.text):,} characters (the limit is {max_chars:,})"
    return None


def select(
    paths: list[Path], done: set[str], max_chars: int
) -> tuple[list[Article], list[Skipped], int]:
    """The articles to tag, those skipped with their reasons, and how many were done before."""
    todo: list[Article] = []
    skipped: list[Skipped] = []
    seen = set(done)
    already = 0
    for item in iter_articles(paths):
        if isinstance(item, Problem):
            skipped.append(Skipped(f"{item.path}:{item.line}" if item.line else str(item.path),
                                   item.message))
        elif item.id in done:
            already += 1
        elif item.id in seen:
            skipped.append(Skipped(item.id, f"duplicate text ({item.source})"))
        elif reason := problem_with(item, max_chars):
            skipped.append(Skipped(item.id, f"{reason} ({item.source})"))
        else:
            seen.add(item.id)
            todo.append(item)
    return todo, skipped, already


def spacy_engine(model: str, options: TagOptions) -> Engine:
    """Plain spaCy on this machine: nlp.pipe in this process, or with ``n_process`` > 1
    a pool of that many worker processes, each loading the model once."""
    if options.n_process > 1:
        return pool_engine(model, options)

    def run(articles: list[Article]) -> Iterator[list[Tagged]]:
        nlp = load_tagger(model, options.quantize)
        docs = nlp.pipe(((a.text, a) for a in articles), as_tuples=True, batch_size=8)
        for batch in minibatch(docs, options.batch_size):
            yield [tagged(doc, article) for doc, article in batch]

    return run


def pool_engine(model: str, options: TagOptions) -> Engine:
    """``n_process`` worker processes that tag whole batches and send back rows.

    Not ``nlp.pipe(n_process=...)``: it sends every Doc back to this process in
    full, and decoding them here (plus the sentence rows) kept this process busy
    enough that 2 processes tagged only 1.65x as fast as 1 on 2 cores (CNN model,
    2,000 articles, benchmarks/tagging.py, docs/benchmarks.md).
    """

    def run(articles: list[Article]) -> Iterator[list[Tagged]]:
        # spawn, not fork: a forked copy of a process that has used torch's thread pool
        # can hang; each worker loads the model itself instead.
        context = multiprocessing.get_context("spawn")
        threads = max(1, len(os.sched_getaffinity(0)) // options.n_process)
        work = partial(tag_partition, model, options.quantize)
        with context.Pool(options.n_process, initializer=start_worker,
                          initargs=(model, options.quantize, threads)) as pool:  # fmt: skip
            yield from pool.imap(work, minibatch(articles, options.batch_size))

    return run


def start_worker(model: str, quantize: str | None, threads: int) -> None:
    """Load the model once in a pool worker, with torch kept to the worker's share of
    the cores so the workers do not fight over the same ones."""
    import torch

    torch.set_num_threads(threads)
    load_tagger(model, quantize)


def finish(result: Tagged, canon: Canonicaliser) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An article's record (counts per label, canonical names) and its mention rows
    with canonical names."""
    mentions = resolve_acronyms(
        [{**row, **canon(row["text"], row["label"]).fields()} for row in result.mentions]
    )
    record: dict[str, Any] = {**result.article, "sentences": result.sentences}
    record["mentions"] = {label: sum(r["label"] == label for r in mentions)
                          for label in ("FACTION", "PLACE")}
    record["factions"] = sorted({r["canonical"] for r in mentions if r["label"] == "FACTION"})
    record["places"] = sorted({r["canonical"] for r in mentions if r["label"] == "PLACE"})
    record["unmatched"] = sorted({r["canonical"] for r in mentions if not r["matched"]})
    return record, mentions


def run_batches(store: ShardStore, batches: Iterator[list[Tagged]],
                progress: Callable[[int], None]) -> tuple[int, int]:
    """Commit each batch as shards as it comes; the articles and mentions written."""
    canon = canonicaliser()
    index = max(store.indexes("articles") + store.indexes("mentions"), default=-1) + 1
    articles = mentions = 0
    for batch in batches:
        finished = [finish(result, canon) for result in batch]
        rows = [row for _, rows in finished for row in rows]
        store.write(index, [record for record, _ in finished], rows)
        index += 1
        articles += len(batch)
        mentions += len(rows)
        progress(len(batch))
    return articles, mentions


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> Path:
    """A CSV of rows with these columns, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())
    return path


def write_pairs(out: Path, table: WhoFoughtWhere) -> list[Path]:
    """who_fought_where.csv and who_fought_whom.csv in ``out``."""
    return [write_csv(out / "who_fought_where.csv", PAIR_COLUMNS, table.rows()),
            write_csv(out / "who_fought_whom.csv", WHOM_COLUMNS, table.whom_rows())]


def write_parquet(store: ShardStore, path: Path) -> Path:
    """mentions.parquet from the mention shards, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    text, integer, number, flag = pa.string(), pa.int64(), pa.float64(), pa.bool_()
    schema = pa.schema([
        ("article_id", text), ("title", text), ("date", text), ("source", text),
        ("start", integer), ("end", integer), ("label", text), ("text", text),
        ("sentence", text), ("sentence_index", integer), ("sentence_start", integer),
        ("canonical", text),
        ("matched", flag), ("matched_in", text), ("geonameid", integer), ("country", text),
        ("latitude", number), ("longitude", number),
    ])
    table = pa.Table.from_pylist(list(store.mentions()), schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_bytes_atomic(path, sink.getvalue().to_pybytes())
    return path


def assemble(store: ShardStore, fmt: str, summary: dict[str, Any],
             pairs: str = "cooccurrence") -> list[Path]:  # fmt: skip
    """The files an analyst reads, from every committed shard."""
    out = store.out
    mentions = (write_parquet(store, out / "mentions.parquet") if fmt == "parquet"
                else store.concatenate("mentions", out / "mentions.jsonl"))
    articles = store.concatenate("articles", out / "articles.jsonl")
    table = who_fought_where(store.mentions_by_article(), pairs)
    summary = {**summary, "articles": sum(1 for _ in store.articles()),
               "mentions": sum(n for label in table.names.values()
                               for n in label.mentions.values())}
    tables = write_pairs(out, table)
    return [mentions, articles, *tables, *write_report(out, table, summary)]


def checked_inputs(inputs: list[str], out: Path, options: TagOptions) -> list[Path]:
    """The input paths of a sound request; ValueError, before anything is read or
    started, for an unknown format or pairs mode, an input that is not there (or a
    pattern that matches nothing) and an output that would replace an input."""
    if options.fmt not in FORMATS:
        raise ValueError(f"unknown format {options.fmt!r}; expected one of {FORMATS}")
    if options.pairs not in PAIR_MODES:
        raise ValueError(f"unknown pairs {options.pairs!r}; expected one of {PAIR_MODES}")
    paths = input_paths(inputs)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:  # tagging nothing would still write empty outputs and exit 0
        raise ValueError(f"{', '.join(missing)}: no such file or folder, or a pattern "
                         "that matches nothing")
    refuse_replacing_inputs([Path(out) / name for name in OUTPUT_NAMES], paths)
    return paths


def tag(model: str, inputs: list[str], out: Path, options: TagOptions = TagOptions(),
        engine: Engine | None = None, progress: Callable[[int], None] = lambda n: None,
        on_start: Callable[[int], None] = lambda total: None) -> TagResult:
    """Tag the articles in ``inputs`` with ``model`` into ``out``; see the module doc.

    ``engine`` defaults to plain spaCy; ``on_start`` receives the number of articles
    to tag, ``progress`` the size of each committed batch.
    """
    paths = checked_inputs(inputs, out, options)
    if engine is None:  # a bad model fails before anything is written
        load_tagger(model, options.quantize)
    store = ShardStore(out)
    done = store.open(options.resume)
    todo, skipped, already = select(paths, done, options.max_chars)
    result = TagResult(Path(out), already=already, skipped=skipped)
    on_start(len(todo))
    run = engine or spacy_engine(model, options)
    result.tagged, result.mentions = run_batches(store, run(todo), progress)
    write_jsonl(Path(out) / "skipped.jsonl", (asdict(s) for s in skipped))
    summary = {"model": str(model), "skipped": len(skipped), "pairs": options.pairs}
    result.files = assemble(store, options.fmt, summary, options.pairs)
    return result
