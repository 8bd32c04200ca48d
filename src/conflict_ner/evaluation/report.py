"""Reports: metrics.json, report.md, report.html and one side-by-side displaCy page per article.

The Markdown and HTML reports are rendered from one list of sections (text,
tables, an image), and the terminal shows the same tables (tables.py), so
none of them can drift apart.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from spacy import displacy
from spacy.tokens import Doc

from conflict_ner.evaluation.error_analysis import (
    KIND_TITLES,
    KINDS,
    ErrorRow,
    counts_by_label,
    plot_confusion,
)
from conflict_ner.evaluation.novelty import ALL, GROUPS
from conflict_ner.evaluation.results import ArticleRow, Metrics, SystemResult
from conflict_ner.evaluation.scoring import SCHEMES, SchemeScores
from conflict_ner.evaluation.tables import (
    Link,
    Table,
    inline_html,
    interval,
    pct,
    to_html,
    to_markdown,
)
from conflict_ner.evaluation.uncertainty import Interval
from conflict_ner.files import safe_file_name, write_text_atomic
from conflict_ner.scheme import LABELS, SCHEME

COLOURS = {label.name: label.color for label in SCHEME}
FEW_ARTICLES = 10  # below this, say the bootstrap intervals are rough
MAX_ERRORS_SHOWN = 60  # per kind; metrics.json keeps them all
SCHEME_NOTES = {
    "strict": "boundaries and label both right",
    "exact": "boundaries right, label ignored",
    "partial": "boundaries right, or overlapping for half credit; label ignored",
    "type": "label right with any overlap",
}
Block = str | Table | tuple[str, str]  # a paragraph, a table, or an image (alt, src)


@dataclass
class Section:
    """A titled part of the report: paragraphs, tables and images, in order."""

    title: str
    blocks: list[Block] = field(default_factory=list)


def scores_table(summary: dict[str, SchemeScores], intervals: dict[str, Interval]) -> Table:
    """One row per scheme: micro P/R/F1, the interval and the SemEval counts."""
    table = Table(["scheme", "P", "R", "F1", "95% CI (F1)", "COR", "INC", "PAR", "MIS", "SPU",
                   "POS", "ACT", "what counts"])
    for scheme in SCHEMES:
        m, ci = summary[scheme].micro, intervals[scheme]
        table.rows.append([
            scheme, pct(m.p), pct(m.r), pct(m.f1), interval(ci.low, ci.high),
            *(str(n) for n in (m.cor, m.inc, m.par, m.mis, m.spu, m.possible, m.actual)),
            SCHEME_NOTES[scheme],
        ])
    return table


def labels_table(summary: dict[str, SchemeScores], schemes: Sequence[str] = SCHEMES) -> Table:
    """Per-label P/R/F1 for the schemes, plus macro (and, for one scheme, micro) averages."""
    table = Table(["label", *(f"{s} {k}" for s in schemes for k in ("P", "R", "F1"))])
    for label in summary["strict"].per_label:
        table.rows.append([label, *(pct(getattr(summary[s].per_label[label], k))
                                    for s in schemes for k in ("p", "r", "f1"))])
    table.rows.append(["macro", *(pct(getattr(summary[s].macro, k))
                                  for s in schemes for k in ("p", "r", "f1"))])
    if len(schemes) == 1:
        micro = summary[schemes[0]].micro
        table.rows.append(["micro", pct(micro.p), pct(micro.r), pct(micro.f1)])
    return table


def systems_table(systems: Sequence[SystemResult]) -> Table:
    """Systems side by side: strict P/R/F1 with interval, unseen recall, the other schemes."""
    table = Table(["system", "strict P", "strict R", "strict F1", "95% CI", "unseen R",
                   "exact F1", "partial F1", "type F1", "note"],
                  terminal=["system", "strict P", "strict R", "strict F1", "95% CI",
                            "unseen R", "type F1"])
    for system in systems:
        s, ci = system.strict, system.bootstrap["strict"]
        table.rows.append([
            system.name, pct(s.p), pct(s.r), pct(s.f1), interval(ci.low, ci.high),
            pct(system.unseen.r), *(pct(system.overall[k].micro.f1) for k in SCHEMES[1:]),
            system.note,
        ])
    return table


def novelty_table(system: SystemResult) -> Table:
    """Seen and unseen gold mentions: per group and label, counts and strict P/R/F1."""
    table = Table(["group", "label", "gold", "predicted", "found", "P", "R", "F1"])
    for row in system.novelty:
        table.rows.append([row.group if row.label == ALL else "", row.label, str(row.gold),
                           str(row.predicted), str(row.found), pct(row.p), pct(row.r),
                           pct(row.f1)])
    return table


def groups_table(metrics: Metrics) -> Table:
    """Strict scores per value of each --by meta field, with article counts and intervals."""
    table = Table(["by", "value", "articles", "strict P", "strict R", "strict F1", "95% CI"])
    for g in metrics.groups:
        table.rows.append([g.field, g.value, str(g.articles), pct(g.strict.p), pct(g.strict.r),
                           pct(g.strict.f1), interval(g.interval.low, g.interval.high)])
    return table


def _crosscheck_section(metrics: Metrics) -> Section:
    """Our strict scores next to spaCy's Scorer and nervaluate."""
    check = metrics.crosscheck
    nv = check.nervaluate
    table = Table(["scorer", "P", "R", "F1"], [
        ["ours (strict)", pct(check.ours.p), pct(check.ours.r), pct(check.ours.f1)],
        ["spaCy Scorer.score_spans", pct(check.spacy.p), pct(check.spacy.r), pct(check.spacy.f1)],
        ["nervaluate strict", *(pct(getattr(nv, k)) if nv else "–" for k in ("p", "r", "f1"))],
    ])
    verdict = "agree: **true**" if check.agree else "agree: **false**"
    blocks: list[Block] = [
        f"{verdict} (strict micro and per-label P/R/F1 against spaCy; counts and scores of all "
        "four schemes against nervaluate).",
        table,
    ]
    blocks += [f"difference: {d}" for d in check.differences]
    return Section("Cross-check", blocks)


