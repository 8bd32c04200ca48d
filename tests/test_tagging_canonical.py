"""Canonical names for mentions, and the who-fought-where counts (no model needed)."""

from __future__ import annotations

import pytest

from conflict_ner.tagging.canonical import canonical, keys, normalise
from conflict_ner.tagging.cooccurrence import who_fought_where


@pytest.mark.parametrize(("surface", "name"), [
    ("ISIS", "Islamic State"),
    ("ISIL", "Islamic State"),
    ("Daesh", "Islamic State"),
    ("DAESH", "Islamic State"),
    ("Islamic State of Iraq and the Levant", "Islamic State"),
    ("YPG", "People's Protection Units"),
    ("People’s Protection Units", "People's Protection Units"),
    ("Yekîneyên Parastina Gel", "People's Protection Units"),
    ("NDF", "National Defence Forces"),
    ("National Defense Forces", "National Defence Forces"),
    ("Hizbullah", "Hezbollah"),
])
def test_factions_map_through_the_aliases(surface, name):
    found = canonical(surface, "FACTION")
    assert (found.name, found.matched, found.matched_in) == (name, True, "factions")
    assert found.geonameid is None


@pytest.mark.parametrize("surface", [
    "Hasakah", "al-Hasakah", "Al Hasakah", "Al-Ḥasakah", "Ḩasakah", "HASAKAH", "Hassakeh",
    "al-Hassakeh",
])
def test_spellings_of_hasakah_meet_with_their_geonames_facts(surface):
    found = canonical(surface, "PLACE")
    assert (found.name, found.matched, found.matched_in) == ("al-Hasakah", True, "places")
    # The hand-kept place takes its id, country and coordinates from GeoNames.
    assert found.country == "SY" and found.geonameid is not None
    assert 36 < found.latitude < 37 and 40 < found.longitude < 41


def test_places_outside_the_hand_kept_list_come_from_geonames():
    mosul = canonical("MOSUL", "PLACE")
    assert (mosul.name, mosul.matched_in, mosul.country) == ("Mosul", "geonames", "IQ")
    assert mosul.latitude is not None
    yemen = canonical("Yemen", "PLACE")
    # A country: id and ISO code, no single coordinate.
    assert (yemen.country, yemen.latitude, yemen.matched) == ("YE", None, True)


def test_unknown_names_keep_their_surface_and_are_flagged():
    for surface, label in (("Brigade of the Green Hill", "FACTION"), ("Xyzzyville", "PLACE")):
        found = canonical(surface, label)
        assert (found.name, found.matched, found.matched_in) == (surface, False, None)
        assert found.fields()["canonical"] == surface


def test_labels_keep_their_own_tables():
    # "Aleppo" is a place; as a FACTION it names no faction on our list.
    assert not canonical("Aleppo", "FACTION").matched
    assert canonical("Aleppo", "PLACE").matched


def test_normalisation_folds_accents_case_punctuation_and_doubled_letters():
    assert normalise("Al-Ḥasakah") == normalise("al hasakah") == "al hasakah"
    assert normalise("U.S.") == "us"
    assert normalise("Hassakeh") == normalise("Hasakeh")
    assert normalise("Kurdistan Workers’ Party") == normalise("Kurdistan Workers' Party")
    assert keys("the Islamic State") == ["the islamic state", "islamic state"]


def _row(article, date, sentence, label, name):
    # Offsets and sentence text for the pairing rule: the name alone as its sentence.
    return {"article_id": article, "date": date, "sentence_index": sentence, "label": label,
            "canonical": name, "matched": True, "geonameid": None, "country": None,
            "latitude": None, "longitude": None, "start": 0, "end": len(name),
            "sentence": name, "sentence_start": 0}


def test_pairs_count_shared_sentences_articles_dates_and_evidence():
    a = [_row("a", "2016-08-20", 0, "FACTION", "YPG"), _row("a", "2016-08-20", 0, "PLACE", "H"),
         _row("a", "2016-08-20", 1, "FACTION", "YPG"), _row("a", "2016-08-20", 1, "PLACE", "H"),
         _row("a", "2016-08-20", 2, "FACTION", "NDF")]  # NDF shares no sentence with a place
    b = [_row("b", "2016-08-22", 4, "PLACE", "H"), _row("b", "2016-08-22", 4, "FACTION", "YPG"),
         _row("b", "2016-08-22", 4, "FACTION", "YPG")]  # one sentence, named twice
    c = [_row("c", None, 0, "FACTION", "YPG"), _row("c", None, 0, "PLACE", "H")]
    d = [_row("d", "2016-09-01", 0, "FACTION", "NDF"), _row("d", "2016-09-01", 3, "PLACE", "H")]
    table = who_fought_where([a, b, c, d])
    ypg, ndf = table.rows()
    assert (ypg["faction"], ypg["place"], ypg["sentences"], ypg["articles"]) == ("YPG", "H", 4, 3)
    assert ypg["articles_together"] == 3
    assert (ypg["first_date"], ypg["last_date"]) == ("2016-08-20", "2016-08-22")
    assert ypg["evidence"] == "a b c"  # the article with the most shared sentences first
    # Named in the same articles (a and d) but never in one sentence: kept, with no sentence.
    assert (ndf["faction"], ndf["sentences"], ndf["articles"], ndf["articles_together"]) == (
        "NDF", 0, 0, 2)
    assert (ndf["first_date"], ndf["last_date"], ndf["evidence"]) == (
        "2016-08-20", "2016-09-01", "a d")
    assert table.names["FACTION"].top(5) == [("YPG", 5, 3), ("NDF", 2, 2)]


def _faction(text: str, start: int, sentence: str, matched: bool = False) -> dict:
    return {"label": "FACTION", "text": text, "start": start, "end": start + len(text),
            "sentence": sentence, "sentence_start": 0, "sentence_index": 0,
            "canonical": text, "matched": matched, "matched_in": None, "geonameid": None,
            "country": None, "latitude": None, "longitude": None}


def test_an_acronym_the_article_introduces_names_the_same_faction() -> None:
    from conflict_ner.tagging.canonical import resolve_acronyms

    first = "The Rapid Intervention Battalion (BIR) repelled an attack."
    later = "BIR units then pushed north."
    rows = [_faction("Rapid Intervention Battalion", 4, first), _faction("BIR", 34, first),
            {**_faction("BIR", 0, later), "sentence_index": 1}]
    resolved = resolve_acronyms(rows)
    assert [r["canonical"] for r in resolved] == ["Rapid Intervention Battalion"] * 3
    assert [r["text"] for r in resolved] == ["Rapid Intervention Battalion", "BIR", "BIR"]


def test_two_factions_side_by_side_stay_two() -> None:
    from conflict_ner.tagging.canonical import resolve_acronyms

    fought = "The Wagner Group fought JNIM near Boulkessi."
    known = "Islamic State (ISIS) fighters"
    rows = [_faction("Wagner Group", 4, fought), _faction("JNIM", 23, fought)]
    assert [r["canonical"] for r in resolve_acronyms(rows)] == ["Wagner Group", "JNIM"]
    # A listed acronym keeps its own canonical name (the list already joins the two).
    listed = [_faction("Islamic State", 0, known), _faction("ISIS", 15, known, matched=True)]
    assert [r["canonical"] for r in resolve_acronyms(listed)] == ["Islamic State", "ISIS"]
