"""The boundary step: every predicted span within LABELS.md's boundaries."""

from __future__ import annotations

import re

import pytest
import spacy
from spacy.tokens import Doc, Span

from conflict_ner.packaging import custom_code_references
from conflict_ner.ruler_filters import BOUNDARIES, contract_entities, contract_span

NLP = spacy.blank("en")

CASES = [
    ("The US-backed Syrian Democratic Forces took it.", "US-backed Syrian Democratic Forces",
     "FACTION", "Syrian Democratic Forces"),
    ("We saw the Islamic State group there.", "the Islamic State group", "FACTION",
     "Islamic State"),
    ("Fighting in Ghwairan district went on.", "Ghwairan district", "PLACE", "Ghwairan"),
    ("In Rakhine State, troops.", "Rakhine State", "PLACE", "Rakhine"),
    ("near al-Hasakah city.", "al-Hasakah city", "PLACE", "al-Hasakah"),
    ("the Deir ez-Zor province.", "Deir ez-Zor province", "PLACE", "Deir ez-Zor"),
    ("rebel Free Syrian Army units.", "rebel Free Syrian Army", "FACTION", "Free Syrian Army"),
    ("pro-regime National Defence Forces said.", "pro-regime National Defence Forces",
     "FACTION", "National Defence Forces"),
    ("the ABC) Brigade said.", "ABC) Brigade", "FACTION", "ABC"),
    ("the M23—which holds Goma.", "M23—which", "FACTION", "M23"),
    ("Hezbollah’s fighters.", "Hezbollah’s", "FACTION", "Hezbollah"),
    ("Hezbollah's fighters.", "Hezbollah's", "FACTION", "Hezbollah"),
    ("attacked Raqqa in May.", "Raqqa in", "PLACE", "Raqqa"),
    ("sources (SDF) said.", "(SDF)", "FACTION", "SDF"),
    # Names the contract keeps whole.
    ("Gaza City was hit.", "Gaza City", "PLACE", "Gaza City"),
    ("the US-led coalition struck.", "US-led coalition", "FACTION", "US-led coalition"),
    ("the National Defence [Foreces] militias.", "National Defence [Foreces]", "FACTION",
     "National Defence [Foreces]"),
    ("the Kawkab hills.", "Kawkab hills", "PLACE", "Kawkab hills"),
    ("the Syrian army said.", "Syrian army", "FACTION", "Syrian army"),
    ("al Nusra Front fighters.", "al Nusra Front", "FACTION", "al Nusra Front"),
    ("along the Abyad-Hasakeh road.", "Abyad-Hasakeh road", "PLACE", "Abyad-Hasakeh road"),
    # Nothing of these may be tagged.
    ("SDF-held areas.", "SDF-held", "FACTION", None),
    ("SDF-held areas.", "SDF", "FACTION", None),
    ("the anti-ISIS fight.", "ISIS", "FACTION", None),
    ("the militia had withdr", "withdr", "FACTION", None),
]  # fmt: skip


def span_of(text: str, part: str, label: str) -> Span:
    doc = NLP(text)
    start = text.index(part)
    span = doc.char_span(start, start + len(part), label=label, alignment_mode="expand")
    assert span is not None
    return span


@pytest.mark.parametrize(("text", "predicted", "label", "expected"), CASES)
def test_contract_span(text: str, predicted: str, label: str, expected: str | None) -> None:
    result = contract_span(span_of(text, predicted, label))
    assert (result.text if result is not None else None) == expected
    if result is not None:
        assert result.label_ == label


def test_component_sets_every_entity_and_resets_the_rest() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("conflict_ner_boundaries", name=BOUNDARIES)
    doc: Doc = nlp.make_doc("The US-backed SDF took Raqqa city, SDF-held since.")
    doc.ents = [Span(doc, 0, 5, "FACTION"), Span(doc, 6, 8, "PLACE"), Span(doc, 9, 10, "FACTION")]
    doc = nlp(doc)
    assert [(e.text, e.label_) for e in doc.ents] == [("SDF", "FACTION"), ("Raqqa", "PLACE")]
    # Tokens trimmed off an entity are outside every entity now, not left half-tagged.
    assert [t.ent_iob_ for t in doc[:4]] == ["O", "O", "O", "O"]