def _systems_section(metrics: Metrics) -> Section:
    """Ablations (the model as shipped, NER alone, rules alone), then the baselines."""
    blocks: list[Block] = [
        "The same articles, schemes and intervals for every row. NER alone: the model with "
        "its rule components switched off; rules alone: only its rule components.",
        systems_table([metrics.as_system(), *metrics.ablations]),
    ]
    if metrics.baselines:
        blocks += ["Baselines:", systems_table(metrics.baselines)]
    blocks += [f"skipped {s.name}: {s.reason}" for s in metrics.skipped]
    return Section("Ablations and baselines", blocks)


def _novelty_section(metrics: Metrics) -> Section:
    """The seen/unseen table of the model, and what the groups mean."""
    source = f"`{metrics.train}`" if metrics.train else "no training data (none was given)"
    return Section("Seen and unseen names", [
        f"Gold mentions (and predictions) by what the model could know: *{GROUPS[0]}* (its "
        f"rule components alone mark that very span), *{GROUPS[1]}* (the surface and label "
        f"are a gold span of {source}), *{GROUPS[2]}* (neither). found: gold mentions "
        "predicted exactly; P is – where a group holds no prediction.",
        novelty_table(metrics.as_system()),
    ])


def _articles_table(rows: Sequence[ArticleRow]) -> Table:
    """Per-article micro F1 in each scheme, linked to the side-by-side page."""
    table = Table(["article", "title", *(f"{s} F1" for s in SCHEMES), "gold", "predicted"])
    for row in rows:
        table.rows.append([
            Link(row.article, row.page), row.title, *(pct(row.scores[s].f1) for s in SCHEMES),
            str(row.scores["strict"].possible), str(row.scores["strict"].actual),
        ])
    return table


def error_kinds_table(rows: Sequence[ErrorRow]) -> Table:
    """Errors by kind (rows) and label (columns): whether the model over-tags or misses."""
    counts = counts_by_label(rows, LABELS)
    labels = list(dict.fromkeys(label for kind in counts.values() for label in kind))
    table = Table(["error kind", *labels, "all"])
    for kind, per_label in counts.items():
        table.rows.append([KIND_TITLES[kind].split(" (")[0],
                           *(str(per_label.get(label, 0)) for label in labels),
                           str(sum(per_label.values()))])
    return table


def _error_sections(rows: Sequence[ErrorRow]) -> list[Section]:
    """One section per error kind, each row with its context."""
    sections = []
    for kind in KINDS:
        mine = [r for r in rows if r.kind == kind]
        table = Table(["article", "gold", "predicted", "context"])
        for r in mine[:MAX_ERRORS_SHOWN]:
            table.rows.append([Link(r.article, f"articles/{safe_file_name(r.article)}.html"),
                               r.gold or "", r.pred or "", r.context()])
        note = f"{len(mine)} in all" + (
            f"; the first {MAX_ERRORS_SHOWN} are shown, metrics.json has every one"
            if len(mine) > MAX_ERRORS_SHOWN else "")
        sections.append(Section(KIND_TITLES[kind], [note, table] if mine else [note]))
    return sections


