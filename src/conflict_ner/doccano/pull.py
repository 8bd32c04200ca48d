"""Pull annotations back from doccano as Prodigy tasks.

pull: downloads everything first (examples, members, two exports), then
writes, each file atomically:

    raw/                 doccano's export zips and listings, untouched
    annotators/<u>.jsonl Prodigy tasks per annotator; each span names its annotator
    merged.jsonl         the merge (policy below)
    conflicts.jsonl/.md  every span some annotator made that the merge left out
    agreement.json       pairwise span F1 and token-level Cohen's kappa

The merge policy is in ``merge``, agreement in ``agreement``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from conflict_ner.articles import article_id
from conflict_ner.convert import SpanIssue, align_spans, doccano_spans
from conflict_ner.doccano.agreement import agreement
from conflict_ner.doccano.client import DoccanoAPI, Export, resolve_connection
from conflict_ner.doccano.errors import DoccanoError
from conflict_ner.doccano.merge import Conflict, merge
from conflict_ner.doccano.push import HASH_KEY
from conflict_ner.doccano.render import agreement_table, conflicts_markdown
from conflict_ner.doccano.votes import ExampleVotes
from conflict_ner.files import (
    safe_file_name,
    write_bytes_atomic,
    write_jsonl,
    write_text_atomic,
)
from conflict_ner.tasks import Task, make_task


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
            example = article_id({"text": votes.text, "meta": votes.meta})
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


def _write_pull(
    out: Path,
    dl: Download,
    per_user: dict[str, list[Task]],
    merged: list[Task],
    conflicts: list[Conflict],
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
        path = out / "annotators" / f"{safe_file_name(user)}.jsonl"
        write_jsonl(path, tasks)
        written.add(path.name)
    for stale in (out / "annotators").glob("*.jsonl"):
        if stale.name not in written:  # an annotator from an earlier pull with nothing now
            stale.unlink()
    write_jsonl(out / "merged.jsonl", merged)
    write_jsonl(out / "conflicts.jsonl", [c.to_json() for c in conflicts])
    write_text_atomic(out / "conflicts.md", conflicts_markdown(conflicts, dl.project))
    counts = Counter(c.outcome for c in conflicts)
    summary = {**result, "merged_examples": len(merged), "conflicts": dict(counts)}
    write_text_atomic(out / "agreement.json", json.dumps(summary, indent=2) + "\n")