def test_the_boundary_step_ships_in_the_wheel() -> None:
    config = {"components": {BOUNDARIES: {"factory": "conflict_ner_boundaries"}}}
    assert custom_code_references(config) == {
        "conflict_ner_boundaries": "conflict_ner.ruler_filters"}


@pytest.mark.parametrize(("text", "tokens"), [
    ("(SDF)—an", ["(", "SDF", ")", "—", "an"]),
    ("BEIRUT (Reuters)-The", ["BEIRUT", "(", "Reuters", ")", "-", "The"]),
    ("into Iraq.[3] The", ["into", "Iraq", ".", "[3", "]", "The"]),
    ("Zagros mountains,[1] and", ["Zagros", "mountains", ",", "[1", "]", "and"]),
    # What English's tokenizer did already stays as it was.
    ("Deir ez-Zor", ["Deir", "ez", "-", "Zor"]),
    ("“Hezbollah’s”", ["“", "Hezbollah", "’s", "”"]),
    ("the YPG—the Kurds", ["the", "YPG", "—", "the", "Kurds"]),
])  # fmt: skip
def test_news_tokenizer_frees_names_glued_to_brackets_and_citations(
    text: str, tokens: list[str]
) -> None:
    from conflict_ner.tasks import make_tokens

    assert [t["text"] for t in make_tokens(text)] == tokens


def test_the_training_configs_name_the_news_tokenizer(root) -> None:  # type: ignore[no-untyped-def]
    from spacy.util import load_config

    for name in ("ner_trf.cfg", "ner_cnn.cfg"):
        config = load_config(root / "configs" / name)
        assert config["nlp"]["tokenizer"] == {"@tokenizers": "conflict_ner.news_tokenizer.v1"}
        assert BOUNDARIES in config["nlp"]["pipeline"]


