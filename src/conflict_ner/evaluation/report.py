"""Reports: metrics.json, report.md, report.html and one side-by-side displaCy page per article.

The Markdown and HTML reports are rendered from one list of sections (text,
tables, an image), so they cannot drift apart.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from spacy import displacy
from spacy.tokens import Doc

from conflict_ner.evaluation.errors import KIND_TITLES, KINDS, plot_confusion
from conflict_ner.evaluation.scoring import SCHEMES
from conflict_ner.files import safe_file_name, write_text_atomic
from conflict_ner.scheme import SCHEME

COLOURS = {label.name: label.color for label in SCHEME}
FEW_ARTICLES = 10  # below this, say the bootstrap intervals are rough
MAX_ERRORS_SHOWN = 60  # per kind; metrics.json keeps them all
SCHEME_NOTES = {
    "strict": "boundaries and label both right",
    "exact": "boundaries right, label ignored",
    "partial": "boundaries right, or overlapping for half credit; label ignored",
    "type": "label right with any overlap",
}


@dataclass(frozen=True)
class Link:
    """A table cell that links somewhere."""

    text: str
    href: str


Cell = str | Link


@dataclass
class Table:
    """Headers and rows of string (or link) cells."""

    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class Section:
    """A titled part of the report: paragraphs, tables and images, in order."""

    title: str
    blocks: list[str | Table | tuple[str, str]] = field(default_factory=list)  # (alt, src)


def pct(x: float | None) -> str:
    """A score as a percentage with one decimal."""
    return "–" if x is None else f"{100 * x:.1f}"


def _scores_table(summary: dict[str, Any], intervals: dict[str, Any]) -> Table:
    """One row per scheme: micro P/R/F1, the interval and the SemEval counts."""
    table = Table(["scheme", "P", "R", "F1", "95% CI (F1)", "COR", "INC", "PAR", "MIS", "SPU",
                   "POS", "ACT", "what counts"])
    for scheme in SCHEMES:
        m, ci = summary[scheme]["micro"], intervals[scheme]
        table.rows.append([
            scheme, pct(m["p"]), pct(m["r"]), pct(m["f1"]),
            f"{pct(ci['low'])}–{pct(ci['high'])}",
            *(str(m[k]) for k in ("cor", "inc", "par", "mis", "spu", "possible", "actual")),
            SCHEME_NOTES[scheme],
        ])
    return table


def _labels_table(summary: dict[str, Any]) -> Table:
    """Per-label P/R/F1 for every scheme, plus macro averages."""
    table = Table(["label", *(f"{s} {k}" for s in SCHEMES for k in ("P", "R", "F1"))])
    labels = list(summary["strict"]["per_label"])
    for label in labels:
        table.rows.append([label, *(pct(summary[s]["per_label"][label][k])
                                    for s in SCHEMES for k in ("p", "r", "f1"))])
    table.rows.append(["macro", *(pct(summary[s]["macro"][k])
                                  for s in SCHEMES for k in ("p", "r", "f1"))])
    return table


def _crosscheck_section(check: dict[str, Any]) -> Section:
    """Our strict scores next to spaCy's Scorer and nervaluate."""
    ours, sp = check["ours_strict"]["micro"], check["spacy"]["micro"]
    nv = check["nervaluate"].get("strict", {}).get("micro", {})
    table = Table(["scorer", "P", "R", "F1"], [
        ["ours (strict)", pct(ours["p"]), pct(ours["r"]), pct(ours["f1"])],
        ["spaCy Scorer.score_spans", pct(sp["p"]), pct(sp["r"]), pct(sp["f1"])],
        ["nervaluate strict", pct(nv.get("p")), pct(nv.get("r")), pct(nv.get("f1"))],
    ])
    verdict = "agree: **true**" if check["agree"] else "agree: **false**"
    blocks: list[str | Table | tuple[str, str]] = [
        f"{verdict} (strict micro and per-label P/R/F1 against spaCy; counts and scores of all "
        "four schemes against nervaluate).",
        table,
    ]
    blocks += [f"difference: {d}" for d in check["differences"]]
    return Section("Cross-check", blocks)


def _baselines_section(metrics: dict[str, Any]) -> Section:
    """The model and every baseline, one row each."""
    table = Table(["system", "strict P", "strict R", "strict F1", "95% CI", "exact F1",
                   "partial F1", "type F1", "note"])
    rows = [{"name": f"model: {metrics['model']}", "note": "", "overall": metrics["overall"],
             "bootstrap": metrics["bootstrap"]}, *metrics["baselines"]]
    for row in rows:
        o, ci = row["overall"], row["bootstrap"]["strict"]
        table.rows.append([
            row["name"], pct(o["strict"]["micro"]["p"]), pct(o["strict"]["micro"]["r"]),
            pct(o["strict"]["micro"]["f1"]), f"{pct(ci['low'])}–{pct(ci['high'])}",
            *(pct(o[s]["micro"]["f1"]) for s in ("exact", "partial", "type")), row["note"],
        ])
    blocks: list[str | Table | tuple[str, str]] = [table]
    blocks += [f"skipped {s['name']}: {s['reason']}" for s in metrics["skipped_baselines"]]
    return Section("Model and baselines", blocks)


