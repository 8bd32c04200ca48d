"""Seen and unseen names, ablations, groups and the headline, on a real saved pipeline whose
figures are worked out by hand.

The pipeline has the shipped topology: an entity-setting component (a fixed phrase
list standing in for the statistical NER, so its output is known in advance) and
after it the span ruler named in patterns.py, filling only the gaps the NER left.
"""

# No "from __future__ import annotations": spaCy validates the factory below against its
# real annotations.
import json
from pathlib import Path
from typing import Any

import pytest
import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans
from typer.testing import CliRunner

from conflict_ner.cli import app
from conflict_ner.evaluation.novelty import NoveltyRow
from conflict_ner.evaluation.results import Metrics
from conflict_ner.files import write_jsonl
from conflict_ner.patterns import FILL_GAPS, RULER_NAME
from conflict_ner.tasks import make_task

F, P = "FACTION", "PLACE"
ARTICLES = [
    ("a1", "The YPG took Tal Tamr from ISIS.", [("YPG", F), ("Tal Tamr", P), ("ISIS", F)],
     "north-east Syria"),
    ("a2", "Fighters of the YPG entered Ghwairan.", [("YPG", F), ("Ghwairan", P)],
     "north-east Syria"),
    ("a3", "The Jaysh Zayn militia held Kawkab.", [("Jaysh Zayn", F), ("Kawkab", P)], None),
]
RULES = [("YPG", F), ("Tal Tamr", P), ("Kawkab", P)]
# The stand-in NER: ISIS and Ghwairan right, "Jaysh" a boundary error, and "Tal",
# which takes Tal Tamr's tokens first so the ruler may not fill them.
NER = [("ISIS", F), ("Ghwairan", P), ("Jaysh", F), ("Tal", P)]
TRAIN = ("Clashes between the YPG and ISIS near Ghwairan.", [("YPG", F), ("ISIS", F),
                                                             ("Ghwairan", P)])


@Language.factory("test_fixed_ner", default_config={"entities": []})
def make_fixed_ner(nlp: Language, name: str, entities: list[list[str]]) -> Any:
    """Entities from a fixed phrase list: a deterministic stand-in for a trained NER."""
    matcher = PhraseMatcher(nlp.vocab)
    for text, label in entities:
        matcher.add(label, [nlp.make_doc(text)])

    def fixed_ner(doc: Doc) -> Doc:
        doc.ents = filter_spans([Span(doc, s, e, label=m) for m, s, e in matcher(doc)])
        return doc

    return fixed_ner


def pipeline(path: Path) -> Path:
    """The stand-in NER, then the span ruler filling its gaps, saved to disk."""
    nlp = spacy.blank("en")
    nlp.add_pipe("test_fixed_ner", name="ner", config={"entities": [list(e) for e in NER]})
    ruler = nlp.add_pipe("span_ruler", name=RULER_NAME, config={
        "spans_key": None, "annotate_ents": True, "overwrite": False,
        "ents_filter": {"@misc": FILL_GAPS}})
    ruler.add_patterns([{"label": label, "pattern": text} for text, label in RULES])  # type: ignore[attr-defined]
    nlp.to_disk(path)
    return path


def task(article_id: str, text: str, spans: list[tuple[str, str]], theatre: str | None) -> dict:
    offsets = [(text.index(s), text.index(s) + len(s), label) for s, label in spans]
    meta = {"article_id": article_id, "title": article_id}
    meta |= {"theatre": theatre} if theatre else {}
    return make_task(text, offsets, meta)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    gold, train = tmp_path / "gold.jsonl", tmp_path / "train.jsonl"
    write_jsonl(gold, [task(*a) for a in ARTICLES])
    write_jsonl(train, [task("t1", *TRAIN, None)])
    return {"gold": gold, "train": train, "model": pipeline(tmp_path / "model"),
            "out": tmp_path / "report"}


