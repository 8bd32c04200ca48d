"""The pairing rule (pairs that mean presence or fighting), the who-fought-whom table,
the model mode of the tables, the map, and re3d's relations as reference pairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conflict_ner import re3d
from conflict_ner.tagging import pairs
from conflict_ner.tagging.cooccurrence import PAIR_COLUMNS, WHOM_COLUMNS, who_fought_where
from conflict_ner.tagging.pairs import (
    CO_OCCURRENCE,
    FIGHTING,
    PRESENCE,
    Rule,
    article_pairs,
    candidate_rules,
    read,
)
from conflict_ner.tagging.report import MAP, map_places, plot_map, write_report


def sentence_rows(article: str, index: int, sentence: str,
                  names: list[tuple[str, str, str]], offset: int = 100) -> list[dict[str, Any]]:
    """Mention rows of one sentence starting at ``offset`` in its article: each name is
    (surface, label, canonical), found at its first place in the sentence."""
    rows = []
    for surface, label, name in names:
        at = sentence.index(surface)
        rows.append({"article_id": article, "date": "2016-08-20", "label": label,
                     "canonical": name, "text": surface, "start": offset + at,
                     "end": offset + at + len(surface), "sentence": sentence,
                     "sentence_index": index, "sentence_start": offset, "matched": True,
                     "geonameid": None, "country": None, "latitude": None, "longitude": None})
    return rows


def one(kind: str, sentence: str, a: str, b: str, labels: tuple[str, str]) -> Any:
    rows = sentence_rows("x", 0, sentence, [(a, labels[0], a), (b, labels[1], b)])
    return read(kind, sentence, rows[0], rows[1])


PLACE_PAIR = ("FACTION", "PLACE")
FACTIONS = ("FACTION", "FACTION")


@pytest.mark.parametrize(("sentence", "faction", "place"), [
    ("ISIL fighters attacked positions near Mosul on Monday.", "ISIL", "Mosul"),
    ("In Raqqa, the SDF advanced on Tuesday.", "SDF", "Raqqa"),
    ("Near Sinjar, one strike hit an ISIL tactical unit.", "ISIL", "Sinjar"),
    ("The YPG took control of villages around Qamishli.", "YPG", "Qamishli"),
])
def test_presence_fires_on_a_locative_close_to_the_faction(sentence, faction, place):
    assert one("where", sentence, faction, place, PLACE_PAIR).passes(PRESENCE)


@pytest.mark.parametrize(("sentence", "faction", "place"), [
    # No locative before the place: the place is the subject of another clause.
    ("The SDF said Turkey should stop its shelling.", "SDF", "Turkey"),
    # Far apart: the place belongs to another part of a long sentence.
    ("ISIL lost ground last year, and aid agencies say that thousands of families who had "
     "fled have now returned home to the towns and villages around Mosul.", "ISIL", "Mosul"),
])
def test_presence_does_not_fire_without_a_close_locative(sentence, faction, place):
    reading = one("where", sentence, faction, place, PLACE_PAIR)
    assert reading.passes(CO_OCCURRENCE)  # sharing the sentence is not enough
    assert not reading.passes(PRESENCE)


@pytest.mark.parametrize(("sentence", "a", "b"), [
    ("The SDF fought against ISIL in Raqqa.", "SDF", "ISIL"),
    ("ISIL attacked the Peshmerga near Kirkuk.", "ISIL", "Peshmerga"),
    ("The coalition continued to degrade and defeat Daesh.", "coalition", "Daesh"),
])
def test_fighting_fires_on_a_fighting_word_between_the_factions(sentence, a, b):
    assert one("whom", sentence, a, b, FACTIONS).passes(FIGHTING)


@pytest.mark.parametrize(("sentence", "a", "b"), [
    ("The SDF and the YPG held a joint parade.", "SDF", "YPG"),
    ("The YPG, backed by the coalition, entered the town.", "YPG", "coalition"),
])
def test_fighting_does_not_fire_between_allies(sentence, a, b):
    assert not one("whom", sentence, a, b, FACTIONS).passes(FIGHTING)


def test_rule_parts_gap_cue_and_veto():
    said = one("where", "ISIL said from its office in Damascus that it had won.", "ISIL",
               "Damascus", PLACE_PAIR)
    assert (said.gap, said.cue, said.veto) == (5, True, True)
    assert said.passes(Rule(max_gap=5, cue=True))
    assert not said.passes(Rule(max_gap=4))
    assert not said.passes(Rule(veto=True))  # "said", "office"
    talks = one("where", "Talks in Geneva between the SDF and others failed.", "SDF",
                "Geneva", PLACE_PAIR)
    assert talks.veto  # the word just before the pair
    assert CO_OCCURRENCE in candidate_rules() and len(set(candidate_rules())) == 20


def test_a_row_without_sentence_offsets_is_refused_with_what_to_do():
    rows = sentence_rows("x", 0, "ISIL in Mosul.", [("ISIL", "FACTION", "ISIL"),
                                                    ("Mosul", "PLACE", "Mosul")])
    del rows[0]["sentence_start"]
    with pytest.raises(ValueError, match="tag the articles again"):
        article_pairs(rows, "where", PRESENCE)


def corpus() -> list[list[dict[str, Any]]]:
    """Two articles: one with a presence and a fight, one that only names things together."""
    first = "ISIL fighters attacked the SDF near Raqqa."
    second = "Raqqa was named in a report today by the SDF, which said the YPG was active."
    third = "Raqqa was named in a report today, which said the YPG and ISIL were active."
    a = sentence_rows("a", 0, first, [("ISIL", "FACTION", "Islamic State"),
                                      ("SDF", "FACTION", "Syrian Democratic Forces"),
                                      ("Raqqa", "PLACE", "Raqqa")])
    a += sentence_rows("a", 1, second, [("SDF", "FACTION", "Syrian Democratic Forces"),
                                        ("YPG", "FACTION", "People's Protection Units"),
                                        ("Raqqa", "PLACE", "Raqqa")], offset=200)
    b = sentence_rows("b", 3, third, [("YPG", "FACTION", "People's Protection Units"),
                                      ("ISIL", "FACTION", "Islamic State"),
                                      ("Raqqa", "PLACE", "Raqqa")])
    return [a, b]


@pytest.fixture()
def known_rules(monkeypatch):
    """The tables' rules fixed here, so that these tests do not follow the benchmark's
    choice of ``PRESENCE`` and ``FIGHTING``."""
    for kind in ("where", "whom"):
        monkeypatch.setitem(pairs.RULES, kind, Rule(max_gap=10, cue=True))


def test_tables_carry_confidence_and_evidence_and_the_model_mode_keeps_supported_pairs(
    known_rules,
):
    table = who_fought_where(corpus())
    where = {(r["faction"], r["place"]): r for r in table.rows()}
    sdf = where[("Syrian Democratic Forces", "Raqqa")]
    assert list(sdf) == list(PAIR_COLUMNS)
    assert (sdf["sentences"], sdf["confidence"]) == (2, 0.5)
    assert sdf["evidence_sentence"] == "ISIL fighters attacked the SDF near Raqqa."
    ypg = where[("People's Protection Units", "Raqqa")]
    assert (ypg["sentences"], ypg["articles"], ypg["confidence"]) == (2, 2, 0.0)
    assert ypg["evidence_sentence"].startswith("Raqqa was named")
    whom = {(r["faction_a"], r["faction_b"]): r for r in table.whom_rows()}
    assert all(list(r) == list(WHOM_COLUMNS) for r in whom.values())
    fight = whom[("Islamic State", "Syrian Democratic Forces")]
    assert (fight["sentences"], fight["articles"], fight["confidence"]) == (1, 1, 1.0)
    # Named in one sentence of b, and in a only apart.
    apart = whom[("Islamic State", "People's Protection Units")]
    assert (apart["sentences"], apart["articles_together"], apart["confidence"]) == (1, 2, 0.0)

    model = who_fought_where(corpus(), "model")
    assert {(r["faction"], r["place"]) for r in model.rows()} == {
        ("Islamic State", "Raqqa"), ("Syrian Democratic Forces", "Raqqa")}
    assert [(r["faction_a"], r["faction_b"]) for r in model.whom_rows()] == [
        ("Islamic State", "Syrian Democratic Forces")]
    with pytest.raises(ValueError, match="unknown pairs 'bogus'"):
        who_fought_where(corpus(), "bogus")


def located(rows: list[dict[str, Any]], where: dict[str, tuple[float, float] | None]) -> None:
    for row in rows:
        if row["label"] == "PLACE" and where.get(row["canonical"]):
            row["latitude"], row["longitude"] = where[row["canonical"]]


def test_map_draws_the_theatre_and_lists_far_and_unlocated_places(tmp_path):
    articles = [sentence_rows(f"a{i}", 0, "ISIL attacked Raqqa, Mosul, Washington and Syria.",
                              [("ISIL", "FACTION", "Islamic State"), ("Raqqa", "PLACE", "Raqqa"),
                               ("Mosul", "PLACE", "Mosul"), ("Washington", "PLACE", "Washington"),
                               ("Syria", "PLACE", "Syria")]) for i in range(3)]  # fmt: skip
    for rows in articles:
        located(rows, {"Raqqa": (35.95, 39.01), "Mosul": (36.34, 43.13),
                       "Washington": (38.9, -77.04)})
    table = who_fought_where(articles)
    near, far, unlocated = map_places(table)
    assert [p[0] for p in near] == ["Mosul", "Raqqa"] and far == ["Washington"]
    assert unlocated == ["Syria"]
    assert plot_map(table, tmp_path / MAP) == tmp_path / MAP
    assert (tmp_path / MAP).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    files = write_report(tmp_path, table, {"articles": 3, "model": "m", "mentions": 15,
                                           "skipped": 0})
    report = (tmp_path / "report.md").read_text()
    assert MAP in report and "Washington" in report.split("## Where")[1]
    assert "## Who fought whom" in report and tmp_path / MAP in files


def test_no_coordinates_no_map(tmp_path):
    table = who_fought_where(corpus())
    assert plot_map(table, tmp_path / MAP) is None and not (tmp_path / MAP).exists()


def test_re3d_relations_become_pairs_of_our_entities():
    # "Syrian Democratic Forces (SDF) fought ISIL near Raqqa; the group met in Geneva."
    annotation = re3d.Annotation("d", "centcom", (
        (0, 24, "FACTION", "Syrian Democratic Forces"), (26, 29, "FACTION", "SDF"),
        (37, 41, "FACTION", "ISIL"), (47, 52, "PLACE", "Raqqa"), (71, 77, "PLACE", "Geneva")))
    relations = [
        re3d.Relation("d", "IsSynonymOf", (0, 24), (26, 29)),
        re3d.Relation("d", "FightingAgainst", (26, 29), (37, 41)),
        re3d.Relation("d", "FightingAgainst", (37, 41), (0, 24)),  # the same pair, reversed
        re3d.Relation("d", "CoLocated", (37, 41), (42, 52)),  # "ISIL" / "near Raqqa"
        re3d.Relation("d", "CoLocated", (54, 63), (71, 77)),  # "the group": no span of ours
        re3d.Relation("d", "AlliesOf", (0, 24), (37, 41)),  # a type the benchmark leaves
    ]
    named = {"SDF": "SDF", "Syrian Democratic Forces": "Syrian Democratic Forces"}
    reference = re3d.reference_pairs([annotation], relations,
                                     lambda text, label: named.get(text, text))
    # The acronym and the full name are one entity, resolved to the first in sorted order.
    assert reference.resolve("d", "SDF") == reference.resolve("d", "Syrian Democratic Forces")
    assert reference.pairs["whom"]["d"] == {("ISIL", "SDF")}
    assert reference.pairs["where"]["d"] == {("ISIL", "Raqqa")}
    assert (reference.kept, reference.dropped) == ({"where": 1, "whom": 2},
                                                   {"where": 1, "whom": 0})
    assert reference.pair("d", "whom", "Syrian Democratic Forces", "ISIL") == ("ISIL", "SDF")


def test_re3d_relations_are_read_above_the_confidence_floor(tmp_path: Path):
    folder = tmp_path / "centcom"
    folder.mkdir()
    lines = [{"documentId": "d", "type": "CoLocated", "sourceBegin": 0, "sourceEnd": 4,
              "targetBegin": 8, "targetEnd": 13, "confidence": c} for c in (1, 0.4)]
    (folder / "relations.json").write_text("".join(f"{json.dumps(r)}\n" for r in lines))
    assert re3d.read_relations(tmp_path) == [re3d.Relation("d", "CoLocated", (0, 4), (8, 13))]



SHARED_RE3D = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "re3d"


@pytest.mark.skipif(not re3d.available(SHARED_RE3D), reason="../shared/datasets/re3d is absent")
def test_the_real_reference_names_only_entities_of_ours_in_each_document():
    from conflict_ner.tagging.canonical import canonical

    annotations = re3d.read_annotations(Path(__file__).resolve().parents[1] / "corpus" /
                                        "re3d.jsonl")
    reference = re3d.reference_pairs(annotations, re3d.read_relations(SHARED_RE3D),
                                     lambda text, label: canonical(text, label).name)
    assert reference.kept["where"] and reference.kept["whom"] and reference.dropped["where"]
    for annotation in annotations:
        names = {label: {reference.resolve(annotation.document_id,
                                           canonical(surface, label).name)
                         for _, _, lab, surface in annotation.spans if lab == label}
                 for label in ("FACTION", "PLACE")}
        for faction, place in reference.pairs["where"][annotation.document_id]:
            assert faction in names["FACTION"] and place in names["PLACE"]
        for a, b in reference.pairs["whom"][annotation.document_id]:
            assert a < b and {a, b} <= names["FACTION"]
