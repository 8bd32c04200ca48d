"""Scoring under the four SemEval schemes, with every expected number worked out by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest
import spacy
from spacy.tokens import Doc, Span

from conflict_ner.evaluation import (
    Ent,
    bootstrap,
    bootstrap_all,
    count_doc,
    cross_check,
    summarise,
    total,
)

# Doc A tokens (index: word):
#  0 The  1 YPG  2 attacked  3 Islamic  4 State  5 in  6 al  7 -  8 Hasakah  9 and
# 10 Qamishli  11 near  12 Tal  13 Tamr  14 ,  15 Syrian  16 Arab  17 Army  18 said
# 19 Monday  20 .


def words(text: str) -> list[str]:
    """Tokens of a test sentence written with spaces between them."""
    return text.split()


WORDS_A = words(
    "The YPG attacked Islamic State in al - Hasakah and Qamishli near Tal Tamr , "
    "Syrian Arab Army said Monday ."
)

GOLD_A = [
    Ent(1, 2, "FACTION"),   # g1 YPG
    Ent(3, 5, "FACTION"),   # g2 Islamic State
    Ent(6, 9, "PLACE"),     # g3 al-Hasakah
    Ent(10, 11, "PLACE"),   # g4 Qamishli
    Ent(12, 14, "PLACE"),   # g5 Tal Tamr
    Ent(15, 18, "FACTION"),  # g6 Syrian Arab Army
]
PRED_A = [
    Ent(1, 2, "FACTION"),   # p1 = g1: right in every scheme
    Ent(3, 5, "PLACE"),     # p2 = g2's boundaries, wrong label
    Ent(8, 9, "PLACE"),     # p3 inside g3, same label (wrong boundary)
    Ent(13, 14, "FACTION"),  # p5 inside g5, other label (wrong boundary and label)
    Ent(15, 18, "FACTION"),  # p6 = g6
    Ent(19, 20, "PLACE"),   # p7 "Monday": overlaps no gold span -> spurious
]
# g4 Qamishli has no prediction -> missed.


def scores_a() -> dict:
    return summarise(total([count_doc("A", GOLD_A, PRED_A)]), labels=["FACTION", "PLACE"])


def test_micro_counts_and_scores_by_hand() -> None:
    s = scores_a()
    # strict: COR p1,p6 = 2; INC p2,p3,p5 = 3; MIS g4 = 1; SPU p7 = 1.
    # POS = 2+3+0+1 = 6, ACT = 2+3+0+1 = 6; P = R = 2/6; F1 = 1/3.
    assert (s["strict"].micro.cor, s["strict"].micro.inc) == (2, 3)
    assert (s["strict"].micro.mis, s["strict"].micro.spu) == (1, 1)
    assert s["strict"].micro.possible == 6 and s["strict"].micro.actual == 6
    assert s["strict"].micro.f1 == pytest.approx(1 / 3)
    # exact: p2 now COR (boundaries right): COR 3, INC p3,p5 = 2; P = R = 3/6 = 0.5.
    assert s["exact"].micro.cor == 3 and s["exact"].micro.inc == 2
    assert s["exact"].micro.p == pytest.approx(0.5)
    assert s["exact"].micro.r == pytest.approx(0.5)
    # partial: COR 3, PAR p3,p5 = 2 (half each): P = R = (3 + 0.5*2)/6 = 2/3.
    assert s["partial"].micro.par == 2
    assert s["partial"].micro.f1 == pytest.approx(2 / 3)
    # type: COR p1,p3,p6 = 3 (label right, any overlap); INC p2,p5 = 2; P = R = 3/6.
    assert s["type"].micro.cor == 3 and s["type"].micro.inc == 2
    assert s["type"].micro.f1 == pytest.approx(0.5)


def test_per_label_scores_by_hand() -> None:
    s = scores_a()
    # FACTION alone: gold g1,g2,g6; pred p1,p5,p6. p1,p6 COR; p5 (Tamr) overlaps no
    # FACTION gold -> SPU; g2 MIS. Every scheme: P = R = 2/3, F1 = 2/3.
    for scheme in ("strict", "exact", "partial", "type"):
        faction = s[scheme].per_label["FACTION"]
        assert (faction.cor, faction.spu, faction.mis) == (2, 1, 1)
        assert faction.f1 == pytest.approx(2 / 3)
    # PLACE alone: gold g3,g4,g5; pred p2 (Islamic State), p3 (Hasakah), p7 (Monday).
    # p2, p7 SPU; p3 pairs with g3; g4, g5 MIS.
    place = {scheme: s[scheme].per_label["PLACE"] for scheme in s}
    # strict / exact: p3 INC -> COR 0: P = R = F1 = 0.
    assert place["strict"].inc == 1 and place["strict"].f1 == 0.0
    assert place["exact"].f1 == 0.0
    # partial: p3 PAR -> P = R = 0.5/3 = 1/6.
    assert place["partial"].p == pytest.approx(1 / 6)
    assert place["partial"].f1 == pytest.approx(1 / 6)
    # type: p3 COR -> P = R = 1/3.
    assert place["type"].f1 == pytest.approx(1 / 3)


def test_macro_by_hand() -> None:
    s = scores_a()
    assert s["strict"].macro.f1 == pytest.approx((2 / 3 + 0) / 2)  # 1/3
    assert s["exact"].macro.f1 == pytest.approx((2 / 3 + 0) / 2)  # 1/3
    assert s["partial"].macro.f1 == pytest.approx((2 / 3 + 1 / 6) / 2)  # 5/12
    assert s["type"].macro.f1 == pytest.approx((2 / 3 + 1 / 3) / 2)  # 1/2


def test_one_prediction_over_two_gold_spans() -> None:
    # "Manbij and Jarablus" predicted as one PLACE over gold Manbij (0-1), Jarablus (2-3):
    # the prediction pairs with the leftmost (INC / PAR), Jarablus is missed.
    gold = [Ent(0, 1, "PLACE"), Ent(2, 3, "PLACE")]
    pred = [Ent(0, 3, "PLACE")]
    s = summarise(total([count_doc("B", gold, pred)]))
    assert (s["strict"].micro.inc, s["strict"].micro.mis) == (1, 1)
    # partial: P = 0.5/1, R = 0.5/2 -> F1 = 2*0.5*0.25/0.75 = 1/3.
    assert s["partial"].micro.f1 == pytest.approx(1 / 3)


def test_empty_documents_score_zero_not_error() -> None:
    s = summarise(total([count_doc("E", [], [])]), labels=["FACTION", "PLACE"])
    assert s["strict"].micro.f1 == 0.0 and s["strict"].macro.f1 == 0.0


# -- cross-checks against spaCy's Scorer and nervaluate --


def make_doc(words: list[str], ents: list[Ent]) -> Doc:
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=words)
    doc.ents = [Span(doc, e.start, e.end, label=e.label) for e in ents]
    return doc


def test_strict_agrees_with_spacy_and_nervaluate() -> None:
    words_b = words("Manbij and Jarablus fell to the SDF and the Free Syrian Army .")
    gold_b = [Ent(0, 1, "PLACE"), Ent(2, 3, "PLACE"), Ent(6, 7, "FACTION"), Ent(9, 12, "FACTION")]
    # One span over two gold spans, one right, one boundary error, plus nothing missing.
    pred_b = [Ent(0, 3, "PLACE"), Ent(6, 7, "FACTION"), Ent(10, 12, "FACTION")]
    words_c = words("Nothing happened here .")
    pairs = [
        (make_doc(WORDS_A, GOLD_A), make_doc(WORDS_A, PRED_A)),
        (make_doc(words_b, gold_b), make_doc(words_b, pred_b)),
        (make_doc(words_c, []), make_doc(words_c, [Ent(0, 1, "PLACE")])),
    ]
    result = cross_check(pairs)
    assert result.agree, result.differences
    # And the figures really are the non-trivial ones: spaCy's strict F1 equals ours.
    assert result.spacy.f1 == pytest.approx(result.ours.f1)
    assert result.nervaluate is not None and result.nervaluate.f1 == pytest.approx(result.ours.f1)
    assert 0 < result.ours.f1 < 1
    assert set(result.details["nervaluate"]) == {"strict", "exact", "partial", "type"}


def test_cross_check_reports_a_disagreement() -> None:
    # Sanity of the checker itself: tamper with our side and it must notice.
    from conflict_ner.evaluation import crosscheck

    pairs = [(make_doc(WORDS_A, GOLD_A), make_doc(WORDS_A, PRED_A))]
    real = crosscheck.summarise

    def skewed(doc, labels=None):  # type: ignore[no-untyped-def]
        out = real(doc, labels)
        strict = out["strict"]
        out["strict"] = replace(strict, micro=replace(strict.micro, f1=strict.micro.f1 + 0.1))
        return out

    crosscheck.summarise = skewed
    try:
        result = crosscheck.cross_check(pairs)
    finally:
        crosscheck.summarise = real
    assert not result.agree
    assert any("spacy strict micro f1" in d for d in result.differences)


# -- bootstrap over articles --


def varied_docs() -> list:
    docs = [count_doc("A", GOLD_A, PRED_A)]
    docs.append(count_doc("B", [Ent(0, 1, "PLACE")], [Ent(0, 1, "PLACE")]))
    docs.append(count_doc("C", [Ent(0, 1, "PLACE"), Ent(3, 4, "FACTION")], []))
    docs.append(count_doc("D", [Ent(2, 4, "FACTION")], [Ent(2, 4, "FACTION"), Ent(5, 6, "PLACE")]))
    return docs


def test_bootstrap_is_deterministic_with_a_seed() -> None:
    docs = varied_docs()
    assert bootstrap(docs, seed=7) == bootstrap(docs, seed=7)
    assert bootstrap(docs, seed=7) != bootstrap(docs, seed=8)


def test_bootstrap_interval_contains_point_estimate() -> None:
    for scheme, interval in bootstrap_all(varied_docs(), resamples=500, seed=1).items():
        assert interval.low <= interval.f1 <= interval.high, scheme
        assert interval.high > interval.low, scheme
        # Point estimate is the micro F1 of the summed counts.
        assert interval.f1 == pytest.approx(summarise(total(varied_docs()))[scheme].micro.f1)


def test_bootstrap_width_zero_when_all_articles_identical() -> None:
    same = [count_doc(str(i), GOLD_A, PRED_A) for i in range(6)]
    interval = bootstrap(same, resamples=200, seed=3)
    assert interval.low == interval.high == pytest.approx(1 / 3)
    assert interval.half_width == 0.0
