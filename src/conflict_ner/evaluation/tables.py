"""One table model for every figure the harness shows: built once, rendered to the
terminal (rich), to Markdown and to HTML, so the three cannot drift apart."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import rich.table
from rich.text import Text


@dataclass(frozen=True)
class Link:
    """A table cell that links somewhere."""

    text: str
    href: str


Cell = str | Link


@dataclass
class Table:
    """Headers and rows of string (or link) cells; ``terminal`` names the columns a
    terminal shows (all when empty), since reports may be wider than a screen."""

    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    title: str = ""
    terminal: list[str] = field(default_factory=list)


def pct(x: float | None) -> str:
    """A score as a percentage with one decimal; a dash when it is not defined."""
    return "–" if x is None else f"{100 * x:.1f}"


def interval(low: float, high: float) -> str:
    """A bootstrap interval as percentages."""
    return f"{pct(low)}–{pct(high)}"


def _text(cell: Cell) -> str:
    return cell.text if isinstance(cell, Link) else cell


def to_rich(table: Table) -> rich.table.Table:
    """The table for the terminal (cell text never read as markup)."""
    keep = [i for i, h in enumerate(table.headers) if not table.terminal or h in table.terminal]
    out = rich.table.Table(*(rich.table.Column(Text(table.headers[i])) for i in keep),
                           title=Text(table.title) if table.title else None)
    for row in table.rows:
        out.add_row(*(Text(_text(row[i])) for i in keep))
    return out


def _md_cell(cell: Cell) -> str:
    text = f"[{cell.text}]({cell.href})" if isinstance(cell, Link) else cell
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(table: Table) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(table.headers) + " |", "|" + "---|" * len(table.headers)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def inline_html(text: str) -> str:
    """Escape text; `code` and **bold** as in the Markdown."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _html_cell(cell: Cell) -> str:
    if isinstance(cell, Link):
        return f'<a href="{html.escape(cell.href)}">{html.escape(cell.text)}</a>'
    return inline_html(cell)


def to_html(table: Table) -> str:
    """An HTML table."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
