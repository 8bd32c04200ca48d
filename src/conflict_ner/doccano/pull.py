"""Pull annotations back from doccano as Prodigy tasks.

pull: downloads everything first (examples, members, two exports), then
writes all files into a new folder beside the output folder and swaps it in
whole, so a pull leaves either all new files or the old folder untouched.
The output folder is pull's: one holding anything else is refused.

    raw/                 doccano's export zips and listings, untouched
    annotators/<u>.jsonl Prodigy tasks per annotator; each span names its annotator
    merged.jsonl         the merge (policy below)
    conflicts.jsonl/.md  every span some annotator made that the merge left out
    agreement.json       pairwise span F1 and token-level Cohen's kappa

The merge policy is in ``merge``, agreement in ``agreement``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from conflict_ner.articles import article_id
from conflict_ner.convert import SpanIssue, align_spans, doccano_spans
from conflict_ner.doccano.agreement import Agreement, agreement
from conflict_ner.doccano.client import DoccanoAPI, Export, resolve_connection
from conflict_ner.doccano.errors import DoccanoError
from conflict_ner.doccano.merge import Conflict, merge
from conflict_ner.doccano.push import HASH_KEY
from conflict_ner.doccano.render import agreement_table, conflicts_markdown
from conflict_ner.doccano.votes import ExampleVotes
from conflict_ner.files import (
    InvalidInput,
    Problem,
    safe_file_name,
    write_bytes_atomic,
    write_jsonl,
    write_text_atomic,
)
from conflict_ner.tasks import Task, make_task

# What a pull writes into its output folder (and all it may find there).
PULL_OUTPUTS = frozenset(
    {"raw", "annotators", "merged.jsonl", "conflicts.jsonl", "conflicts.md", "agreement.json"}
)


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
class PullSummary:
    """What agreement.json holds: the agreement, how many examples merged, and the
    conflicts by outcome."""

    agreement: Agreement
    merged_examples: int
    conflicts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        """The JSON form (the agreement's keys at the top level)."""
        return {
            **self.agreement.to_json(),
            "merged_examples": self.merged_examples,
            "conflicts": self.conflicts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PullSummary:
        """Read back what ``to_json`` wrote."""
        return cls(
            Agreement.from_json(data), int(data["merged_examples"]), dict(data["conflicts"])
        )


@dataclass
class PullReport:
    """What a pull wrote."""

    out_dir: Path
    annotators: dict[str, int]
    examples: int
    merged: int
    conflicts: int
    agreement: Agreement
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
    check_out_dir(Path(out_dir))
    api = api or DoccanoAPI(resolve_connection(data_dir))
    dl = download(api, project)  # a failure here leaves out_dir untouched
    issues: list[SpanIssue] = []
    votes = collect(dl, issues, ignore_users)
    roles = {m["username"]: m["role"] for m in dl.members}
    per_user = annotator_tasks(votes, project)
    merged, conflicts = merge(votes, roles, project)
    result = agreement(votes)
    summary = PullSummary(result, len(merged), dict(Counter(c.outcome for c in conflicts)))
    _write_pull(Path(out_dir), PullOutputs(dl, per_user, merged, conflicts, summary))
    if console is not None and result.pairs:
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


def check_out_dir(out: Path) -> None:
    """Raise InvalidInput unless ``out`` is missing, or a folder of earlier pull outputs only
    (it is replaced whole)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InvalidInput([Problem(out, 0, "the pull output folder is a file")])
    foreign = sorted(p.name for p in out.iterdir() if p.name not in PULL_OUTPUTS)
    if foreign:
        raise InvalidInput(
            [
                Problem(
                    out,
                    0,
                    f"holds {', '.join(foreign[:5])}, which pull did not write; pull replaces "
                    "its output folder whole, so choose an empty folder or an earlier pull's",
                )
            ]
        )


@dataclass
class PullOutputs:
    """Everything a pull writes, computed before anything is."""

    dl: Download
    per_user: dict[str, list[Task]]
    merged: list[Task]
    conflicts: list[Conflict]
    summary: PullSummary


def _write_pull(out: Path, outputs: PullOutputs) -> None:
    """Write every output into a new folder beside ``out``, then swap it in for ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.pull-", dir=out.parent))
    try:
        _write_files(stage, outputs)
        mask = os.umask(0)
        os.umask(mask)
        stage.chmod(0o777 & ~mask)  # mkdtemp's folder is 0700; outputs get the usual mode
        _swap_in(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _swap_in(stage: Path, out: Path) -> None:
    """Put folder ``stage`` where ``out`` is, by renames; the old ``out`` is deleted after."""
    if not out.exists():
        stage.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    try:
        stage.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_files(out: Path, outputs: PullOutputs) -> None:
    """Write every pull output into the (new, empty) folder ``out``."""
    dl, conflicts, summary = outputs.dl, outputs.conflicts, outputs.summary
    raw = out / "raw"
    write_bytes_atomic(raw / "export_all.zip", dl.export_all.raw)
    write_bytes_atomic(raw / "export_confirmed.zip", dl.export_confirmed.raw)
    write_text_atomic(raw / "examples.json", json.dumps(dl.examples, indent=1, ensure_ascii=False))
    write_text_atomic(raw / "members.json", json.dumps(dl.members, indent=1, ensure_ascii=False))
    (out / "annotators").mkdir()
    for user, tasks in outputs.per_user.items():
        write_jsonl(out / "annotators" / f"{safe_file_name(user)}.jsonl", tasks)
    write_jsonl(out / "merged.jsonl", outputs.merged)
    write_jsonl(out / "conflicts.jsonl", [c.to_json() for c in conflicts])
    write_text_atomic(out / "conflicts.md", conflicts_markdown(conflicts, dl.project))
    write_text_atomic(out / "agreement.json", json.dumps(summary.to_json(), indent=2) + "\n")