# Predicted entities (surface, label) and what the contract keeps of them.
ENTITY_CASES = [
    # A person after a title, and the same person named again by surname alone.
    ("Navy Capt. Jeff Davis said. Davis added that Raqqa fell.",
     [("Jeff Davis", "FACTION"), ("Davis", "PLACE"), ("Raqqa", "PLACE")],
     [("Raqqa", "PLACE")]),
    # An apposition that says who a person is.
    ("Knox Thames, the Special Advisor for religious minorities, spoke.",
     [("Knox Thames", "FACTION")], []),
    ("Abu Ghadiya, an ISIL leader in Mosul, died.",
     [("Abu Ghadiya", "FACTION"), ("ISIL", "FACTION"), ("Mosul", "PLACE")],
     [("ISIL", "FACTION"), ("Mosul", "PLACE")]),
    # A title, then the person between commas, then the surname again.
    ("urged the Prime Minister-designate, Haider al-Abadi, to act. Abadi met Kerry in Baghdad.",
     [("Haider al-Abadi", "PLACE"), ("Abadi", "PLACE"), ("Baghdad", "PLACE")],
     [("Baghdad", "PLACE")]),
    # A title with an invisible direction mark from web copy, a name with "al-".
    ("met Prime Minister\u200e Haider al-Abadi in Baghdad. Carter thanked Abadi.",
     [("Haider al-Abadi", "PLACE"), ("Baghdad", "PLACE"), ("Abadi", "PLACE")],
     [("Baghdad", "PLACE")]),
    # ... but "at" is no name particle where English has it.
    ("the liaison officer at Lukavica said.", [("Lukavica", "PLACE")], [("Lukavica", "PLACE")]),
    # ... nor a title-like word that ends a hyphenated name, nor a full stop
    # after a full word (it ends a sentence).
    ("in Port-au-Prince, Haiti, police said.", [("Port-au-Prince", "PLACE"), ("Haiti", "PLACE")],
     [("Port-au-Prince", "PLACE"), ("Haiti", "PLACE")]),
    ("met the chief minister. A TMVP spokesman said the TMVP, which",
     [("TMVP", "FACTION"), ("TMVP", "FACTION")], [("TMVP", "FACTION"), ("TMVP", "FACTION")]),
    # A rank alone.
    ("Spc. said so.", [("Spc.", "FACTION")], []),
    # Generic force phrases: no name in them, or a demonym before generic words.
    ("Iraqi security forces entered Tikrit.",
     [("Iraqi security forces", "FACTION"), ("Tikrit", "PLACE")], [("Tikrit", "PLACE")]),
    ("the task force moved.", [("task force", "FACTION")], []),
    ("an ISIL tactical unit fired.", [("ISIL tactical unit", "FACTION")], [("ISIL", "FACTION")]),
    # Civil bodies of a state, and a government named by its leader.
    ("the Ministry of Foreign Affairs said.", [("Ministry of Foreign Affairs", "FACTION")], []),
    ("the U.S. Embassy in Baghdad.", [("U.S. Embassy", "FACTION"), ("Baghdad", "PLACE")],
     [("Baghdad", "PLACE")]),
    ("the Assad regime shelled Homs.", [("Assad", "FACTION"), ("Homs", "PLACE")],
     [("Homs", "PLACE")]),
    # Agencies' bodies, institutions and aid NGOs are no armed actors either.
    ("the UN Office for the Coordination of Humanitarian Affairs said.",
     [("UN Office for the Coordination of Humanitarian Affairs", "FACTION")], []),
    ("the World Food Programme delivered aid.", [("World Food Programme", "FACTION")], []),
    ("the Red Cross and the Syrian Arab Red Crescent.",
     [("Red Cross", "FACTION"), ("Syrian Arab Red Crescent", "FACTION")], []),
    ("the Damascus University campus.", [("Damascus University", "FACTION")], []),
    ("the International Committee said.", [("International Committee", "FACTION")], []),
    # A place that names, or begins the name of, a civil body (LABELS.md: organisations
    # named after a place are no PLACE).
    ("The U.S. Department of State said.", [("U.S.", "PLACE")], []),
    ("the United States Treasury Department.", [("United States", "PLACE")], []),
    ("affiliated with Damascus University.", [("Damascus University", "PLACE")], []),
    ("the U.S. Embassy in Baghdad.", [("U.S.", "PLACE"), ("Baghdad", "PLACE")],
     [("Baghdad", "PLACE")]),
    ("the Sinjar Agreement was signed.", [("Sinjar", "PLACE")], []),
    ("the International Syria Support Group met.", [("Syria", "PLACE")], []),
    ("exercises of U.S. Central Command in Jordan.",
     [("U.S.", "PLACE"), ("Jordan", "PLACE")], [("Jordan", "PLACE")]),
    ("the Communist Party of the Philippines said.", [("Philippines", "PLACE")], []),
    ("the UN Assistance Mission for Iraq.", [("Iraq", "PLACE")], []),
    # What the rules must leave alone: a place before a comma that ends a clause or
    # names the place's own official, fighters named by their faction, a security
    # service that is a department, a service head.
    ("In Baku, a government adviser put it plainly.", [("Baku", "PLACE")], [("Baku", "PLACE")]),
    ("Patikul, the town's mayor said.", [("Patikul", "PLACE")], [("Patikul", "PLACE")]),
    ("Houthi fighters took Marib.", [("Houthi", "FACTION"), ("Marib", "PLACE")],
     [("Houthi", "FACTION"), ("Marib", "PLACE")]),
    ("the Counter Terrorism Department arrested him.",
     [("Counter Terrorism Department", "FACTION")],
     [("Counter Terrorism Department", "FACTION")]),
    # Heads the civil-body rule leaves alone: they name armed actors too.
    ("the Syriac Military Council fought.", [("Syriac Military Council", "FACTION")],
     [("Syriac Military Council", "FACTION")]),
    ("the Badr Organisation and the Haqqani Network.",
     [("Badr Organisation", "FACTION"), ("Haqqani Network", "FACTION")],
     [("Badr Organisation", "FACTION"), ("Haqqani Network", "FACTION")]),
    ("the Israel Security Agency said.", [("Israel Security Agency", "FACTION")],
     [("Israel Security Agency", "FACTION")]),
    ("the Intelligence Office of the army.", [("Intelligence Office", "FACTION")],
     [("Intelligence Office", "FACTION")]),
    ("across the Fertile Crescent.", [("Fertile Crescent", "PLACE")],
     [("Fertile Crescent", "PLACE")]),
    ("the U.S. and its allies.", [("U.S.", "PLACE")], [("U.S.", "PLACE")]),
    ("Iraq's Ministry of Defence said.", [("Iraq", "PLACE")], [("Iraq", "PLACE")]),
    ("Ciudad Juárez Became The Front Line", [("Ciudad Juárez", "PLACE")],
     [("Ciudad Juárez", "PLACE")]),
    ("Wagner forces in Mali and the Kurdistan Region.",
     [("Mali", "PLACE"), ("Kurdistan Region", "PLACE")],
     [("Mali", "PLACE"), ("Kurdistan Region", "PLACE")]),
    ("the Soviet Union fell.", [("Soviet Union", "PLACE")], [("Soviet Union", "PLACE")]),
    ("the Government of Iraq said.", [("Iraq", "PLACE")], [("Iraq", "PLACE")]),
    ("the UK Government airdropped aid.", [("UK", "PLACE")], [("UK", "PLACE")]),
    ("the Iraqi army advanced.", [("Iraqi army", "FACTION")], [("Iraqi army", "FACTION")]),
    ("the Syrian Democratic Forces said.", [("Syrian Democratic Forces", "FACTION")],
     [("Syrian Democratic Forces", "FACTION")]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "predicted", "expected"), ENTITY_CASES)
