"""Pull results for people: the conflicts report (Markdown) and the agreement table."""

from __future__ import annotations

from rich.table import Table

from conflict_ner.doccano.agreement import Agreement
from conflict_ner.doccano.merge import Conflict


def conflicts_markdown(conflicts: list[Conflict], project: str) -> str:
    """A readable report of the conflicts, grouped by article."""
    lines = [f"# Conflicts in doccano project {project!r}", ""]
    if not conflicts:
        return "\n".join([*lines, "No conflicts: every span was settled.", ""])
    lines.append(f"{len(conflicts)} span(s) left out of merged.jsonl.")
    current = None
    for c in conflicts:
        if c.article_id != current:
            current = c.article_id
            lines += ["", f"## Article {current} (doccano example {c.doccano_example_id})", ""]
            lines.append(f"Annotators: {', '.join(c.annotators)}")
            lines.append("")
        context = c.context.replace(c.text, f"**{c.text}**", 1)
        lines.append(
            f'- `{c.label}` {c.start}-{c.end} "{c.text}" by '
            f"{', '.join(c.annotators_with_span)}: {c.reason}  \n  …{context}…"
        )
    return "\n".join([*lines, ""])


def agreement_table(result: Agreement) -> Table:
    """A rich table of the pairwise agreement."""
    table = Table(title="Inter-annotator agreement")
    for col in ("annotator A", "annotator B", "examples", "spans A", "spans B", "span F1", "kappa"):
        table.add_column(
            col, justify="right" if col not in ("annotator A", "annotator B") else "left"
        )
    for p in result.pairs:
        kappa = "n/a" if p.token_kappa is None else f"{p.token_kappa:.3f}"
        table.add_row(
            p.a, p.b, str(p.examples), str(p.spans_a), str(p.spans_b), f"{p.span_f1:.3f}", kappa
        )
    return table


