"""The tagging report: top factions, top places, the top pairs with a heat map of them,
the places on a map, and who fought whom, as report.md and report.html (one list of
sections, as the evaluation report).

The map is a plain longitude/latitude plot with a grid, drawn offline: no tiles and
no country outlines (no installed dependency carries them)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from conflict_ner.evaluation.report import Section, html_block, md_block, page
from conflict_ner.evaluation.tables import Cell, Table
from conflict_ner.files import write_bytes_atomic, write_text_atomic
from conflict_ner.tagging.cooccurrence import WhoFoughtWhere

TOP = 15  # names per table
HEAT = 12  # factions and places in the heat map
HEATMAP = "who_fought_where.png"
MAP = "who_fought_where_map.png"
MAP_PLACES = 30  # places drawn on the map, the most mentioned with coordinates
MAP_LABELS = 12  # of them, those labelled with their faction
MAP_REACH = 12.0  # degrees from the middle of the theatre a place may be to be drawn
Point = tuple[str, float, float, int]  # place, longitude, latitude, mentions


def weight(table: WhoFoughtWhere, row: dict[str, Any]) -> int:
    """What the pictures count for a pair: its sentences naming both, or with the model's
    pairs the sentences that pass the pairing rule."""
    if table.mode == "model":
        return table.pairs[(row["faction"], row["place"])].passed
    return int(row["sentences"])


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none needed
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    """Write a figure as a PNG, atomically, and free it."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    _pyplot().close(fig)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def plot_pairs(table: WhoFoughtWhere, path: Path) -> Path | None:
    """Heat map of sentences per pair for the factions and places with the most
    co-occurring sentences; None when no pair was found."""
    weights = {(r["faction"], r["place"]): weight(table, r) for r in table.rows()}
    weights = {key: n for key, n in weights.items() if n}
    if not weights:
        return None
    plt = _pyplot()
    factions = _most(weights, 0)
    places = _most(weights, 1)
    grid = np.zeros((len(factions), len(places)))
    for (faction, place), n in weights.items():
        if faction in factions and place in places:
            grid[factions.index(faction), places.index(place)] = n
    size = (max(5, 2 + 0.6 * len(places)), max(4, 2 + 0.45 * len(factions)))
    fig, ax = plt.subplots(figsize=size)
    image = ax.imshow(grid, cmap="Reds")
    ax.set_xticks(range(len(places)), places, rotation=60, ha="right")
    ax.set_yticks(range(len(factions)), factions)
    for (i, j), value in np.ndenumerate(grid):
        if value:
            ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=8)
    ax.set_title("Sentences naming a faction and a place" if table.mode != "model"
                 else "Sentences saying a faction was at a place (pairing rule)")
    fig.colorbar(image, ax=ax, shrink=0.6)
    return _save(fig, path)


def _most(weights: dict[tuple[str, str], int], side: int) -> list[str]:
    """The HEAT names of one side of the pairs (0 faction, 1 place) with the most weight."""
    totals: dict[str, int] = {}
    for key, n in weights.items():
        totals[key[side]] = totals.get(key[side], 0) + n
    return sorted(totals, key=lambda k: (-totals[k], k))[:HEAT]


def top_faction(table: WhoFoughtWhere) -> dict[str, str]:
    """The faction named most with each place: by the pictures' weight, then by articles
    naming both, then by name; places no faction shares a sentence with have none."""
    best: dict[str, tuple[int, int, str]] = {}
    for row in table.rows():
        n = weight(table, row)
        key = (-n, -int(row["articles_together"]), row["faction"])
        if n and (row["place"] not in best or key < best[row["place"]]):
            best[row["place"]] = key
    return {place: key[2] for place, key in best.items()}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def map_places(table: WhoFoughtWhere) -> tuple[list[Point], list[str], list[str]]:
    """The places the map draws: (place, longitude, latitude, mentions) of the MAP_PLACES
    most mentioned places with coordinates within MAP_REACH degrees of the middle of
    the most mentioned; the places left out far from them; those without coordinates
    (countries, unmatched names)."""
    located: list[Point] = []
    unlocated: list[str] = []
    for name, mentions, _ in table.names["PLACE"].top(len(table.names["PLACE"].mentions)):
        facts = table.facts[("PLACE", name)]
        if facts.get("latitude") is None or facts.get("longitude") is None:
            unlocated.append(name)
        else:
            located.append((name, float(facts["longitude"]), float(facts["latitude"]), mentions))
    if not located:
        return [], [], unlocated
    # The middle of the theatre: the median of the most mentioned places, which a few
    # capitals abroad (Washington, Moscow) cannot drag away as they would a mean.
    head = located[:MAP_PLACES]
    lon0, lat0 = _median([p[1] for p in head]), _median([p[2] for p in head])
    near = [p for p in located if abs(p[1] - lon0) <= MAP_REACH and abs(p[2] - lat0) <= MAP_REACH]
    far = [p[0] for p in located[:MAP_PLACES] if p not in near]
    return near[:MAP_PLACES], far, unlocated