def test_contract_entities_leave_out_people_and_descriptions(
    text: str, predicted: list[tuple[str, str]], expected: list[tuple[str, str]]
) -> None:
    doc = NLP(text)
    spans: list[Span] = []
    for part, label in predicted:
        spans.append(next_free_span(doc, part, label, spans))
    doc.ents = spans
    assert [(e.text, e.label_) for e in contract_entities(doc)] == expected


def next_free_span(doc: Doc, part: str, label: str, taken: list[Span]) -> Span:
    """The first occurrence of `part` that no taken span covers (a surname recurs)."""
    for match in re.finditer(rf"\b{re.escape(part)}", doc.text):
        span = doc.char_span(match.start(), match.end(), label=label)
        if span is not None and not any(s.start < span.end and span.start < s.end for s in taken):
            return span
    raise AssertionError(f"no free {part!r} in {doc.text!r}")


@pytest.mark.parametrize(("text", "part", "label", "kept"), [
    ("a VBIED struck the checkpoint.", "VBIED", "FACTION", False),
    ("King Nebuchadnezzar II built it.", "King Nebuchadnezzar II", "PLACE", False),
    ("the Al-Karabla clan fought.", "Al-Karabla clan", "FACTION", False),
    ("the Al-Karabla clan fought.", "Al-Karabla", "FACTION", False),
    ("the Dulaim tribe rose.", "Dulaim", "PLACE", False),
    ("in the go zone.", "go", "PLACE", False),
    ("sector Z fell.", "Z", "PLACE", False),
    ("the Sultan Murad Division advanced.", "Sultan Murad Division", "FACTION", True),
    ("at Prince Sultan Air Base.", "Prince Sultan Air Base", "PLACE", True),
    ("IS fighters fled.", "IS", "FACTION", True),
])  # fmt: skip
def test_spans_that_are_no_name_are_dropped(text: str, part: str, label: str, kept: bool) -> None:
    doc = NLP(text)
    doc.ents = [next_free_span(doc, part, label, [])]
    assert bool(contract_entities(doc)) is kept
