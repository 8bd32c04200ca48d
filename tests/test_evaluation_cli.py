"""`conflict-ner evaluate` end to end on a real (tiny, rule-based) spaCy pipeline saved to disk."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import spacy
from typer.testing import CliRunner

from conflict_ner.cli import app
from conflict_ner.evaluation.systems import (
    System,
    memorisation_pipeline,
    named_system,
    parse_label_map,
    predict,
)
from conflict_ner.files import write_jsonl
from conflict_ner.tasks import make_task

ARTICLES = [
    ("a1", "The YPG took Tal Tamr from Islamic State fighters.",
     [("YPG", "FACTION"), ("Tal Tamr", "PLACE"), ("Islamic State", "FACTION")]),
    ("a2", "Syrian Arab Army units shelled Hasakah.",
     [("Syrian Arab Army", "FACTION"), ("Hasakah", "PLACE")]),
    ("a3", "Clashes in Qamishli continued.\n\nNo one else was named.",
     [("Qamishli", "PLACE")]),
]
# The model's rules: YPG right; Tamr a boundary error; Islamic State the wrong label;
# Hasakah right; "Clashes" spurious; Syrian Arab Army and Qamishli missed.
RULES = [("YPG", "FACTION"), ("Tamr", "PLACE"), ("Islamic State", "PLACE"),
         ("Hasakah", "PLACE"), ("Clashes", "FACTION")]


def task(article_id: str, text: str, spans: list[tuple[str, str]]) -> dict:
    """A Prodigy task with each surface form's first occurrence as a span."""
    offsets = [(text.index(s), text.index(s) + len(s), label) for s, label in spans]
    return make_task(text, offsets, {"article_id": article_id, "title": f"Title {article_id}"})


def ruler(path: Path, rules: list[tuple[str, str]]) -> Path:
    """A real loadable pipeline: blank English with an entity ruler, saved to disk."""
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(  # type: ignore[attr-defined]
        [{"label": label, "pattern": text} for text, label in rules]
    )
    nlp.to_disk(path)
    return path


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    gold = tmp_path / "gold.jsonl"
    write_jsonl(gold, [task(*a) for a in ARTICLES])
    train = tmp_path / "train.jsonl"
    spans = [("YPG", "FACTION"), ("Tal Tamr", "PLACE")]
    write_jsonl(train, [task("t1", "YPG and Tal Tamr.", spans)])
    return {"gold": gold, "train": train, "model": ruler(tmp_path / "model", RULES),
            "out": tmp_path / "evaluate" / "tiny"}


def run(*args: str | Path, patterns: bool = False) -> object:
    """`conflict-ner evaluate ARGS`; the pattern baseline (5 s to build) only when asked."""
    flag = [] if patterns else ["--no-patterns"]
    return CliRunner().invoke(app, ["evaluate", *map(str, args), *flag])