def evaluate(files: dict[str, Path], *extra: str | Path) -> tuple[Metrics, str]:
    args = ["evaluate", files["model"], files["gold"], "--out", files["out"], "--no-patterns",
            "--resamples", "200", *extra]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return Metrics.read(files["out"] / "metrics.json"), result.output


def row(rows: list[NoveltyRow], group: str, label: str = "all") -> tuple:
    r = next(r for r in rows if r.group == group and r.label == label)
    return r.gold, r.predicted, r.found, r.p, r.r


def test_ablations_are_worked_out_by_hand(files: dict[str, Path]) -> None:
    metrics, _ = evaluate(files, "--train", files["train"])
    # 7 gold mentions. Shipped: Tal (NER, wrong), YPG (rule), ISIS | YPG (rule), Ghwairan |
    # Jaysh (wrong), Kawkab (rule): 7 predictions, 5 right: P = R = F1 = 5/7.
    assert (metrics.strict.p, metrics.strict.r) == (pytest.approx(5 / 7), pytest.approx(5 / 7))
    ner, rules = metrics.ablations
    assert (ner.role, rules.role) == ("ner alone", "rules alone")
    # NER alone: Tal, ISIS, Ghwairan, Jaysh: 2 right of 4; R = 2/7; F1 = (2/7)/(11/14) = 4/11.
    assert (ner.strict.cor, ner.strict.actual, ner.strict.possible) == (2, 4, 7)
    assert ner.strict.f1 == pytest.approx(4 / 11)
    # Rules alone: YPG, Tal Tamr, YPG, Kawkab, all right: P = 1, R = 4/7, F1 = 8/11.
    assert (rules.strict.p, rules.strict.r) == (1.0, pytest.approx(4 / 7))
    assert rules.strict.f1 == pytest.approx(8 / 11)
    # The memorisation baseline (from --train) runs beside them.
    assert [b.name for b in metrics.baselines] == ["memorisation"]


def test_seen_and_unseen_worked_out_by_hand(files: dict[str, Path]) -> None:
    metrics, output = evaluate(files, "--train", files["train"])
    rows = metrics.novelty
    # In the rules: a1 YPG, Tal Tamr; a2 YPG; a3 Kawkab (4). Predicted there: YPG, YPG,
    # Kawkab (3), all right: P 1, R 3/4.
    assert row(rows, "in the rules") == (4, 3, 3, 1.0, 0.75)
    assert row(rows, "in the rules", P) == (2, 1, 1, 1.0, 0.5)
    # In training (YPG is too, but the rules come first): ISIS, Ghwairan, both found.
    assert row(rows, "in training") == (2, 2, 2, 1.0, 1.0)
    # Unseen: Jaysh Zayn; predicted there "Jaysh" and "Tal", neither right.
    assert row(rows, "unseen") == (1, 2, 0, 0.0, 0.0)
    # No unseen PLACE in the gold: recall undefined, the one prediction ("Tal") wrong.
    assert row(rows, "unseen", P) == (0, 1, 0, 0.0, None)
    # NER alone: nothing in the rules group predicted, so its precision is undefined.
    assert row(metrics.ablations[0].novelty, "in the rules") == (4, 0, 0, None, 0.0)
    # The headline: F1, articles, unseen recall 0 of 1, rules alone 8/11 beside it; the rules
    # beat the model, so the caveat says so.
    headline = metrics.headline
    assert (headline.articles, headline.unseen_recall, headline.unseen_mentions) == (3, 0.0, 1)
    assert headline.rules_alone_f1 == pytest.approx(8 / 11)
    assert any("rules alone reach 0.727" in c for c in headline.caveats)
    assert "unseen recall 0.000 (of 1 unseen gold mentions); rules alone 0.727" in output
    assert "caveat: the rules alone reach 0.727" in output.replace("\n", " ")
    report = (files["out"] / "report.md").read_text()
    assert report.index("## Summary") < report.index("## Seen and unseen names")
    assert "| in training | all | 2 | 2 | 2 | 100.0 | 100.0 | 100.0 |" in report


