"""Push articles to doccano and pull annotations back as Prodigy tasks.

push: idempotent. Each example carries ``_input_hash`` (the hash of its text,
as Prodigy computes it) and ``article_id`` in its doccano meta; pushing the
same file again adds nothing, a grown file adds only what is new, in one bulk
import. Pre-annotations (gold spans, pattern or model predictions) are
imported as the pushing user's annotations: doccano 1.8 with collaborative
annotation off shows each user only their own spans.

pull: downloads everything first (examples, members, two exports), then
writes, each file atomically:

    raw/                 doccano's export zips and listings, untouched
    annotators/<u>.jsonl Prodigy tasks per annotator; each span names its annotator
    merged.jsonl         the merge (policy below)
    conflicts.jsonl/.md  every span some annotator made that the merge left out
    agreement.json       pairwise span F1 and token-level Cohen's kappa

Merge policy, per example: its annotators are the users with a span on it or
who marked it done. A span (start, end, label) made by more than half of them
is kept. A span made by exactly half is a tie, settled by the approver's
version: the confirming users with role annotation_approver or project_admin
(else all confirming users), if they agree on it. Everything else is left out
and listed as a conflict. One annotator: the merge is their spans.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sklearn.metrics import cohen_kappa_score

from conflict_ner.articles import content_id
from conflict_ner.convert import SpanIssue, SpanTuple, align_spans, doccano_spans
from conflict_ner.doccano.client import DoccanoAPI, Export, resolve_connection
from conflict_ner.doccano.errors import DoccanoError
from conflict_ner.scheme import LABELS
from conflict_ner.tasks import (
    InvalidInput,
    Problem,
    Task,
    input_hash,
    make_task,
    make_tokens,
    read_records,
    read_tasks,
    write_bytes_atomic,
    write_jsonl,
    write_text_atomic,
)

# The meta fields every pushed row carries (missing ones as null), so that
# doccano's pandas-based import never fills a gap with NaN.
META_FIELDS = ("article_id", "title", "date", "source", "url")
HASH_KEY = "_input_hash"
APPROVER_ROLES = ("annotation_approver", "project_admin")
ArticleRow = dict[str, Any]


# -- push ------------------------------------------------------------------------------
@dataclass
class PushReport:
    """What a push did."""

    project_id: int
    added: int = 0
    already: int = 0
    duplicates: int = 0
    pre_annotated: int = 0
    spans: int = 0
    issues: list[SpanIssue] = field(default_factory=list)


def load_push_items(path: Path) -> list[ArticleRow]:
    """Articles (corpus/articles.jsonl rows) or Prodigy tasks, as text + meta; checked."""

    def parse(row: dict[str, Any]) -> ArticleRow:
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("needs a non-empty 'text'")
        meta = row.get("meta") if isinstance(row.get("meta"), dict) else row
        item = {k: meta.get(k) for k in META_FIELDS}
        item["article_id"] = meta.get("article_id") or row.get("id") or content_id(text)
        item["text"] = text
        return item

    items = read_records(path, parse)
    if not items:
        raise InvalidInput([Problem(Path(path), 0, "the file holds no articles")])
    return items


def _json_scalar(value: Any) -> Any:
    """Meta values as doccano keeps them well: scalars stay, anything else becomes JSON text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False)


def to_import_row(item: ArticleRow, spans: list[SpanTuple]) -> dict[str, Any]:
    """One doccano import row: text, label spans, and the identity + meta fields."""
    row: dict[str, Any] = {"text": item["text"], "label": [list(s) for s in spans]}
    row.update({k: _json_scalar(item.get(k)) for k in META_FIELDS})
    row[HASH_KEY] = input_hash({"text": item["text"]})
    return row


Annotator = Callable[[list[ArticleRow]], list[list[SpanTuple]]]


