"""The merge policy, a pure function of the votes (no I/O).

Merge policy, per example: its annotators are the users with a span on it or
who marked it done. A span (start, end, label) made by more than half of them
is kept. A span made by exactly half is a tie, settled by the approver's
version: the confirming users with role annotation_approver or project_admin
(else all confirming users), if they agree on it. Everything else is left out
and listed as a conflict. One annotator: the merge is their spans.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from conflict_ner.convert import SpanTuple
from conflict_ner.doccano.votes import ExampleVotes
from conflict_ner.tasks import Task, make_task

APPROVER_ROLES = ("annotation_approver", "project_admin")


# Why a span was kept or left out; the reason text adds the detail for people.
Outcome = Literal["majority", "minority", "tie"]


@dataclass
class Decision:
    """The fate of one distinct span of one example."""

    span: SpanTuple
    voters: list[str]
    keep: bool
    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class Conflict:
    """A span some annotator made that the merge left out, with its context."""

    article_id: str
    doccano_example_id: int
    start: int
    end: int
    label: str
    text: str
    context: str
    annotators_with_span: list[str]
    annotators: list[str]
    outcome: Outcome
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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
            decisions.append(Decision(span, who, True, "majority", f"majority {votes}/{n}"))
        elif 2 * votes == n:
            decisions.append(_settle_tie(span, who, n, judges))
        else:
            decisions.append(Decision(span, who, False, "minority", f"minority {votes}/{n}"))
    return _drop_overlaps(decisions)


def _settle_tie(span: SpanTuple, who: list[str], n: int, judges: list[str]) -> Decision:
    """A tie is kept or dropped by the approvers' version if they agree, else a conflict."""
    tie = f"tie {len(who)}/{n}"
    if not judges:
        return Decision(span, who, False, "tie", f"{tie}, nobody approved the example")
    versions = {judge in who for judge in judges}
    if len(versions) > 1:
        return Decision(span, who, False, "tie", f"{tie}, approvers {', '.join(judges)} disagree")
    keep = versions.pop()
    verb = "kept" if keep else "rejected"
    return Decision(span, who, keep, "tie", f"{tie}, {verb} by approver {', '.join(judges)}")


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
) -> tuple[list[Task], list[Conflict]]:
    """Merged Prodigy tasks and the conflict records (spans left out, with reasons)."""
    merged: list[Task] = []
    conflicts: list[Conflict] = []
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


def _conflict(ex: ExampleVotes, d: Decision) -> Conflict:
    """One conflict: which span, who made it, why it was left out, with context."""
    start, end, label = d.span
    return Conflict(
        article_id=str(ex.meta.get("article_id")),
        doccano_example_id=ex.example_id,
        start=start,
        end=end,
        label=label,
        text=ex.text[start:end],
        context=ex.text[max(0, start - 60) : end + 60].replace("\n", " "),
        annotators_with_span=d.voters,
        annotators=sorted(ex.spans),
        outcome=d.outcome,
        reason=d.reason,
    )