def plot_map(table: WhoFoughtWhere, path: Path) -> Path | None:
    """The most mentioned places at their GeoNames coordinates, sized by mentions, the
    most mentioned labelled with the faction named most with each; None when no place
    has coordinates."""
    located, _, _ = map_places(table)
    if not located:
        return None
    plt = _pyplot()
    _, lon, lat, mentions = zip(*located, strict=True)
    factions = top_faction(table)
    fig, ax = plt.subplots(figsize=(9, 7))
    top = max(mentions)
    ax.scatter(lon, lat, s=[30 + 570 * m / top for m in mentions], c="tab:red", alpha=0.45,
               edgecolors="darkred")
    for rank, (name, x, y, _) in enumerate(located):
        if rank < MAP_LABELS:  # more labels only overlap
            label = f"{name}\n({factions[name]})" if name in factions else name
            ax.annotate(label, (x, y), xytext=(5, 3), textcoords="offset points", fontsize=7)
        else:
            ax.annotate(name, (x, y), xytext=(3, -6), textcoords="offset points", fontsize=5,
                        color="dimgray")
    pad = 0.6
    ax.set_xlim(min(lon) - pad, max(lon) + pad)
    ax.set_ylim(min(lat) - pad, max(lat) + pad)
    # Degrees of longitude shrink with latitude: keep distances true at the middle.
    middle = (max(lat) + min(lat)) / 2
    ax.set_aspect(1 / max(math.cos(math.radians(middle)), 0.1), adjustable="box")
    ax.grid(True, linestyle=":")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title("Places by mentions (the faction named most with each)")
    return _save(fig, path)


def _names_table(table: WhoFoughtWhere, label: str) -> Table:
    rows: list[list[Cell]] = [
        [name, str(m), str(a), "" if table.facts[(label, name)]["matched"] else "unmatched"]
        for name, m, a in table.names[label].top(TOP)
    ]
    return Table(["canonical name", "mentions", "articles", "note"], rows)


def _whom_table(table: WhoFoughtWhere) -> Table:
    rows: list[list[Cell]] = [
        [r["faction_a"], r["faction_b"], str(r["sentences"]), str(r["articles"]),
         f"{r['confidence']:.2f}", r["evidence_sentence"]]
        for r in table.whom_rows()[:TOP]
    ]
    return Table(["faction", "faction", "sentences", "articles", "confidence",
                  "evidence sentence"], rows)


def _modes(table: WhoFoughtWhere) -> str:
    if table.mode == "model":
        return ("Pairs the pairing rule supports (`--pairs model`): a sentence names both "
                "with a cue (a locative before the place; a fighting word between two "
                "factions) close enough; confidence is the share of the sentences naming "
                "both that pass it.")
    return ("Pairs named in the same sentence or article (`--pairs cooccurrence`); "
            "confidence is the share of the sentences naming both that pass the pairing "
            "rule (`--pairs model` lists only those).")


def sections(table: WhoFoughtWhere, summary: dict[str, Any], image: Path | None,
             map_image: Path | None = None) -> list[Section]:  # fmt: skip
    """The report's sections, shared by the Markdown and the HTML."""
    pairs: list[list[Cell]] = [
        [r["faction"], r["place"], str(r["sentences"]), str(r["articles"]),
         str(r["articles_together"]), r["first_date"], r["last_date"],
         f"{r['confidence']:.2f}", r["evidence"]]
        for r in table.rows()[:TOP]
    ]
    heat: list[str | Table | tuple[str, str]] = (
        [("heat map of the top pairs", image.name)] if image else ["No faction and place share "
                                                                     "a sentence."])
    _, far, unlocated = map_places(table)
    where: list[str | Table | tuple[str, str]] = (
        [("map of the places", map_image.name)] if map_image else
        ["No place has GeoNames coordinates."])
    if far:
        where.append("Far from the rest, left off the map: " + ", ".join(far) + ".")
    if unlocated:
        where.append("Not on the map (no GeoNames coordinates: countries, regions, rivers, "
                     "places GeoNames has no city for, unmatched names): "
                     + ", ".join(unlocated[:TOP]) + ".")
    overview = (f"{summary['articles']} articles tagged with `{summary['model']}`, "
                f"{summary['mentions']} mentions; {summary['skipped']} articles skipped "
                "(see skipped.jsonl). Unmatched names kept their surface form.")
    return [
        Section("Overview", [overview, _modes(table)]),
        Section("Top factions", [_names_table(table, "FACTION")]),
        Section("Top places", [_names_table(table, "PLACE")]),
        Section("Who fought where", [
            "Faction and place: the sentences naming both, the articles holding them, and "
            "the articles naming both anywhere (all pairs, with GeoNames facts and the "
            "evidence sentence: who_fought_where.csv).",
            Table(["faction", "place", "sentences", "articles", "articles naming both", "first",
                   "last", "confidence", "evidence"], pairs),
            *heat,
        ]),
        Section("Where", where),
        Section("Who fought whom", [
            "Two factions: the sentences naming both (all pairs: who_fought_whom.csv).",
            _whom_table(table),
        ]),
    ]


def write_report(out: Path, table: WhoFoughtWhere, summary: dict[str, Any]) -> list[Path]:
    """report.md, report.html, the heat map and the map PNGs in ``out``."""
    image = plot_pairs(table, out / HEATMAP)
    map_image = plot_map(table, out / MAP)
    parts = sections(table, summary, image, map_image)
    markdown = ["# Who fought where", ""]
    html_body = ["<h1>Who fought where</h1>"]
    for section in parts:
        markdown += [f"## {section.title}", "", *(md_block(b) + "\n" for b in section.blocks)]
        html_body += [f"<h2>{section.title}</h2>", *(html_block(b) for b in section.blocks)]
    write_text_atomic(out / "report.md", "\n".join(markdown))
    write_text_atomic(out / "report.html", page("Who fought where", "\n".join(html_body)))
    images = [path for path in (image, map_image) if path]
    return [out / "report.md", out / "report.html", *images]