def gold_annotator(gold_path: Path) -> Annotator:
    """Pre-annotations from gold Prodigy tasks, matched on meta.article_id and same text."""
    # Rejected or ignored tasks are no gold (training skips them too).
    gold = read_tasks(gold_path) if Path(gold_path).exists() else []
    gold = [t for t in gold if t.get("answer", "accept") == "accept"]
    by_id = {(t.get("meta") or {}).get("article_id"): t for t in gold}
    by_hash = {input_hash({"text": t["text"]}): t for t in gold}

    def annotate(items: list[ArticleRow]) -> list[list[SpanTuple]]:
        result = []
        for item in items:
            task = by_id.get(item["article_id"]) or by_hash.get(input_hash({"text": item["text"]}))
            same_text = task is not None and task["text"] == item["text"]
            spans = task.get("spans", []) if same_text and task else []
            result.append([(s["start"], s["end"], s["label"]) for s in spans])
        return result

    return annotate


def pipeline_annotator(nlp: Any) -> Annotator:
    """Pre-annotations from a spaCy pipeline's entities (only our labels)."""

    def annotate(items: list[ArticleRow]) -> list[list[SpanTuple]]:
        docs = nlp.pipe(item["text"] for item in items)
        return [
            [(e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in LABELS]
            for doc in docs
        ]

    return annotate


def patterns_annotator() -> Annotator:
    """Pre-annotations from the rules: conflict_ner.patterns.pre_annotate, else build_pipeline()."""
    try:
        from conflict_ner import patterns  # the training side's module
    except ImportError as err:
        raise DoccanoError(f"pre-annotation 'patterns' needs conflict_ner.patterns: {err}") from err
    pre = getattr(patterns, "pre_annotate", None)
    if pre is not None:
        return lambda items: pre([item["text"] for item in items])
    build = getattr(patterns, "build_pipeline", None)
    if build is None:
        raise DoccanoError(
            "pre-annotation 'patterns' needs conflict_ner.patterns.pre_annotate(texts) or "
            "build_pipeline(), and this version has neither"
        )
    return pipeline_annotator(build())


def model_annotator(model: str) -> Annotator:
    """Pre-annotations from a trained spaCy model (a path or an installed package name)."""
    import spacy

    try:
        nlp = spacy.load(model)
    except OSError as err:
        raise DoccanoError(f"cannot load the spaCy model {model!r}: {err}") from err
    return pipeline_annotator(nlp)


def choose_annotator(pre_annotate: str | None, gold_path: Path) -> Annotator | None:
    """The pre-annotation source: gold, patterns, none, or a model path/name."""
    if pre_annotate in (None, "", "none"):
        return None
    if pre_annotate == "gold":
        return gold_annotator(gold_path)
    if pre_annotate == "patterns":
        return patterns_annotator()
    return model_annotator(pre_annotate)


def read_guidelines(path: Path | None) -> str:
    """The annotation guidelines shown in doccano, if the file exists."""
    return path.read_text(encoding="utf8") if path and Path(path).is_file() else ""


def push(
    articles_path: Path,
    project: str,
    pre_annotate: str | None = "gold",
    gold_path: Path = Path("corpus/gold.jsonl"),
    api: DoccanoAPI | None = None,
    data_dir: Path = Path(".doccano"),
    guidelines: Path | None = Path("configs/guidelines.md"),
) -> PushReport:
    """Send the articles doccano lacks (by text hash) in one import; return counts."""
    items = load_push_items(articles_path)
    annotator = choose_annotator(pre_annotate, gold_path)
    api = api or DoccanoAPI(resolve_connection(data_dir))
    project_id = api.ensure_project(project, read_guidelines(guidelines))
    known = {ex["meta"].get(HASH_KEY) for ex in api.list_examples(project_id)}
    report = PushReport(project_id)
    new: list[ArticleRow] = []
    new_keys: set[int] = set()
    for item in items:
        key = input_hash({"text": item["text"]})
        if key in new_keys:
            report.duplicates += 1  # the same text twice in the input file
        elif key in known:
            report.already += 1
        else:
            new_keys.add(key)
            new.append(item)
    rows = _rows_with_spans(new, annotator, str(articles_path), report)
    api.import_rows(project_id, rows, name=Path(articles_path).name)
    report.added = len(rows)
    _check_arrived(api, project_id, rows)
    return report


def _rows_with_spans(
    items: list[ArticleRow], annotator: Annotator | None, file: str, report: PushReport
) -> list[dict[str, Any]]:
    """Import rows with pre-annotations aligned to token boundaries (issues reported)."""
    predicted = annotator(items) if annotator and items else [[] for _ in items]
    rows = []
    for item, spans in zip(items, predicted, strict=True):
        aligned, issues = align_spans(item["text"], spans, file, item["article_id"])
        report.issues.extend(issues)
        report.pre_annotated += bool(aligned)
        report.spans += len(aligned)
        rows.append(to_import_row(item, aligned))
    return rows


def _check_arrived(api: DoccanoAPI, project_id: int, rows: list[dict[str, Any]]) -> None:
    """Raise unless every pushed row is now an example in doccano."""
    if not rows:
        return
    present = {ex["meta"].get(HASH_KEY) for ex in api.list_examples(project_id)}
    missing = [r["article_id"] for r in rows if r[HASH_KEY] not in present]
    if missing:
        raise DoccanoError(f"doccano did not import {len(missing)} article(s): {missing[:10]}")


# -- pull: download --------------------------------------------------------------------
@dataclass
class Download:
    """Everything pull needs from doccano, fetched before anything is written."""

    project: str
    project_id: int
    examples: list[dict[str, Any]]
    members: list[dict[str, Any]]
    export_all: Export
    export_confirmed: Export


def download(api: DoccanoAPI, project: str) -> Download:
    """Fetch examples, members and both exports (all and confirmed-only) into memory."""
    project_id = api.find_project(project)
    if project_id is None:
        raise DoccanoError(f"doccano has no project named {project!r}; push to it first")
    return Download(
        project,
        project_id,
        api.list_examples(project_id),
        api.members(project_id),
        api.export(project_id),
        api.export(project_id, confirmed_only=True),
    )


# -- pull: per-annotator tasks -------------------------------------------------------------
@dataclass
class ExampleVotes:
    """One example: its text, meta, and each annotator's spans."""

    example_id: int
    text: str
    meta: dict[str, Any]
    spans: dict[str, list[SpanTuple]] = field(default_factory=dict)
    confirmed_by: set[str] = field(default_factory=set)


def collect(
    dl: Download, issues: list[SpanIssue], ignore_users: Iterable[str] = ()
) -> list[ExampleVotes]:
    """Per example, every annotator's token-aligned spans and who confirmed it.

    ``ignore_users`` are left out entirely (e.g. the account whose pushed
    pre-annotations should not count as a vote).
    """
    ignored = set(ignore_users)
    by_id = {
        ex["id"]: ExampleVotes(ex["id"], ex["text"], _clean_meta(ex["meta"], ex["id"]))
        for ex in dl.examples
    }
    for user, rows in dl.export_confirmed.rows_by_user.items():
        for row in rows if user not in ignored else []:
            if row["id"] in by_id:
                by_id[row["id"]].confirmed_by.add(user)
    for user, rows in dl.export_all.rows_by_user.items():
        for row in rows if user not in ignored else []:
            votes = by_id.get(row["id"])
            raw = doccano_spans(row)
            if votes is None or not (raw or user in votes.confirmed_by):
                continue
            example = str(votes.meta.get("article_id", votes.example_id))
            aligned, found = align_spans(votes.text, raw, f"doccano:{user}", example)
            issues.extend(found)
            votes.spans[user] = aligned
    for votes in by_id.values():
        for user in votes.confirmed_by:
            votes.spans.setdefault(user, [])
    return list(by_id.values())


def _clean_meta(meta: dict[str, Any], example_id: int) -> dict[str, Any]:
    """Prodigy meta from doccano meta: our hash key out, the doccano example id in."""
    clean = {k: v for k, v in meta.items() if k != HASH_KEY}
    clean["doccano_example_id"] = example_id
    return clean


def annotator_tasks(votes: list[ExampleVotes], project: str) -> dict[str, list[Task]]:
    """Prodigy tasks per annotator; each span carries ``annotator``."""
    tasks: dict[str, list[Task]] = {}
    for ex in votes:
        for user, spans in sorted(ex.spans.items()):
            task = make_task(ex.text, spans, dict(ex.meta))
            for span in task["spans"]:
                span["annotator"] = user  # added after hashing: same _task_hash as plain spans
            task["_annotator_id"] = f"{project}-{user}"
            task["_session_id"] = f"{project}-{user}"
            task["meta"]["confirmed"] = user in ex.confirmed_by
            tasks.setdefault(user, []).append(task)
    return tasks


# -- pull: merge -----------------------------------------------------------------------
@dataclass
class Decision:
    """The fate of one distinct span of one example."""

    span: SpanTuple
    voters: list[str]
    keep: bool
    reason: str


def approvers(ex: ExampleVotes, roles: dict[str, str]) -> list[str]:
    """Whose version settles a tie: confirming approvers/admins, else all confirmers."""
    chosen = sorted(u for u in ex.confirmed_by if roles.get(u) in APPROVER_ROLES)
    return chosen or sorted(ex.confirmed_by)


def decide(ex: ExampleVotes, roles: dict[str, str]) -> list[Decision]:
    """Apply the merge policy to every distinct span of one example."""
    annotators = sorted(ex.spans)
    n = len(annotators)
    voters: dict[SpanTuple, list[str]] = {}
    for user in annotators:
        for span in ex.spans[user]:
            voters.setdefault(span, []).append(user)
    judges = approvers(ex, roles)
    decisions = []
    for span, who in sorted(voters.items()):
        votes = len(who)
        if 2 * votes > n:
            decisions.append(Decision(span, who, True, f"majority {votes}/{n}"))
        elif 2 * votes == n:
            decisions.append(_settle_tie(span, who, n, judges))
        else:
            decisions.append(Decision(span, who, False, f"minority {votes}/{n}"))
    return _drop_overlaps(decisions)


def _settle_tie(span: SpanTuple, who: list[str], n: int, judges: list[str]) -> Decision:
    """A tie is kept or dropped by the approvers' version if they agree, else a conflict."""
    tie = f"tie {len(who)}/{n}"
    if not judges:
        return Decision(span, who, False, f"{tie}, nobody approved the example")
    versions = {judge in who for judge in judges}
    if len(versions) > 1:
        return Decision(span, who, False, f"{tie}, approvers {', '.join(judges)} disagree")
    keep = versions.pop()
    verb = "kept" if keep else "rejected"
    return Decision(span, who, keep, f"{tie}, {verb} by approver {', '.join(judges)}")


def _drop_overlaps(decisions: list[Decision]) -> list[Decision]:
    """Kept spans must not overlap: the one with more votes (then the longer) stays."""
    kept: list[Decision] = []
    ranked = sorted(
        (d for d in decisions if d.keep),
        key=lambda d: (-len(d.voters), -(d.span[1] - d.span[0]), d.span),
    )
    for d in ranked:
        clash = next((k for k in kept if d.span[0] < k.span[1] and k.span[0] < d.span[1]), None)
        if clash is None:
            kept.append(d)
        else:
            d.keep = False
            d.reason += f"; overlaps kept span {clash.span[0]}-{clash.span[1]} {clash.span[2]}"
    return decisions


def merge(
    votes: list[ExampleVotes], roles: dict[str, str], project: str
) -> tuple[list[Task], list[dict[str, Any]]]:
    """Merged Prodigy tasks and the conflict records (spans left out, with reasons)."""
    merged: list[Task] = []
    conflicts: list[dict[str, Any]] = []
    for ex in votes:
        if not ex.spans:
            continue  # nobody has annotated it yet
        decisions = decide(ex, roles)
        task = make_task(ex.text, [d.span for d in decisions if d.keep], dict(ex.meta))
        by_span = {d.span: d for d in decisions}
        for span in task["spans"]:
            d = by_span[(span["start"], span["end"], span["label"])]
            span["annotators"] = d.voters
            span["decision"] = d.reason
        task["meta"]["annotators"] = sorted(ex.spans)
        task["_annotator_id"] = f"{project}-merged"
        merged.append(task)
        conflicts += [_conflict(ex, d) for d in decisions if not d.keep]
    return merged, conflicts


def _conflict(ex: ExampleVotes, d: Decision) -> dict[str, Any]:
    """One conflict record: which span, who made it, why it was left out, with context."""
    start, end, label = d.span
    return {
        "article_id": ex.meta.get("article_id"),
        "doccano_example_id": ex.example_id,
        "start": start,
        "end": end,
        "label": label,
        "text": ex.text[start:end],
        "context": ex.text[max(0, start - 60) : end + 60].replace("\n", " "),
        "annotators_with_span": d.voters,
        "annotators": sorted(ex.spans),
        "reason": d.reason,
    }


def conflicts_markdown(conflicts: list[dict[str, Any]], project: str) -> str:
    """A readable report of the conflicts, grouped by article."""
    lines = [f"# Conflicts in doccano project {project!r}", ""]
    if not conflicts:
        return "\n".join([*lines, "No conflicts: every span was settled.", ""])
    lines.append(f"{len(conflicts)} span(s) left out of merged.jsonl.")
    current = None
    for c in conflicts:
        if c["article_id"] != current:
            current = c["article_id"]
            lines += ["", f"## Article {current} (doccano example {c['doccano_example_id']})", ""]
            lines.append(f"Annotators: {', '.join(c['annotators'])}")
            lines.append("")
        context = c["context"].replace(c["text"], f"**{c['text']}**", 1)
        lines.append(
            f'- `{c["label"]}` {c["start"]}-{c["end"]} "{c["text"]}" by '
            f"{', '.join(c['annotators_with_span'])}: {c['reason']}  \n  …{context}…"
        )
    return "\n".join([*lines, ""])


# -- pull: agreement -----------------------------------------------------------------------
def token_labels(text: str, spans: Iterable[SpanTuple]) -> list[str]:
    """One label per token (O outside spans), on the blank English tokenizer's tokens."""
    tokens = make_tokens(text)
    labels = ["O"] * len(tokens)
    for start, end, label in spans:
        for i, tok in enumerate(tokens):
            if tok["start"] >= start and tok["end"] <= end:
                labels[i] = label
    return labels


def agreement(votes: list[ExampleVotes]) -> dict[str, Any]:
    """Pairwise span F1 (exact start, end, label) and Cohen's kappa over tokens."""
    users = sorted({u for ex in votes for u in ex.spans})
    pairs = []
    for a, b in combinations(users, 2):
        shared = [ex for ex in votes if a in ex.spans and b in ex.spans]
        if not shared:
            continue
        tp = sum(len(set(ex.spans[a]) & set(ex.spans[b])) for ex in shared)
        na = sum(len(set(ex.spans[a])) for ex in shared)
        nb = sum(len(set(ex.spans[b])) for ex in shared)
        ya = [lab for ex in shared for lab in token_labels(ex.text, ex.spans[a])]
        yb = [lab for ex in shared for lab in token_labels(ex.text, ex.spans[b])]
        f1 = 2 * tp / (na + nb) if na + nb else 1.0
        pairs.append(
            {
                "a": a,
                "b": b,
                "examples": len(shared),
                "spans_a": na,
                "spans_b": nb,
                "matching_spans": tp,
                "span_f1": round(f1, 4),
                "tokens": len(ya),
                "token_kappa": _kappa(ya, yb),
            }
        )
    return {
        "annotators": users,
        "span_match": "exact start, end and label",
        "kappa_unit": "token; label per token (O, FACTION, PLACE); spaCy blank English tokens",
        "pairs": pairs,
    }


def _kappa(ya: list[str], yb: list[str]) -> float | None:
    """Cohen's kappa; 1.0 for identical labelings (sklearn's is undefined with one class)."""
    if ya == yb:
        return 1.0
    value = float(cohen_kappa_score(ya, yb))
    return None if value != value else round(value, 4)  # NaN -> None


def agreement_table(result: dict[str, Any]) -> Table:
    """A rich table of the pairwise agreement."""
    table = Table(title="Inter-annotator agreement")
    for col in ("annotator A", "annotator B", "examples", "spans A", "spans B", "span F1", "kappa"):
        table.add_column(
            col, justify="right" if col not in ("annotator A", "annotator B") else "left"
        )
    for p in result["pairs"]:
        kappa = "n/a" if p["token_kappa"] is None else f"{p['token_kappa']:.3f}"
        table.add_row(
            p["a"], p["b"], str(p["examples"]), str(p["spans_a"]), str(p["spans_b"]),
            f"{p['span_f1']:.3f}", kappa,
        )  # fmt: skip
    return table


# -- pull ------------------------------------------------------------------------------
@dataclass
class PullReport:
    """What a pull wrote."""

    out_dir: Path
    annotators: dict[str, int]
    examples: int
    merged: int
    conflicts: int
    agreement: dict[str, Any]
    issues: list[SpanIssue]


def pull(
    project: str,
    out_dir: Path,
    api: DoccanoAPI | None = None,
    data_dir: Path = Path(".doccano"),
    console: Console | None = None,
    ignore_users: Iterable[str] = (),
) -> PullReport:
    """Download every annotation of every user, then write raw, per-annotator, merged files.

    ``ignore_users``: users whose spans neither vote nor get a file (raw keeps them).
    """
    api = api or DoccanoAPI(resolve_connection(data_dir))
    dl = download(api, project)  # a failure here leaves out_dir untouched
    issues: list[SpanIssue] = []
    votes = collect(dl, issues, ignore_users)
    roles = {m["username"]: m["role"] for m in dl.members}
    per_user = annotator_tasks(votes, project)
    merged, conflicts = merge(votes, roles, project)
    result = agreement(votes)
    _write_pull(Path(out_dir), dl, per_user, merged, conflicts, result)
    if console is not None and result["pairs"]:
        console.print(agreement_table(result))
    return PullReport(
        Path(out_dir),
        {u: len(t) for u, t in per_user.items()},
        len(dl.examples),
        len(merged),
        len(conflicts),
        result,
        issues,
    )


def _safe_name(user: str) -> str:
    """A username as a file name (doccano allows @ . + - _ besides letters and digits)."""
    return re.sub(r"[^\w.@+-]", "_", user) or "_"


def _write_pull(
    out: Path,
    dl: Download,
    per_user: dict[str, list[Task]],
    merged: list[Task],
    conflicts: list[dict[str, Any]],
    result: dict[str, Any],
) -> None:
    """Write every pull output, each through a temporary file and a rename."""
    raw = out / "raw"
    write_bytes_atomic(raw / "export_all.zip", dl.export_all.raw)
    write_bytes_atomic(raw / "export_confirmed.zip", dl.export_confirmed.raw)
    write_text_atomic(raw / "examples.json", json.dumps(dl.examples, indent=1, ensure_ascii=False))
    write_text_atomic(raw / "members.json", json.dumps(dl.members, indent=1, ensure_ascii=False))
    written = set()
    for user, tasks in per_user.items():
        path = out / "annotators" / f"{_safe_name(user)}.jsonl"
        write_jsonl(path, tasks)
        written.add(path.name)
    for stale in (out / "annotators").glob("*.jsonl"):
        if stale.name not in written:  # an annotator from an earlier pull with nothing now
            stale.unlink()
    write_jsonl(out / "merged.jsonl", merged)
    write_jsonl(out / "conflicts.jsonl", conflicts)
    write_text_atomic(out / "conflicts.md", conflicts_markdown(conflicts, dl.project))
    counts = Counter(c["reason"].split(",")[0].split(" ")[0] for c in conflicts)
    summary = {**result, "merged_examples": len(merged), "conflicts": dict(counts)}
    write_text_atomic(out / "agreement.json", json.dumps(summary, indent=2) + "\n")
