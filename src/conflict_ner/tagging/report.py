"""The tagging report: top factions, top places, the top pairs and a heat map of them,
as report.md and report.html (one list of sections, as the evaluation report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from conflict_ner.evaluation.report import Section, html_block, md_block, page
from conflict_ner.evaluation.tables import Cell, Table
from conflict_ner.files import write_text_atomic
from conflict_ner.tagging.cooccurrence import WhoFoughtWhere

TOP = 15  # names per table
HEAT = 12  # factions and places in the heat map
HEATMAP = "who_fought_where.png"


def plot_pairs(table: WhoFoughtWhere, path: Path) -> Path | None:
    """Heat map of sentences per pair for the factions and places with the most
    co-occurring sentences; None when no pair was found."""
    rows = [row for row in table.rows() if row["sentences"]]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none needed
    import matplotlib.pyplot as plt

    factions = _most(rows, "faction")
    places = _most(rows, "place")
    grid = np.zeros((len(factions), len(places)))
    for row in rows:
        if row["faction"] in factions and row["place"] in places:
            grid[factions.index(row["faction"]), places.index(row["place"])] = row["sentences"]
    size = (max(5, 2 + 0.6 * len(places)), max(4, 2 + 0.45 * len(factions)))
    fig, ax = plt.subplots(figsize=size)
    image = ax.imshow(grid, cmap="Reds")
    ax.set_xticks(range(len(places)), places, rotation=60, ha="right")
    ax.set_yticks(range(len(factions)), factions)
    for (i, j), value in np.ndenumerate(grid):
        if value:
            ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=8)
    ax.set_title("Sentences naming a faction and a place")
    fig.colorbar(image, ax=ax, shrink=0.6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _most(rows: list[dict[str, Any]], key: str) -> list[str]:
    """The HEAT names of one column with the most co-occurring sentences."""
    totals: dict[str, int] = {}
    for row in rows:
        totals[row[key]] = totals.get(row[key], 0) + row["sentences"]
    return sorted(totals, key=lambda k: (-totals[k], k))[:HEAT]


def _names_table(table: WhoFoughtWhere, label: str) -> Table:
    rows: list[list[Cell]] = [
        [name, str(m), str(a), "" if table.facts[(label, name)]["matched"] else "unmatched"]
        for name, m, a in table.names[label].top(TOP)
    ]
    return Table(["canonical name", "mentions", "articles", "note"], rows)


def sections(table: WhoFoughtWhere, summary: dict[str, Any], image: Path | None) -> list[Section]:
    """The report's sections, shared by the Markdown and the HTML."""
    pairs: list[list[Cell]] = [
        [r["faction"], r["place"], str(r["sentences"]), str(r["articles"]),
         str(r["articles_together"]), r["first_date"], r["last_date"], r["evidence"]]
        for r in table.rows()[:TOP]
    ]
    heat: list[str | Table | tuple[str, str]] = (
        [("heat map of the top pairs", image.name)] if image else ["No faction and place share "
                                                                     "a sentence."])
    overview = (f"{summary['articles']} articles tagged with `{summary['model']}`, "
                f"{summary['mentions']} mentions; {summary['skipped']} articles skipped "
                "(see skipped.jsonl). Unmatched names kept their surface form.")
    return [
        Section("Overview", [overview]),
        Section("Top factions", [_names_table(table, "FACTION")]),
        Section("Top places", [_names_table(table, "PLACE")]),
        Section("Who fought where", [
            "Faction and place named in the same sentence: the sentences, the articles "
            "holding them, and the articles naming both anywhere (all pairs, with GeoNames "
            "facts: who_fought_where.csv).",
            Table(["faction", "place", "sentences", "articles", "articles naming both", "first",
                   "last", "evidence"], pairs),
            *heat,
        ]),
    ]


def write_report(out: Path, table: WhoFoughtWhere, summary: dict[str, Any]) -> list[Path]:
    """report.md, report.html and the heat map PNG in ``out``."""
    image = plot_pairs(table, out / HEATMAP)
    parts = sections(table, summary, image)
    markdown = ["# Who fought where", ""]
    html_body = ["<h1>Who fought where</h1>"]
    for section in parts:
        markdown += [f"## {section.title}", "", *(md_block(b) + "\n" for b in section.blocks)]
        html_body += [f"<h2>{section.title}</h2>", *(html_block(b) for b in section.blocks)]
    write_text_atomic(out / "report.md", "\n".join(markdown))
    write_text_atomic(out / "report.html", page("Who fought where", "\n".join(html_body)))
    return [out / "report.md", out / "report.html", *([image] if image else [])]