def test_training_data_defaults_to_none_without_a_config_path(files: dict[str, Path]) -> None:
    metrics, _ = evaluate(files)
    # Without training data nothing counts as seen in training: ISIS and Ghwairan are unseen.
    assert metrics.train is None
    assert row(metrics.novelty, "in training")[0] == 0
    assert row(metrics.novelty, "unseen") == (3, 2 + 2, 2, 0.5, 2 / 3)
    assert [s.name for s in metrics.skipped] == ["memorisation"]


def test_groups_by_theatre_with_article_counts(files: dict[str, Path]) -> None:
    metrics, output = evaluate(files, "--by", "theatre", "--by", "source")
    groups = {(g.field, g.value): g for g in metrics.groups}
    # a1 + a2: 5 gold, 5 predicted (Tal, YPG, ISIS, YPG, Ghwairan), 4 right: F1 0.8.
    syria = groups["theatre", "north-east Syria"]
    assert (syria.articles, syria.strict.f1) == (2, pytest.approx(0.8))
    # a3 has no theatre: Jaysh wrong, Kawkab right; one article, so a zero-width interval.
    none = groups["theatre", "(none)"]
    assert (none.articles, none.strict.f1, none.interval.low, none.interval.high) == (
        1, 0.5, 0.5, 0.5)
    assert groups["source", "(none)"].articles == 3
    assert "Syria" in output
    assert "north-east Syria" in (files["out"] / "report.html").read_text()


def test_few_articles_caveat_and_summary(files: dict[str, Path], tmp_path: Path) -> None:
    two = tmp_path / "two.jsonl"
    write_jsonl(two, [task(*a) for a in ARTICLES[:2]])
    files = {**files, "gold": two}
    metrics, _ = evaluate(files, "--train", files["train"])
    assert any("only 2 held-out article(s)" in c for c in metrics.headline.caveats)
    result = CliRunner().invoke(app, ["summary", "--report", str(files["out"])])
    assert result.exit_code == 0, result.output
    assert "only 2 held-out article(s)" in result.output
    assert "held-out articles (2), strict" in result.output
    # a1 + a2 F1 0.8 (above); rules alone on them: YPG, Tal Tamr, YPG right of 5 gold: 0.75.
    assert "strict F1 0.800" in result.output and "rules alone 0.750" in result.output


def test_metrics_json_round_trips(files: dict[str, Path]) -> None:
    metrics, _ = evaluate(files, "--train", files["train"], "--by", "theatre")
    data = json.loads((files["out"] / "metrics.json").read_text())
    assert Metrics.from_json(data) == metrics
    assert Metrics.from_json(data).to_json() == data


def test_an_off_the_shelf_baseline_shows_its_unseen_figures(files: dict[str, Path]) -> None:
    other = spacy.blank("en")
    other.add_pipe("entity_ruler").add_patterns([  # type: ignore[attr-defined]
        {"label": "GPE", "pattern": "Ghwairan"}, {"label": "ORG", "pattern": "Jaysh Zayn"},
        {"label": "PERSON", "pattern": "YPG"}])
    other.to_disk(files["out"].parent / "other")
    metrics, _ = evaluate(files, "--train", files["train"], "--baseline-model",
                          files["out"].parent / "other", "--label-map", "GPE=PLACE,ORG=FACTION")
    baseline = metrics.baselines[-1]
    # Mapped: Ghwairan (PLACE, in training) and Jaysh Zayn (FACTION, the one unseen mention),
    # both right; PERSON is not ours to score. P 1, R 2/7.
    assert (baseline.strict.cor, baseline.strict.actual) == (2, 2)
    assert row(baseline.novelty, "unseen") == (1, 1, 1, 1.0, 1.0)
    assert row(baseline.novelty, "in training") == (2, 1, 1, 1.0, 0.5)
    assert "| 100.0 |" in (files["out"] / "report.md").read_text().split("Baselines:")[1]
