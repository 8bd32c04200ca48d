"""The faction list and place gazetteer, compiled to a spaCy ruler."""

from __future__ import annotations

import pytest
import spacy

from conflict_ner import patterns


@pytest.fixture(scope="module")
def nlp():
    return patterns.build_pipeline()


def ents(nlp, text: str) -> list[tuple[str, str]]:
    return [(e.text, e.label_) for e in nlp(text).ents]


def test_spelling_variants_of_hasakah_are_places(nlp):
    text = "Fighting in Hassakeh spread to al-Hasakah, Hasakeh and Al-Hasaka."
    found = ents(nlp, text)
    assert ("Hassakeh", "PLACE") in found
    assert ("al-Hasakah", "PLACE") in found
    assert ("Hasakeh", "PLACE") in found
    assert ("Al-Hasaka", "PLACE") in found


def test_misspelt_faction_and_aliases(nlp):
    found = ents(nlp, "The YGP denied it. Daesh and ISIL attacked the SDF and Hizballah.")
    assert ("YGP", "FACTION") in found
    assert {("Daesh", "FACTION"), ("ISIL", "FACTION"), ("SDF", "FACTION")} <= set(found)
    assert ("Hizballah", "FACTION") in found


def test_person_name_with_place_part_is_not_tagged(nlp):
    found = ents(nlp, "Local activist Suhaib al-Hasakawi told The New Arab.")
    assert not [t for t, _ in found if "Hasak" in t]
    assert found == []


def test_is_only_in_capitals(nlp):
    assert ents(nlp, "The Islamic State group [IS] is in Syria.") == [
        ("Islamic State", "FACTION"),
        ("IS", "FACTION"),
        ("Syria", "PLACE"),
    ]
    assert ents(nlp, "Is it over? It is.") == []


def test_longest_name_wins_and_places_inside_faction_names_are_not_tagged(nlp):
    found = ents(nlp, "The Islamic State of Iraq and the Levant (ISIL) holds Kurdish People's "
                      "Protection Units positions.")
    assert found[0] == ("Islamic State of Iraq and the Levant", "FACTION")
    assert ("Kurdish People's Protection Units", "FACTION") in found
    assert ("Iraq", "PLACE") not in found


def test_adjectival_compounds_and_organisations_are_not_places(nlp):
    found = ents(nlp, "US-backed forces and pro-Damascus militias; the Syrian Observatory for "
                      "Human Rights told Al Jazeera and the US-led coalition.")
    assert found == [("US-led coalition", "FACTION")]


def test_names_inside_hyphenated_compounds_are_never_tagged(nlp):
    found = ents(nlp, "Raids on IS-held places, the anti-ISIS fight and regime-YPG talks; "
                      "towns held by the SDF.")
    assert found == [("SDF", "FACTION")]


def test_names_written_with_a_hyphen_are_not_compounds(nlp):
    found = ents(nlp, "Shelling hit al-Hasakah and Deir ez-Zor.")
    assert found == [("al-Hasakah", "PLACE"), ("Deir ez-Zor", "PLACE")]


def test_forces_of_a_country_and_sites(nlp):
    found = ents(nlp, "The Syrian army shelled the Kawkab hills near Hmeimim military airport.")
    assert found == [
        ("Syrian army", "FACTION"),
        ("Kawkab hills", "PLACE"),
        ("Hmeimim military airport", "PLACE"),
    ]


def test_geonames_gazetteer_covers_cities_countries_and_capitals(nlp):
    found = ents(nlp, "Talks in Washington and Moscow about Manbij, Mosul and Kobani in Lebanon.")
    assert {t for t, label in found if label == "PLACE"} == {
        "Washington", "Moscow", "Manbij", "Mosul", "Kobani", "Lebanon",
    }


def test_common_words_from_geonames_are_filtered(nlp):
    assert ents(nlp, "Hit the road. Side by side. Salt and Sour. Victoria said so.") == []


def test_pre_annotate_returns_character_spans():
    texts = ["YPG fighters entered Qamishli.", "Nothing here."]
    assert patterns.pre_annotate(texts) == [
        [(0, 3, "FACTION"), (21, 29, "PLACE")],
        [],
    ]


def test_patterns_have_only_scheme_labels_once_blocked_forms_are_dropped():
    labels = {p["label"] for p in patterns.build_patterns()}
    assert labels == {"FACTION", "PLACE", patterns.BLOCK}


def test_variants_cover_article_and_apostrophe_forms():
    forms = patterns.variants("al-Shaddadi")
    assert {"al-Shaddadi", "Al-Shaddadi", "al Shaddadi", "Al Shaddadi"} <= forms
    assert "People’s Protection Units" in patterns.variants("People's Protection Units")
    assert patterns.fold_accents("Al Ḩasakah") == "Al Hasakah"


def test_a_ruler_after_the_ner_only_fills_its_gaps() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler", name="stand_in_ner").add_patterns(  # type: ignore[attr-defined]
        [{"label": "FACTION", "pattern": "Manbij Military Council"}]
    )
    patterns.add_ruler(nlp, ents_filter=patterns.FILL_GAPS)
    doc = nlp("The Manbij Military Council held Manbij; YPG-held Afrin fell to the SNA.")
    # The rules know Manbij (a place) and the SNA: the NER's longer faction
    # stays, the ruler adds what nobody tagged, and nothing inside a compound.
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Manbij Military Council", "FACTION"),
        ("Manbij", "PLACE"),
        ("Afrin", "PLACE"),
        ("SNA", "FACTION"),
    ]


def test_a_ruler_after_the_ner_gives_the_ners_spans_the_rules_label() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler", name="stand_in_ner").add_patterns(  # type: ignore[attr-defined]
        [{"label": "FACTION", "pattern": "Aleppo"}, {"label": "PLACE", "pattern": "YPG"},
         {"label": "FACTION", "pattern": "Reuters"}, {"label": "PLACE", "pattern": "Van"},
         {"label": "FACTION", "pattern": "Kobani Brigade"}]
    )
    patterns.add_ruler(nlp, ents_filter=patterns.FILL_GAPS)
    doc = nlp("Aleppo and YPG, Reuters said; in Van the Kobani Brigade fought.")
    # A place used as an actor is a PLACE and a faction's name a FACTION, as the
    # lists have them; a news agency is neither, but a blocked word that names a
    # town stays where the NER saw one; a span the rules do not know keeps its label.
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Aleppo", "PLACE"),
        ("YPG", "FACTION"),
        ("Van", "PLACE"),
        ("Kobani Brigade", "FACTION"),
    ]