def _articles_table(metrics: dict[str, Any]) -> Table:
    """Per-article micro F1 in each scheme, linked to the side-by-side page."""
    table = Table(["article", "title", *(f"{s} F1" for s in SCHEMES), "gold", "predicted"])
    for row in metrics["per_article"]:
        table.rows.append([
            Link(row["article"], row["page"]), row["title"],
            *(pct(row[s]["f1"]) for s in SCHEMES),
            str(row["strict"]["possible"]), str(row["strict"]["actual"]),
        ])
    return table


def _error_sections(metrics: dict[str, Any]) -> list[Section]:
    """One section per error kind, each row with its context."""
    sections = []
    rows = metrics["errors"]["rows"]
    for kind in KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        table = Table(["article", "gold", "predicted", "context"])
        for r in mine[:MAX_ERRORS_SHOWN]:
            table.rows.append([Link(r["article"], f"articles/{safe_file_name(r['article'])}.html"),
                               r["gold"] or "", r["pred"] or "", r["context"]])
        note = f"{len(mine)} in all" + (
            f"; the first {MAX_ERRORS_SHOWN} are shown, metrics.json has every one"
            if len(mine) > MAX_ERRORS_SHOWN else "")
        sections.append(Section(KIND_TITLES[kind], [note, table] if mine else [note]))
    return sections


def sections(metrics: dict[str, Any]) -> list[Section]:
    """The whole report, in reading order."""
    counts = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in metrics["errors"]["counts"].items())
    return [
        Section("Scores (micro, all labels)", [
            f"Model `{metrics['model']}` on `{metrics['data']}`: {metrics['articles']} article(s). "
            f"Intervals: {int(metrics['bootstrap']['strict']['level'] * 100)}% bootstrap over "
            f"articles ({metrics['bootstrap']['strict']['resamples']} resamples, seed "
            f"{metrics['bootstrap']['strict']['seed']}).",
            _scores_table(metrics["overall"], metrics["bootstrap"]),
            *([f"Only {metrics['articles']} article(s): the intervals are rough (with one "
               "article they have width 0)."] if metrics["articles"] < FEW_ARTICLES else []),
        ]),
        Section("Per label", [_labels_table(metrics["overall"])]),
        _crosscheck_section(metrics["crosscheck"]),
        _baselines_section(metrics),
        Section("Per article", [_articles_table(metrics)]),
        Section("Token confusion matrix", [
            "Tokens by gold (rows) and predicted (columns) label; colour is the row share.",
            ("token confusion matrix", metrics["confusion"]["png"]),
        ]),
        Section("Errors (strict)", [f"Counts: {counts}."]),
        *_error_sections(metrics),
    ]


# -- Markdown -----------------------------------------------------------------


def _md_cell(cell: Cell) -> str:
    text = f"[{cell.text}]({cell.href})" if isinstance(cell, Link) else cell
    return text.replace("|", "\\|").replace("\n", " ")


def md_block(block: str | Table | tuple[str, str]) -> str:
    if isinstance(block, Table):
        lines = ["| " + " | ".join(block.headers) + " |",
                 "|" + "---|" * len(block.headers)]
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
        return "\n".join(lines)
    if isinstance(block, tuple):
        return f"![{block[0]}]({block[1]})"
    return block


def render_markdown(metrics: dict[str, Any]) -> str:
    """report.md."""
    parts = [f"# Evaluation of {metrics['model']}", ""]
    for section in sections(metrics):
        parts += [f"## {section.title}", ""]
        for block in section.blocks:
            parts += [md_block(block), ""]
    return "\n".join(parts)


# -- HTML ---------------------------------------------------------------------

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
code { background: #f3f3f3; padding: 0 0.2em; }
.sbs { width: 100%; table-layout: fixed; }
.sbs td { width: 50%; }
.sbs .entities { line-height: 2.2 !important; }
"""


def _inline(text: str) -> str:
    """Escape text; `code` and **bold** as in the Markdown."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _html_cell(cell: Cell) -> str:
    if isinstance(cell, Link):
        return f'<a href="{html.escape(cell.href)}">{html.escape(cell.text)}</a>'
    return _inline(cell)


def _html_block(block: str | Table | tuple[str, str]) -> str:
    if isinstance(block, Table):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>"
            for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, tuple):
        return f'<p><img src="{html.escape(block[1])}" alt="{html.escape(block[0])}"></p>'
    return f"<p>{_inline(block)}</p>"