def test_evaluate_writes_report_with_known_scores(setup: dict[str, Path]) -> None:
    result = run(setup["model"], setup["gold"], "--out", setup["out"], "--train", setup["train"],
                 "--resamples", 200, patterns=True)
    assert result.exit_code == 0, result.output
    metrics = json.loads((setup["out"] / "metrics.json").read_text())
    strict = metrics["overall"]["strict"]["micro"]
    # COR YPG, Hasakah = 2; INC Tamr, Islamic State = 2; MIS SAA, Qamishli = 2; SPU Clashes = 1.
    # P = 2/5, R = 2/6, F1 = 2*(2/5)(1/3) / (2/5 + 1/3) = (4/15)/(11/15) = 4/11.
    assert [strict[k] for k in ("cor", "inc", "par", "mis", "spu")] == [2, 2, 0, 2, 1]
    assert strict["f1"] == pytest.approx(4 / 11)
    assert metrics["crosscheck"]["agree"] is True
    assert [r["article"] for r in metrics["per_article"]] == ["a1", "a2", "a3"]
    counts = metrics["errors"]["counts"]
    assert counts == {"false_positive": 1, "false_negative": 2, "boundary": 1, "label": 1,
                      "boundary_label": 0}
    assert [b["name"] for b in metrics["baselines"]] == ["patterns", "memorisation"]
    for name in ("report.md", "report.html", "confusion.png", "articles/a1.html"):
        assert (setup["out"] / name).is_file(), name
    assert (setup["out"] / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_html_links_and_side_by_side_markup(setup: dict[str, Path]) -> None:
    first = run(setup["model"], setup["gold"], "--out", setup["out"], "--resamples", 50)
    assert first.exit_code == 0, first.output
    index = (setup["out"] / "report.html").read_text()
    assert '<img src="confusion.png"' in index
    assert 'href="articles/a1.html"' in index and "agree: <strong>true</strong>" in index
    page = (setup["out"] / "articles" / "a1.html").read_text()
    side_by_side = page.split('class="sbs"', 1)[1].split("</table>", 1)[0]
    gold_col, pred_col = side_by_side.split("<td>", 2)[1:]
    # Gold column marks "Tal Tamr" as PLACE and "Islamic State" as FACTION ...
    assert re.search(r"Tal Tamr\s*<span[^>]*>PLACE", gold_col)
    assert re.search(r"Islamic State\s*<span[^>]*>FACTION", gold_col)
    # ... the predicted column marks only "Tamr" and "Islamic State" as PLACE.
    assert re.search(r"Tamr\s*<span[^>]*>PLACE", pred_col)
    assert not re.search(r"Tal Tamr\s*<span", pred_col)
    assert re.search(r"Islamic State\s*<span[^>]*>PLACE", pred_col)
    assert "#e8564d" in page and "#3f8fd2" in page  # the scheme's label colours
    assert "<h2>Errors (2)</h2>" in page  # a1: boundary (Tamr) and label (Islamic State)


def test_gate_min_f1(setup: dict[str, Path]) -> None:
    ok = run(setup["model"], setup["gold"], "--out", setup["out"], "--min-f1", 0.3,
             "--resamples", 50)
    assert ok.exit_code == 0, ok.output
    bad = run(setup["model"], setup["gold"], "--out", setup["out"], "--min-f1", 0.9,
              "--resamples", 50)
    assert bad.exit_code == 1
    assert "below --min-f1 0.9000" in bad.output


def test_gate_against_baseline_metrics(setup: dict[str, Path], tmp_path: Path) -> None:
    first = run(setup["model"], setup["gold"], "--out", setup["out"], "--resamples", 50)
    assert first.exit_code == 0, first.output
    baseline = json.loads((setup["out"] / "metrics.json").read_text())
    same = tmp_path / "same.json"
    same.write_text(json.dumps(baseline))
    assert run(setup["model"], setup["gold"], "--out", tmp_path / "o2", "--baseline", same,
               "--resamples", 50).exit_code == 0
    # A baseline far above this model's 4/11, beyond any bootstrap half-width.
    baseline["overall"]["strict"]["micro"]["f1"] = 0.99
    better = tmp_path / "better.json"
    better.write_text(json.dumps(baseline))
    result = run(setup["model"], setup["gold"], "--out", tmp_path / "o3", "--baseline", better,
                 "--resamples", 50)
    assert result.exit_code == 1
    assert "below the baseline's 0.9900" in result.output


def test_a_malformed_baseline_is_refused_before_scoring(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run(setup["model"], setup["gold"], "--out", tmp_path / "o", "--baseline", bad)
    assert result.exit_code == 1
    assert f"{bad}: not an evaluation metrics.json" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "o").exists()


def test_a_report_is_never_written_into_the_model_or_over_the_gold(
    setup: dict[str, Path]
) -> None:
    model, gold = setup["model"], setup["gold"]
    before = sorted(p.name for p in model.rglob("*"))
    gold_bytes = gold.read_bytes()
    for out in (model, model / "report", gold):
        result = run(model, gold, "--out", out)
        assert result.exit_code == 1, result.output
        said = " ".join(result.output.split())
        assert "write the output somewhere else" in said and "Traceback" not in said
    assert sorted(p.name for p in model.rglob("*")) == before
    assert gold.read_bytes() == gold_bytes
    # The gold's own folder is fine: no report file is named like it.
    assert run(model, gold, "--out", gold.parent).exit_code == 0


def test_missing_baseline_package_is_skipped_with_a_note(setup: dict[str, Path]) -> None:
    result = run(setup["model"], setup["gold"], "--out", setup["out"], "--resamples", 20,
                 "--baseline-model", "en_core_web_sm")
    assert result.exit_code == 0, result.output
    assert "en_core_web_sm" in result.output and "not installed" in result.output
    report = (setup["out"] / "report.md").read_text()
    assert "skipped en_core_web_sm" in report


def test_label_mapped_baseline(tmp_path: Path) -> None:
    # A pipeline with OntoNotes-style labels; mapped, PERSON dropped.
    model = ruler(tmp_path / "onto", [("YPG", "ORG"), ("Hasakah", "GPE"), ("Tal Tamr", "PERSON")])
    system = named_system(str(model), parse_label_map("GPE=PLACE,ORG=FACTION"))
    assert isinstance(system, System)
    gold = [spacy.blank("en")("The YPG left Hasakah for Tal Tamr.")]
    (pred,) = predict(system, gold)
    assert [(e.text, e.label_) for e in pred.ents] == [("YPG", "FACTION"), ("Hasakah", "PLACE")]


def test_label_map_parsing() -> None:
    assert parse_label_map("GPE=PLACE, ORG=FACTION") == {"GPE": "PLACE", "ORG": "FACTION"}
    with pytest.raises(ValueError, match="SOURCE=TARGET"):
        parse_label_map("GPE")


def test_memorisation_majority_label_longest_first() -> None:
    nlp = spacy.blank("en")
    train = []
    for text, ents in [("YPG in Tal Tamr", [(0, 1, "FACTION"), (2, 4, "PLACE")]),
                       ("YPG near Tal", [(0, 1, "FACTION"), (2, 3, "PLACE")]),
                       ("YPG", [(0, 1, "PLACE")])]:
        doc = nlp(text)
        doc.ents = [spacy.tokens.Span(doc, s, e, label=lab) for s, e, lab in ents]
        train.append(doc)
    memo = memorisation_pipeline(train)
    doc = memo("The YPG reached Tal Tamr and Tal.")
    # YPG: FACTION 2 votes vs PLACE 1; "Tal Tamr" beats the shorter "Tal" inside it.
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("YPG", "FACTION"), ("Tal Tamr", "PLACE"), ("Tal", "PLACE")]