def sections(metrics: Metrics) -> list[Section]:
    """The whole report, in reading order."""
    counts = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in metrics.errors.counts.items())
    ci = metrics.bootstrap["strict"]
    groups = [Section("By " + ", ".join(dict.fromkeys(g.field for g in metrics.groups)),
                      [groups_table(metrics)])] if metrics.groups else []
    return [
        Section("Summary", list(metrics.headline.lines())),
        Section("Scores (micro, all labels)", [
            f"Model `{metrics.model}` on `{metrics.data}`: {metrics.articles} article(s). "
            f"Intervals: {int(ci.level * 100)}% bootstrap over articles ({ci.resamples} "
            f"resamples, seed {ci.seed}).",
            scores_table(metrics.overall, metrics.bootstrap),
            *([f"Only {metrics.articles} article(s): the intervals are rough (with one "
               "article they have width 0)."] if metrics.articles < FEW_ARTICLES else []),
        ]),
        _novelty_section(metrics),
        _systems_section(metrics),
        *groups,
        Section("Per label", [labels_table(metrics.overall)]),
        _crosscheck_section(metrics),
        Section("Per article", [_articles_table(metrics.per_article)]),
        Section("Token confusion matrix", [
            "Tokens by gold (rows) and predicted (columns) label; colour is the row share.",
            ("token confusion matrix", metrics.confusion.png),
        ]),
        Section("Errors (strict)", [
            f"Counts: {counts}. By label: a false positive counts under its predicted label, "
            "every other error under its gold label; label confusions under the gold one.",
            error_kinds_table(metrics.errors.rows),
        ]),
        *_error_sections(metrics.errors.rows),
    ]


# -- Markdown -----------------------------------------------------------------


def md_block(block: Block) -> str:
    """One block as Markdown."""
    if isinstance(block, Table):
        return to_markdown(block)
    if isinstance(block, tuple):
        return f"![{block[0]}]({block[1]})"
    return block


def render_markdown(metrics: Metrics) -> str:
    """report.md."""
    parts = [f"# Evaluation of {metrics.model}", ""]
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


def html_block(block: Block) -> str:
    if isinstance(block, Table):
        return to_html(block)
    if isinstance(block, tuple):
        return f'<p><img src="{html.escape(block[1])}" alt="{html.escape(block[0])}"></p>'
    return f"<p>{inline_html(block)}</p>"


def page(title: str, body: str) -> str:
    """A complete HTML page."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>\n")


def render_html(metrics: Metrics) -> str:
    """report.html: the index with tables, links to articles and the embedded PNG."""
    body = [f"<h1>Evaluation of {html.escape(metrics.model)}</h1>",
            '<p><a href="report.md">report.md</a> · <a href="metrics.json">metrics.json</a></p>']
    for section in sections(metrics):
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body += [html_block(b) for b in section.blocks]
    return page(f"Evaluation of {metrics.model}", "\n".join(body))


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


def _article_errors(errors: Sequence[ErrorRow]) -> str:
    """This article's strict errors as an HTML table (or a line saying there are none)."""
    if not errors:
        return "<p>No strict errors.</p>"
    table = Table(["kind", "gold", "predicted", "context"], [
        [e.kind.replace("_", " "), e.gold or "", e.pred or "", e.context()] for e in errors
    ])
    return f"<h2>Errors ({len(errors)})</h2>{html_block(table)}"


def article_page(
    gold: Doc, pred: Doc, model: str, row: ArticleRow, errors: Sequence[ErrorRow] = ()
) -> str:
    """Gold and predictions side by side, paragraph by paragraph so rows line up; then errors."""
    strict = row.scores["strict"]
    rows = "".join(
        f"<tr><td>{_render_part(gold, s, e)}</td><td>{_render_part(pred, s, e)}</td></tr>"
        for s, e in paragraphs(gold.text)
    )
    legend = " ".join(
        f'<span style="background:{c};padding:0 0.4em;border-radius:0.3em">{n}</span>'
        for n, c in COLOURS.items())
    body = (
        f'<p><a href="../report.html">← report</a></p><h1>{html.escape(row.title)}</h1>'
        f"<p>article <code>{html.escape(row.article)}</code> · strict P {pct(strict.p)} "
        f"R {pct(strict.r)} F1 {pct(strict.f1)} · gold {strict.possible} · "
        f"predicted {strict.actual} · {legend}</p>"
        f'<table class="sbs"><thead><tr><th>Gold</th><th>Predicted ({html.escape(model)})'
        f"</th></tr></thead><tbody>{rows}</tbody></table>{_article_errors(errors)}"
    )
    return page(f"{row.article}: gold vs predicted", body)


# What write_report puts in its folder (the article pages go under articles/).
REPORT_NAMES = ("metrics.json", "report.md", "report.html", "confusion.png", "articles")


def write_report(
    out: Path, metrics: Metrics, pairs: Sequence[tuple[Doc, Doc]]
) -> dict[str, Path]:
    """Write metrics.json, report.md, report.html, confusion.png and the article pages."""
    out = Path(out)
    files = {"metrics": out / "metrics.json", "markdown": out / "report.md",
             "html": out / "report.html", "confusion": out / metrics.confusion.png}
    plot_confusion(metrics.confusion.labels, np.array(metrics.confusion.matrix),
                   files["confusion"], f"Token confusion: {Path(metrics.model).name}")
    for row, (gold, pred) in zip(metrics.per_article, pairs, strict=True):
        errors = [e for e in metrics.errors.rows if e.article == row.article]
        write_text_atomic(out / row.page, article_page(gold, pred, metrics.model, row, errors))
    write_text_atomic(files["markdown"], render_markdown(metrics))
    write_text_atomic(files["html"], render_html(metrics))
    # metrics.json last: its presence means the whole report was written.
    metrics.write(files["metrics"])
    return files