def page(title: str, body: str) -> str:
    """A complete HTML page."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>\n")


def render_html(metrics: dict[str, Any]) -> str:
    """report.html: the index with tables, links to articles and the embedded PNG."""
    body = [f"<h1>Evaluation of {html.escape(str(metrics['model']))}</h1>",
            '<p><a href="report.md">report.md</a> · <a href="metrics.json">metrics.json</a></p>']
    for section in sections(metrics):
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body += [_html_block(b) for b in section.blocks]
    return page(f"Evaluation of {metrics['model']}", "\n".join(body))


# -- side-by-side article pages -----------------------------------------------


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Character ranges of the blank-line separated paragraphs of a text."""
    return [(m.start(), m.end()) for m in re.finditer(r"(?s)\S(?:(?!\n\s*\n).)*", text)]


def _render_part(doc: Doc, start: int, end: int) -> str:
    """displaCy entity markup for one paragraph of a Doc, in the scheme's colours."""
    ents = [
        {"start": max(e.start_char, start) - start, "end": min(e.end_char, end) - start,
         "label": e.label_}
        for e in doc.ents if start <= e.start_char < end
    ]
    data = {"text": doc.text[start:end], "ents": ents, "title": None}
    labels = sorted({*COLOURS, *(str(e["label"]) for e in ents)})
    return displacy.render(data, style="ent", manual=True, page=False, jupyter=False,
                           options={"colors": COLOURS, "ents": labels})


def _article_errors(errors: Sequence[dict[str, Any]]) -> str:
    """This article's strict errors as an HTML table (or a line saying there are none)."""
    if not errors:
        return "<p>No strict errors.</p>"
    table = Table(["kind", "gold", "predicted", "context"], [
        [e["kind"].replace("_", " "), e["gold"] or "", e["pred"] or "", e["context"]]
        for e in errors
    ])
    return f"<h2>Errors ({len(errors)})</h2>{_html_block(table)}"


def article_page(
    doc_id: str, gold: Doc, pred: Doc, model: str, row: dict[str, Any],
    errors: Sequence[dict[str, Any]] = (),
) -> str:
    """Gold and predictions side by side, paragraph by paragraph so rows line up; then errors."""
    strict = row["strict"]
    rows = "".join(
        f"<tr><td>{_render_part(gold, s, e)}</td><td>{_render_part(pred, s, e)}</td></tr>"
        for s, e in paragraphs(gold.text)
    )
    legend = " ".join(
        f'<span style="background:{c};padding:0 0.4em;border-radius:0.3em">{n}</span>'
        for n, c in COLOURS.items())
    body = (
        f'<p><a href="../report.html">← report</a></p><h1>{html.escape(row["title"])}</h1>'
        f"<p>article <code>{html.escape(doc_id)}</code> · strict P {pct(strict['p'])} "
        f"R {pct(strict['r'])} F1 {pct(strict['f1'])} · gold {strict['possible']} · "
        f"predicted {strict['actual']} · {legend}</p>"
        f'<table class="sbs"><thead><tr><th>Gold</th><th>Predicted ({html.escape(model)})'
        f"</th></tr></thead><tbody>{rows}</tbody></table>{_article_errors(errors)}"
    )
    return page(f"{doc_id}: gold vs predicted", body)


def write_report(
    out: Path, metrics: dict[str, Any], pairs: Sequence[tuple[Doc, Doc]]
) -> dict[str, Path]:
    """Write metrics.json, report.md, report.html, confusion.png and the article pages."""
    out = Path(out)
    files = {"metrics": out / "metrics.json", "markdown": out / "report.md",
             "html": out / "report.html", "confusion": out / metrics["confusion"]["png"]}
    plot_confusion(metrics["confusion"]["labels"], np.array(metrics["confusion"]["matrix"]),
                   files["confusion"], f"Token confusion: {Path(str(metrics['model'])).name}")
    for row, (gold, pred) in zip(metrics["per_article"], pairs, strict=True):
        errors = [e for e in metrics["errors"]["rows"] if e["article"] == row["article"]]
        html_page = article_page(row["article"], gold, pred, str(metrics["model"]), row, errors)
        write_text_atomic(out / row["page"], html_page)
    write_text_atomic(files["markdown"], render_markdown(metrics))
    write_text_atomic(files["html"], render_html(metrics))
    # metrics.json last: its presence means the whole report was written.
    write_text_atomic(files["metrics"], json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    return files
