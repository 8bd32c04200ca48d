"""Push articles to doccano, with pre-annotations.

push: idempotent. Each example carries ``_input_hash`` (the hash of its text,
as Prodigy computes it) and ``article_id`` in its doccano meta; pushing the
same file again adds nothing, a grown file adds only what is new, in one bulk
import. Pre-annotations (gold spans, pattern or model predictions) are
imported as the pushing user's annotations: doccano 1.8 with collaborative
annotation off shows each user only their own spans.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conflict_ner.articles import article_id, meta_of
from conflict_ner.convert import SpanIssue, SpanTuple, align_spans, doccano_row
from conflict_ner.doccano.client import DoccanoAPI, resolve_connection
from conflict_ner.doccano.errors import DoccanoError
from conflict_ner.scheme import LABELS
from conflict_ner.tasks import InvalidInput, Problem, input_hash, read_records, read_tasks

# The meta fields every pushed row carries (missing ones as null), so that
# doccano's pandas-based import never fills a gap with NaN.
META_FIELDS = ("article_id", "title", "date", "source", "url", "theatre", "origin")
HASH_KEY = "_input_hash"
ArticleRow = dict[str, Any]


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
        meta = meta_of(row) or row
        item = {k: meta.get(k) for k in META_FIELDS}
        item["article_id"] = article_id(row)
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
    meta = {k: _json_scalar(item.get(k)) for k in META_FIELDS}
    meta[HASH_KEY] = input_hash({"text": item["text"]})
    return doccano_row(item["text"], spans, meta)


# A pre-annotation source: spans for each article, in order ("annotator" elsewhere
# means a person).
PreAnnotator = Callable[[list[ArticleRow]], list[list[SpanTuple]]]


def gold_pre_annotator(gold_paths: Sequence[Path]) -> PreAnnotator:
    """Pre-annotations from gold Prodigy tasks, matched on meta.article_id and same text.

    Every file must exist and validate, before anything is pushed: a missing
    gold file would push the articles without their spans.
    """
    gold = [t for path in gold_paths for t in read_tasks(path)]
    # Rejected or ignored tasks are no gold (training skips them too).
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


def pipeline_pre_annotator(nlp: Any) -> PreAnnotator:
    """Pre-annotations from a spaCy pipeline's entities (only our labels)."""

    def annotate(items: list[ArticleRow]) -> list[list[SpanTuple]]:
        docs = nlp.pipe(item["text"] for item in items)
        return [
            [(e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in LABELS]
            for doc in docs
        ]

    return annotate


def patterns_pre_annotator() -> PreAnnotator:
    """Pre-annotations from the rules (the faction list and place gazetteer)."""
    from conflict_ner.patterns import pre_annotate  # compiling the rules takes seconds

    return lambda items: pre_annotate([item["text"] for item in items])


def model_pre_annotator(model: str) -> PreAnnotator:
    """Pre-annotations from a trained spaCy model (a path or an installed package name)."""
    import spacy

    try:
        nlp = spacy.load(model)
    except OSError as err:
        raise DoccanoError(f"cannot load the spaCy model {model!r}: {err}") from err
    return pipeline_pre_annotator(nlp)


def choose_pre_annotator(
    pre_annotate: str | None, gold_paths: Sequence[Path]
) -> PreAnnotator | None:
    """The pre-annotation source: gold, patterns, none, or a model path/name."""
    if pre_annotate in (None, "", "none"):
        return None
    if pre_annotate == "gold":
        return gold_pre_annotator(gold_paths)
    if pre_annotate == "patterns":
        return patterns_pre_annotator()
    return model_pre_annotator(pre_annotate)


def read_guidelines(path: Path | None) -> str:
    """The annotation guidelines shown in doccano, if the file exists."""
    return path.read_text(encoding="utf8") if path and Path(path).is_file() else ""


def push(
    articles_path: Path,
    project: str,
    pre_annotate: str | None = "gold",
    gold_paths: Sequence[Path] = (Path("corpus/gold.jsonl"),),
    api: DoccanoAPI | None = None,
    data_dir: Path = Path(".doccano"),
    guidelines: Path | None = Path("configs/guidelines.md"),
    order: Path | None = None,
) -> PushReport:
    """Send the articles doccano lacks (by text hash) in one import; return counts.

    With ``order`` (a ranking from `conflict-ner next`), only the ranked articles
    go, in the ranking's order (doccano lists examples in upload order).
    """
    items = load_push_items(articles_path)
    if order is not None:
        from conflict_ner.active import in_ranking_order

        items = in_ranking_order(items, order)
    pre_annotator = choose_pre_annotator(pre_annotate, gold_paths)
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
    rows = _rows_with_spans(new, pre_annotator, str(articles_path), report)
    api.import_rows(project_id, rows, name=Path(articles_path).name)
    report.added = len(rows)
    _check_arrived(api, project_id, rows)
    return report


def _rows_with_spans(
    items: list[ArticleRow], pre_annotator: PreAnnotator | None, file: str, report: PushReport
) -> list[dict[str, Any]]:
    """Import rows with pre-annotations aligned to token boundaries (issues reported)."""
    predicted = pre_annotator(items) if pre_annotator and items else [[] for _ in items]
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


