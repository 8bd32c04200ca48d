"""Which rule matches become entities: the filters a trained pipeline's ruler calls.

A match inside a hyphenated compound or of a blocked form never becomes an
entity; before the NER the longest match wins, after it a match only fills a gap.

It also holds the pipeline components the trained model ships: the boundary
step, the confidence step and the news tokenizer. This module imports spaCy
(and numpy, which spaCy brings) only, never the rest of conflict_ner:
`conflict-ner package` ships it inside the model wheel (spaCy's --code), so
the installed model needs no toolkit.
"""

# No "from __future__ import annotations": spaCy validates a factory's arguments
# against their real annotations, which must not be strings.

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy
from spacy.attrs import IS_SPACE, SENT_START
from spacy.language import Language, create_tokenizer
from spacy.pipeline import EntityRecognizer
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc, Span, Token
from spacy.util import compile_infix_regex, filter_spans, minibatch, registry

BLOCK = "_BLOCK"  # label of surface forms that must stay untagged; never output
BOUNDARIES = "boundaries"  # the boundary step's name in our pipelines


HYPHENS = ("-", "–")
# "al-Hasakah" is a name written with a hyphen, not a compound: a rule that
# knows only "Hasakah" still marks it there, as before the compound rule.
ARABIC_ARTICLES = ("al", "el", "as", "ad", "ar", "ash", "at", "az", "an")


def _hyphen_between(doc: Doc, left: int) -> bool:
    """Whether tokens ``left`` and ``left + 2`` form one word joined by a hyphen."""
    if left < 0 or left + 2 >= len(doc) or doc[left + 1].text not in HYPHENS:
        return False
    word, hyphen, other = doc[left], doc[left + 1], doc[left + 2]
    glued = not word.whitespace_ and not hyphen.whitespace_
    return glued and word.text[-1:].isalnum() and other.text[:1].isalnum()


def in_hyphenated_compound(span: Span) -> bool:
    """A name that is only part of a hyphenated word: "IS-held", "anti-ISIS",
    "regime-YPG", "US-backed", "pro-Damascus" (LABELS.md: never tagged)."""
    doc = span.doc
    left = span.start - 2
    before = _hyphen_between(doc, left) and doc[left].lower_ not in ARABIC_ARTICLES
    return before or _hyphen_between(doc, span.end - 1)


def keep_rule_span(span: Span) -> bool:
    """Whether a matched span becomes an entity (not a blocked form, not inside a compound)."""
    return span.label_ != BLOCK and not in_hyphenated_compound(span)


@registry.misc("conflict_ner.ruler_ents_filter.v1")
def make_ents_filter() -> Callable[[Iterable[Span], Iterable[Span]], list[Span]]:
    """A SpanRuler ents_filter: longest match wins, blocked forms and adjectival places dropped,
    existing entities (e.g. from an earlier component) kept where nothing new overlaps them."""

    def ents_filter(entities: Iterable[Span], spans: Iterable[Span]) -> list[Span]:
        chosen = filter_spans(list(spans))
        taken = {i for s in chosen for i in range(s.start, s.end)}
        kept = [s for s in chosen if keep_rule_span(s)]
        old = [e for e in entities if not taken.intersection(range(e.start, e.end))]
        return sorted(kept + old, key=lambda s: s.start)

    return ents_filter


def _as_the_rules_name_it(entity: Span, labels: dict[tuple[int, int], set[str]]) -> Span | None:
    """The NER's entity with the label the rules give that very span, when they give it
    one: a place list's name used as an actor stays a PLACE ("Saudi Arabia's
    leadership"), a faction list's name used alone stays a FACTION ("the ISF and
    Peshmerga"), as LABELS.md has them; a FACTION that is a blocked form (a news
    agency, an NGO, a people) is none. None when it is dropped."""
    found = labels.get((entity.start, entity.end), set())
    if found == {BLOCK}:
        return None if entity.label_ == "FACTION" else entity
    if len(found) == 1 and found != {entity.label_}:
        return Span(entity.doc, entity.start, entity.end, label=found.pop())
    return entity


@registry.misc("conflict_ner.ruler_fill_gaps.v1")
def make_gap_filter() -> Callable[[Iterable[Span], Iterable[Span]], list[Span]]:
    """A SpanRuler ents_filter for a ruler after the NER: the NER's entities stay
    where they are, with the label the rules give the same span if they give one,
    and a rule match (longest first, blocked forms and compounds dropped) is added
    only where it overlaps none of them.

    The rules' label on the NER's own spans, on the demo model of f751095: real-dev
    strict F1 0.891 -> 0.899 (precision 0.896 -> 0.904), composed dev 0.891 ->
    0.895; docs/generalisation.md."""

    def ents_filter(entities: Iterable[Span], spans: Iterable[Span]) -> list[Span]:
        matches = list(spans)
        labels: dict[tuple[int, int], set[str]] = {}
        for match in matches:
            labels.setdefault((match.start, match.end), set()).add(match.label_)
        relabelled = (_as_the_rules_name_it(e, labels) for e in entities)
        existing = [e for e in relabelled if e is not None]
        taken = {i for e in existing for i in range(e.start, e.end)}
        new = [
            s
            for s in filter_spans(matches)
            if keep_rule_span(s) and not taken.intersection(range(s.start, s.end))
        ]
        return sorted(existing + new, key=lambda s: s.start)

    return ents_filter



# -- the contract's boundaries on every predicted span --------------------------

# Heads of administrative units that LABELS.md leaves out of a PLACE ("Ghwairan
# district" -> "Ghwairan", "Rakhine State" -> "Rakhine"). "City", "Region",
# "Strip" and "Bank" stay: "Gaza City", "Kurdistan Region", "West Bank" are names.
ADMIN_HEADS = frozenset({
    "province", "district", "governorate", "state", "county", "township", "municipality",
    "oblast", "prefecture", "department", "subdistrict", "sub-district", "region", "city",
    "area", "town", "village", "sector", "neighbourhood", "neighborhood", "raion", "tehsil",
    "Province", "District", "Governorate", "State", "County", "Township", "Municipality",
    "Oblast", "Prefecture", "Department", "Subdistrict", "Raion", "Tehsil",
})  # fmt: skip
POSSESSIVES = frozenset({"'s", "’s", "'", "’"})
OPENING, CLOSING = "([{“‘\"", ")]}”’\""
DASHES = frozenset({"—", "–", "--"})
DETERMINERS = frozenset({"the", "The", "THE"})
SENTENCE_END = (".", "!", "?", '"', "”", "'", "’", ")", "]")


def _is_word(token: Token) -> bool:
    return any(c.isalnum() for c in token.text)


def _starts_name(token: Token) -> bool:
    """Whether a token can begin a name: capitalised, a digit, or an Arabic article."""
    return token.text[:1].isupper() or token.text[:1].isdigit() or token.lower_ in ARABIC_ARTICLES


def _compound_end(doc: Doc, start: int, end: int) -> int:
    """The token after the hyphenated word that begins at ``start`` (``start`` if none)."""
    i = start
    while i + 2 < end and _hyphen_between(doc, i):
        i += 2
    return i + 1 if i > start else start


def _compound_start(doc: Doc, last: int) -> int:
    """The first token of the hyphenated word whose last token is ``last``."""
    i = last
    while i - 2 >= 0 and _hyphen_between(doc, i - 2):
        i -= 2
    return i


def _modifier(token: Token) -> bool:
    """A word that never begins a name of ours: a determiner, punctuation, or a
    lowercase word other than an Arabic article ("rebel", "is", "jihadist")."""
    lowercase = token.text[:1].islower() and token.lower_ not in ARABIC_ARTICLES
    return token.text in DETERMINERS or not _is_word(token) or lowercase


def _trim_left(span: Span) -> int:
    """Where the name starts once determiners, lowercase modifiers ("rebel", "is") and
    a modifying compound ("US-backed", "pro-regime") are left out. Unchanged when what
    would remain does not begin like a name ("US-led coalition" is the whole name)."""
    doc, start, end = span.doc, span.start, span.end
    while start < end:
        token, after = doc[start], _compound_end(doc, start, end)
        if after > start and doc[after - 1].text[:1].islower() and not _modifier(token):
            nxt = after  # a hyphenated modifier that begins like a name: US-backed, IS-held
        elif _modifier(token):
            nxt = after if after > start else start + 1  # pro-regime, rebel, the
        else:
            break
        if nxt >= end or not _starts_name(doc[nxt]):
            break
        start = nxt
    return start


def _cut_at_unbalanced(span: Span, start: int) -> int:
    """The end of the name before a closing bracket it never opened or a dash inside
    it ("ABC) Brigade" -> "ABC", "M23—which" -> "M23"); a bracketed part it opens and
    closes stays ("National Defence [Foreces]")."""
    doc, depth = span.doc, 0
    for i in range(start, span.end):
        text = doc[i].text
        if i > start and text in DASHES:
            return i
        if text in OPENING and text not in CLOSING:
            depth += 1
        elif text in CLOSING and text not in OPENING:
            if depth == 0:
                return i
            depth -= 1
    return span.end


def _trailing_head(span: Span, token: Token) -> bool:
    """A head LABELS.md leaves out: "group" after a FACTION, an admin unit after a PLACE."""
    if span.label_ == "FACTION":
        return token.lower_ == "group"
    return span.label_ == "PLACE" and token.text in ADMIN_HEADS


def _trim_right(span: Span, start: int, end: int) -> int:
    """Where the name ends once possessives, punctuation, trailing function words
    ("X in"), a modifying compound ("SDF-held") and a trailing head are out."""
    doc = span.doc
    while end > start + 1:
        token = doc[end - 1]
        if token.text in CLOSING and _opened_within(doc, start, end - 1, token.text):
            break  # "National Defence [Foreces]": the bracket closes a part of the name
        if token.text[:1].islower() and _hyphen_between(doc, end - 3):
            end = _compound_start(doc, end - 1)
        elif (token.text in POSSESSIVES or not _is_word(token) or (token.is_stop and token.is_lower)
              or _trailing_head(span, token)):
            end -= 1
        else:
            break
    return end


def _opened_within(doc: Doc, start: int, end: int, closing: str) -> bool:
    """Whether tokens start..end-1 open the bracket that ``closing`` closes."""
    opening = OPENING[CLOSING.index(closing)]
    return opening != closing and any(doc[i].text == opening for i in range(start, end))


def _cut_excerpt(doc: Doc, end: int) -> bool:
    """Whether a name ending at token ``end`` is the cut last word of an excerpt
    ("... the militia had withdr"): the text stops there without a sentence end."""
    return end == len(doc) and not doc.text.rstrip().endswith(SENTENCE_END)


def contract_span(span: Span) -> Span | None:
    """The span as LABELS.md bounds it, or None when nothing of it may be tagged."""
    if in_hyphenated_compound(span):
        return None
    start = _trim_left(span)
    end = _cut_at_unbalanced(span, start)
    end = _trim_right(span, start, end)
    if end <= start or not _is_word(span.doc[start]) or _cut_excerpt(span.doc, end):
        return None
    return Span(span.doc, start, end, label=span.label_)


# -- who is not an armed actor or a place: people and generic force phrases --------

# Titles and ranks that come before a person's name ("Col. John Davis", "Foreign
# Minister Al-Jubeir", "Special Advisor Thames"): LABELS.md never tags a person,
# and real reports name officials and commanders in every paragraph.
TITLES = frozenset({
    "adm", "admiral", "adviser", "advisor", "ambassador", "amb", "ayatollah", "brig",
    "brigadier", "capt", "captain", "chairman", "chancellor", "cmdr", "col", "colonel",
    "commissioner", "cpl", "corporal", "dr", "emir", "envoy", "gen", "general", "gov",
    "governor", "imam", "king", "lieutenant", "lt", "maj", "major", "mayor", "minister",
    "mr", "mrs", "ms", "mullah", "officer", "premier", "president", "prince", "pvt",
    "queen", "rep",
    "secretary", "sen", "senator", "sergeant", "sgt", "sheikh", "shaykh", "sir",
    "spc", "spokesman", "spokesperson", "spokeswoman", "sultan",
})  # fmt: skip
# Lowercase words that end a generic description of a force ("Iraqi security forces",
# "ISIL tactical unit", "... terrorists"): LABELS.md leaves them out of a FACTION,
# and a demonym they leave behind ("Iraqi") is not one either. "army", "navy",
# "armed forces", "air force" and "coalition" are service heads and stay.
GENERIC_FORCE_WORDS = frozenset({
    "artillery", "battalions", "brigades", "commanders", "fighters", "forces", "gunmen",
    "intelligence", "militants", "militia", "militiamen", "militias", "officers",
    "operatives", "personnel", "police", "rebels", "security", "soldiers", "special",
    "tactical", "terrorists", "troops", "unit", "units",
})  # fmt: skip
DEMONYM_ENDINGS = ("ian", "ese", "ish", "i")
# Titles written short with a full stop ("Capt. Davis"); after a full word the
# stop ends a sentence ("... the chief minister. A TMVP spokesman said"), which
# dropped 2 FACTION spans of the composed gold as a person's name. With this and
# a title's apposition ("the Defence Secretary, Michael Fallon,", 15 untagged in
# the composed gold, none tagged), on the demo model of 4af588e: real-dev 0.903
# -> 0.904 (precision 0.904 -> 0.906), composed dev 0.897 both.
ABBREVIATED_TITLES = frozenset({
    "adm", "amb", "brig", "capt", "cmdr", "col", "cpl", "dr", "gen", "gov", "lt", "maj",
    "mr", "mrs", "ms", "pvt", "rep", "sen", "sgt", "spc",
})  # fmt: skip
# Lowercase particles inside Arabic and other names ("Haider al-Abadi", "Osama bin
# Laden"): a run of name words after a title goes on over them, so the surname
# alone is known later ("Carter thanked Abadi"). With the invisible marks that
# web copy leaves on a title ("Minister\u200e"), on the demo model of 4af588e:
# real-dev 0.905 -> 0.906 (precision 0.908 -> 0.910), composed dev 0.897 both;
# no composed gold span dropped.
NAME_PARTICLES = frozenset({"al", "el", "bin", "ibn", "bint", "abu", "ad", "ar", "as", "ash",
                            "at", "az", "ud", "ul", "de", "del", "da", "van", "von"})
SPACED_PARTICLES = frozenset({"al", "el", "bin", "ibn", "bint"})
INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\ufeff"
# A title written with one of these after a hyphen is still a title ("the Prime
# Minister-designate, Haider al-Abadi,").
TITLE_SUFFIXES = frozenset({"designate", "elect"})
# Nouns of an apposition that says who a person is ("Knox Thames, the Special
# Advisor", "Abu X, an ISIL leader"), beside the titles.
PERSON_ROLES = TITLES | frozenset({
    "chief", "commander", "deputy", "founder", "leader", "member", "official",
})  # fmt: skip
# What follows the role noun of such an apposition; a verb there ("In Baku, a
# government adviser put it") means the comma ended a clause instead.
ROLE_FOLLOWERS = frozenset({",", ".", ";", ")", "of", "to", "for", "in", "at", "who"})
# A place stands after these far more often than a person does ("In Yemen, an
# officer told ...").
LOCATIVES = frozenset({"in", "near", "at", "from", "of", "into", "outside", "around", "across"})
# A civil body of a state is not an armed actor (LABELS.md: governments, agencies,
# delegations), unless the name says it is a security service ("Counter Terrorism
# Department", "Department of State Services"). Nor is an agency's office,
# committee, programme or fund, an institute, foundation or university, or an aid
# NGO (Red Cross, Red Crescent): in the composed corpus none of these words is in
# a FACTION span, and 83 phrases they end stand untagged in its reports. Not
# here, for they also name armed actors there or elsewhere: Council (military
# councils), Organisation (Badr Organisation), Party (Turkistan Islamic Party),
# Agency, Service, Mission (peacekeeping forces), Network (Haqqani Network).
CIVIL_BODIES = frozenset({
    "Commission", "Committee", "Crescent", "Cross", "Department", "Embassy", "Foundation",
    "Fund", "Institute", "Ministry", "Office", "Program", "Programme", "Treasury",
    "University",
})  # fmt: skip
# A place is not tagged where it names, or begins the name of, such a body ("the U.S.
# Embassy", "Damascus University"; LABELS.md: organisations named after a place): no
# PLACE in the composed gold ends with or stands before one of these words, and 98
# such phrases stand untagged in its reports. Cross and Crescent name places too
# (Fertile Crescent).
PLACE_BODY_HEADS = CIVIL_BODIES - {"Cross", "Crescent"}
# Nor where it stands inside a longer name that one of these heads ends ("Sinjar
# Agreement", "International Syria Support Group") or that such a head begins with
# "of" or "for" ("Communist Party of the Philippines", "Assistance Mission for
# Iraq"): LABELS.md tags neither organisations named after a place nor the places
# inside a faction's name. In the composed gold 2 PLACE spans of 8,718 stand so.
# Military heads (Command, Corps, Division, Fleet, Guard(s), Marines, Navy,
# Regiment, Squadron; "U.S. Central Command") drop no composed gold PLACE: on the
# demo model of 4af588e real-dev 0.904 -> 0.905 (precision 0.906 -> 0.908),
# composed dev 0.897 both. "Police" and "Force" would drop one each.
# "Government" is left out: the annotations disagree on "the UK Government" and
# "the Kurdistan Regional Government", where the contract reads both ways (a place
# used for its government; an organisation named after a place). With it, real-dev
# 0.900, without it 0.903 (composed dev 0.898, 0.897).
NAME_HEADS = PLACE_BODY_HEADS | frozenset({
    "Accord", "Agency", "Agreement", "Alliance", "Army", "Authority", "Battalion",
    "Brigade", "Brigades", "Coalition", "Command", "Company", "Corporation", "Corps",
    "Council", "Division", "Fleet", "Forces", "Front", "Fund", "Group", "Guard", "Guards",
    "Marines", "Mission", "Movement", "Navy", "Network", "Organisation", "Organization",
    "Party", "Regiment", "Service", "Squadron", "Union",
})  # fmt: skip
# Weapons named by their kind are not actors or places, however often a report
# capitalises them ("a VBIED struck the checkpoint").
WEAPON_WORDS = frozenset({
    "ied", "ieds", "manpads", "rpg", "rpgs", "svbied", "svbieds", "uav", "uavs", "vbied",
    "vbieds",
})  # fmt: skip
# A FACTION whose head says it is a kin group, or any span right before such a head
# (LABELS.md: tribes and clans are not armed actors; no span of the composed gold
# stands before one, 16 such names stand untagged).
KIN_HEADS = frozenset({"clan", "clans", "tribe", "tribes"})
# Heads of names that honour a person ("Prince Sultan Air Base", "Sultan Murad
# Division"): a title at the start of such a name does not make it a person.
NAMED_HEADS = frozenset({
    "Airport", "Army", "Base", "Battalion", "Brigade", "Brigades", "Bridge", "Camp",
    "Corps", "Dam", "Division", "Front", "Hospital", "Mosque", "Movement", "Palace",
    "Regiment", "Road", "Square", "Street", "University",
})  # fmt: skip
SECURITY_WORDS = frozenset({
    "Army", "Defence", "Forces", "Guard", "Intelligence", "Police", "Security", "Services",
    "Terrorism",
})  # fmt: skip


def _is_title(token: Token) -> bool:
    # Web copy leaves invisible direction marks on words ("Minister\u200e").
    return token.lower_.strip(INVISIBLE).rstrip(".") in TITLES


def _name_particle_at(doc: Doc, i: int) -> bool:
    """Whether token i is a lowercase particle inside a person's name ("al" or the
    hyphen of "Haider al-Abadi"), with the name going on after it."""
    nxt = doc[i + 1] if i + 1 < len(doc) else None
    if nxt is None or nxt.is_space:
        return False
    if doc[i].lower_ in NAME_PARTICLES:
        # "at", "as", "de"... are English words too: only before a hyphen.
        return nxt.text == "-" or (doc[i].lower_ in SPACED_PARTICLES and nxt.text[:1].isupper())
    return doc[i].text == "-" and doc[i - 1].lower_ in NAME_PARTICLES and nxt.text[:1].isupper()


def _title_ends_at(doc: Doc, i: int) -> bool:
    """Whether a title ends at token i ("Secretary", "Minister-designate"), not a
    title-like word at the end of a hyphenated name (Port-au-Prince)."""
    if i >= 2 and doc[i].lower_ in TITLE_SUFFIXES and doc[i - 1].text == "-":
        i -= 2
    return i >= 0 and _is_title(doc[i]) and not (i > 0 and doc[i - 1].text == "-")


def _apposition_after_title(doc: Doc, comma: int) -> Span | None:
    """The name between commas after a title ("the Defence Secretary, Michael
    Fallon, said"), or None when the comma at ``comma`` does not open one."""
    if doc[comma].text != "," or not _title_ends_at(doc, comma - 1):
        return None
    for end in range(comma + 2, min(len(doc), comma + 7)):
        if doc[end].is_space:
            return None
        if doc[end].text == ",":
            name = doc[comma + 1 : end]
            return name if name[0].text[:1].isupper() else None
    return None


def _title_before(span: Span) -> bool:
    """Whether a title or rank stands right before the span ("Capt. Davis"). A name
    between commas after a title is one of ``titled_names``."""
    doc, i = span.doc, span.start - 1
    if i > 0 and doc[i].text == "." and doc[i - 1].lower_ in ABBREVIATED_TITLES:
        i -= 1
    return i >= 0 and _is_title(doc[i]) and "\n" not in doc[i : span.start].text


def _apposition_names_person(span: Span) -> bool:
    """Whether an apposition after the span says it is a person: ", the Special
    Advisor", ", an ISIL gang leader" (a role noun within five words of the comma)."""
    doc, i = span.doc, span.end
    after_locative = span.start > 0 and doc[span.start - 1].lower_ in LOCATIVES
    if i >= len(doc) or doc[i].text != "," or after_locative:
        return False
    window = doc[i + 1 : min(len(doc), i + 8)]
    if not len(window) or window[0].lower_ not in ("the", "a", "an"):
        return False
    for k, token in enumerate(window[1:-1], 1):
        if token.text in (",", ".", ";", "(") or token.is_space or token.text in POSSESSIVES:
            return False
        if token.lower_.rstrip(".") in PERSON_ROLES:
            return window[k + 1].lower_ in ROLE_FOLLOWERS
    return False


def _civil_body(span: Span) -> bool:
    """A FACTION that names a civil body (a ministry, an agency's office, an aid NGO), not
    a security service."""
    words = {t.text for t in span}
    return bool(words & CIVIL_BODIES) and not words & SECURITY_WORDS


def _names_a_body(span: Span) -> bool:
    """A PLACE that is, or stands inside, an organisation's name: "Damascus
    University", the "U.S." of "U.S. Department of State", "Sinjar Agreement",
    "Communist Party of the Philippines"."""
    doc = span.doc
    if span[-1].text in PLACE_BODY_HEADS:
        return True
    for token in doc[span.end : span.end + 3]:  # up to two name words, then the head
        if token.text in NAME_HEADS:
            return True
        if not (token.is_alpha and token.text[:1].isupper()) or token.text in DETERMINERS:
            break
    i = span.start - 1 - (span.start > 0 and doc[span.start - 1].lower_ == "the")
    return i >= 1 and doc[i].lower_ in ("of", "for") and doc[i - 1].text in NAME_HEADS


def titled_names(doc: Doc) -> frozenset[str]:
    """Every name a title introduces in the document, whole and by its last word
    ("Navy Capt. Jeff Davis" gives "Jeff Davis" and "Davis"), so that the person
    is not tagged when named again without the title."""
    names: set[str] = set()
    for token in doc:
        if not _is_title(token):
            continue
        dotted = token.lower_ in ABBREVIATED_TITLES and token.i + 1 < len(doc) \
            and doc[token.i + 1].text == "."
        i = token.i + 1 + dotted
        start = i
        words: list[str] = []
        while i < len(doc) and len(words) < 5 and not doc[i].is_space:
            text = doc[i].text
            if text[:1].isupper() or text in ("“", "”", '"') or _name_particle_at(doc, i):
                words.append(text)
                i += 1
            else:
                break
        words = [w for w in words if w[:1].isupper() and not w.endswith(".")]
        if words and not _is_title(doc[i - 1]):
            names.update({" ".join(words), words[-1], doc[start:i].text.strip("“”\"")})
    for token in doc:
        name = _apposition_after_title(doc, token.i) if token.i else None
        if name is not None:
            names.update({name.text, name[-1].text})
    return frozenset(names)


def _generic_force(span: Span) -> bool:
    """A FACTION that is a description, not a name: no capitalised word, or a demonym
    before generic force words ("Iraqi security forces", "Jordanian intelligence
    officers")."""
    words = [t for t in span if _is_word(t)]
    if not any(_starts_name(t) for t in words):
        return True
    tail = [t for t in words[1:] if t.text.islower()]
    return (
        len(tail) == len(words) - 1 >= 1
        and all(t.lower_ in GENERIC_FORCE_WORDS for t in tail)
        and words[0].text.endswith(DEMONYM_ENDINGS)
        and not words[0].text.isupper()
    )


def _generic_tail_start(span: Span) -> int:
    """Where a trailing run of generic force words begins in a FACTION ("ISIL tactical
    unit" -> at "tactical"); the span's end when there is none."""
    end = span.end
    while end > span.start + 1 and span.doc[end - 1].lower_ in GENERIC_FORCE_WORDS \
            and span.doc[end - 1].text.islower():
        end -= 1
    return end


def not_a_name(span: Span, people: frozenset[str]) -> bool:
    """Whether LABELS.md keeps the span untagged whatever its bounds: a person (after
    a title, or a name a title introduced elsewhere), a lone letter, a weapon, a
    span with no capital in it; a FACTION that is a clan, a civil body or a name
    before "regime" (the Assad regime names a government by its leader); a PLACE
    that names, or stands inside, an organisation's name."""
    doc = span.doc
    after = doc[span.end] if span.end < len(doc) else None
    if _title_before(span) or span.text in people or _apposition_names_person(span):
        return True
    words = [t for t in span if _is_word(t)]
    if all(_is_title(t) for t in words):
        return True  # a rank alone ("Spc.")
    if _is_title(words[0]) and len(words) > 1 and not {t.text for t in words} & NAMED_HEADS:
        return True  # a titled person inside the span ("King Nebuchadnezzar II")
    if not any(c.isupper() for c in span.text) or len(span.text.strip(".")) == 1:
        return True  # no name in it ("the go"), or a lone letter ("Z")
    if all(t.lower_ in WEAPON_WORDS for t in words):
        return True
    if after is not None and after.text in KIN_HEADS:
        return True  # a kin group's name ("the Al-Karabla clan"), whatever the label
    if span.label_ != "FACTION":
        return span.label_ == "PLACE" and _names_a_body(span)
    kin_group = words[-1].lower_ in KIN_HEADS
    return kin_group or _civil_body(span) or (after is not None and after.lower_ == "regime")


def contract_entities(doc: Doc) -> list[Span]:
    """The document's entities as LABELS.md allows them: people and generic phrases
    out, each remaining span within the contract's bounds."""
    people = titled_names(doc)
    kept = []
    for ent in doc.ents:
        if ent.label_ == "FACTION":
            if _generic_force(ent):
                continue
            ent = Span(doc, ent.start, _generic_tail_start(ent), label=ent.label_)
        span = contract_span(ent)
        if span is not None and not not_a_name(span, people):
            kept.append(span)
    return kept


@Language.factory("conflict_ner_boundaries")
def make_boundaries(nlp: Language, name: str) -> Callable[[Doc], Doc]:
    """A pipeline component that puts every entity within LABELS.md's boundaries:
    no name inside a hyphenated compound, no determiner, lowercase modifier or
    modifying compound before it, nothing after a bracket it never opened or a
    dash, no possessive, punctuation or trailing function word, no trailing
    "group" on a FACTION, no administrative head on a PLACE, no cut last word; and
    it drops what the contract never tags: people (after a title, named again, or
    described by an apposition), generic force phrases, a state's civil bodies.

    On real-dev (re3d, 44 documents; one model, 300 steps) strict F1 0.832 without
    this step, 0.832 with the boundary rules alone, 0.860 with the rules on people
    and descriptions added (precision 0.779 -> 0.825, recall 0.893 -> 0.899); on
    the composed dev theatres 0.886 -> 0.893 -> 0.895. Lone letters, weapons, spans
    with no capital, titled names and clans out, on the demo's model: real-dev
    0.857 -> 0.865 (precision 0.820 -> 0.836), composed dev 0.890 -> 0.893. Places
    that name or begin a civil body's name out, on the demo model of f751095:
    real-dev 0.886 -> 0.891 (precision 0.885 -> 0.896), composed dev 0.891 both. A
    span before a kin head out, on the demo model of 6333edd: real-dev 0.902 -> 0.903,
    composed dev 0.893 -> 0.894; places inside longer organisations' names out:
    real-dev 0.903 both, composed dev 0.894 -> 0.897. docs/generalisation.md."""

    def boundaries(doc: Doc) -> Doc:
        # Assigning doc.ents resets every token outside the kept spans to O.
        doc.ents = contract_entities(doc)
        return doc

    return boundaries


# -- the NER's confidence in its own spans -------------------------------------

CONFIDENCE = "ner_confidence"  # the confidence step's name in our pipelines
EntityKey = tuple[int, int, str]  # token start, token end, label


def entity_probabilities(
    ner: EntityRecognizer, docs: Sequence[Doc], beam_width: int
) -> list[dict[EntityKey, float]]:
    """Per doc, every entity some parse in a beam of ``beam_width`` proposes, with the
    probability mass of the parses that hold it (at most 1). The docs need what the
    NER reads (a shared transformer's output); their entities are kept as they were."""
    docs = list(docs)
    saved = [doc.ents for doc in docs]
    for doc in docs:
        # The NER keeps entities already set as fixed: beam over a tagged doc, and
        # every parse holds them (probability 1). Unset, the beam decides them anew.
        doc.set_ents([], default="missing")
    try:
        beams = ner.beam_parse(docs, beam_width=beam_width)
        found = [{key: min(p, 1.0) for key, p in s.items()} for s in ner.scored_ents(beams)]
    finally:
        for doc, ents in zip(docs, saved, strict=True):
            doc.ents = ents
    return found


def _path_features(doc: Doc, offset: int) -> tuple[numpy.ndarray, numpy.ndarray, list[str]]:
    """For each token of a doc, the tokens the NER's state looked at when it acted there
    (the token, and the open entity's first token and the token before, else -1; as
    spaCy's NER state does for three features), whether an entity was open there, and
    the BILUO action the doc's entities took."""
    n = len(doc)
    ids = numpy.full((n, 3), -1, dtype="i")
    ids[:, 0] = numpy.arange(n) + offset
    actions = ["O"] * n
    for ent in doc.ents:
        if len(ent) == 1:
            actions[ent.start] = f"U-{ent.label_}"
            continue
        actions[ent.start] = f"B-{ent.label_}"
        actions[ent.start + 1 : ent.end - 1] = [f"I-{ent.label_}"] * (len(ent) - 2)
        actions[ent.end - 1] = f"L-{ent.label_}"
        ids[ent.start + 1 : ent.end, 1] = ent.start + offset
        ids[ent.start + 1 : ent.end, 2] = numpy.arange(ent.start, ent.end - 1) + offset
    return ids, ids[:, 1] >= 0, actions


def _valid_actions(doc: Doc, is_open: numpy.ndarray, actions: list[str],
                   names: list[str]) -> numpy.ndarray:  # fmt: skip
    """Which of the NER's actions it could take at each token on the doc's path: spaCy's
    rules for entities (not across a sentence start, none begun on whitespace, an open
    entity only continues or ends under its own label), for a NER with no preset entities."""
    n = len(doc)
    arrays = doc.to_array([SENT_START, IS_SPACE]).reshape(n, 2)
    space = arrays[:, 1].astype(bool)
    last = numpy.arange(n) == n - 1
    may_go_on = ~last & ~numpy.append(arrays[1:, 0] == 1, False)  # the next token no sent start
    open_label = numpy.array([a[2:] if a[0] in "IL" else "" for a in actions])
    valid = numpy.zeros((n, len(names)), dtype=bool)
    for i, name in enumerate(names):
        move, _, label = name.partition("-")
        if name == "O":
            valid[:, i] = ~is_open
        elif not label:
            continue  # the blocked action: only for preset entities
        elif move == "B":
            valid[:, i] = ~is_open & ~space & may_go_on
        elif move == "U":
            valid[:, i] = ~is_open & ~space
        elif move == "I":
            valid[:, i] = is_open & (open_label == label) & may_go_on
        elif move == "L":
            valid[:, i] = is_open & (open_label == label)
    return valid


def path_probabilities(ner: EntityRecognizer, docs: Sequence[Doc]) -> list[numpy.ndarray]:
    """Per doc, per token, the probability the NER gave the action that the doc's
    entities took there, among the actions valid at that point (a softmax of its
    scores). For docs whose entities are the NER's own greedy parse, this is that
    parse's own confidence in each step, read without parsing again."""
    docs = list(docs)
    if not docs or not sum(len(doc) for doc in docs):
        return [numpy.ones(len(doc), dtype="f") for doc in docs]
    names = [ner.moves.get_class_name(i) for i in range(ner.moves.n_moves)]
    column = {name: i for i, name in enumerate(names)}
    features: list[numpy.ndarray] = []
    valids: list[numpy.ndarray] = []
    taken: list[int] = []
    offset = 0
    for doc in docs:
        ids, is_open, actions = _path_features(doc, offset)
        unknown = sorted({a for a in actions if a not in column})
        if unknown:
            raise ValueError(f"entities the NER has no action for: {unknown}")
        features.append(ids)
        valids.append(_valid_actions(doc, is_open, actions, names))
        taken.extend(column[a] for a in actions)
        offset += len(doc)
    step = ner.model.predict(docs)  # the NER's features of every token, computed once
    try:
        hidden = step.state2vec.predict(numpy.concatenate(features))
        scores = numpy.array(
            step.vec2scores.predict(hidden) if step.attrs["has_upper"] else hidden
        )
        scores[:, step._class_mask == 0] = numpy.nanmin(scores)  # as spaCy's step does
    finally:
        step.clear_memory()
    scores = numpy.where(numpy.concatenate(valids), scores, -numpy.inf)
    scores -= scores.max(axis=1, keepdims=True)
    chosen = numpy.exp(scores[numpy.arange(len(taken)), numpy.array(taken)])
    chosen /= numpy.exp(scores).sum(axis=1)
    return numpy.split(chosen, numpy.cumsum([len(doc) for doc in docs])[:-1])


def greedy_entity_probabilities(
    ner: EntityRecognizer, docs: Sequence[Doc]
) -> list[dict[EntityKey, float]]:
    """Per doc, each of its entities with the product of the probabilities of the NER's
    actions that made it (its path_probabilities over the entity's tokens). The docs'
    entities must be the NER's own output, as right after it in a pipeline."""
    return [
        {(e.start, e.end, e.label_): float(numpy.prod(p[e.start : e.end])) for e in doc.ents}
        for doc, p in zip(docs, path_probabilities(ner, docs), strict=True)
    ]


def ner_confidences(
    ner: EntityRecognizer, docs: Sequence[Doc], beam_width: int
) -> list[dict[EntityKey, float]]:
    """What the confidence step reads: per doc, each entity's probability, from a beam of
    ``beam_width`` parses, or with a width of 1 from the greedy parse's own actions (no
    second parse; the docs' entities must then be the NER's own)."""
    if beam_width == 1:
        return greedy_entity_probabilities(ner, docs)
    return entity_probabilities(ner, docs, beam_width)


def confident_entities(
    doc: Doc, probabilities: dict[EntityKey, float], thresholds: dict[str, float]
) -> list[Span]:
    """The doc's entities whose probability reaches their label's threshold (a label
    without one keeps all its entities)."""
    def p(ent: Span) -> float:
        return probabilities.get((ent.start, ent.end, ent.label_), 0.0)

    return [ent for ent in doc.ents if p(ent) >= thresholds.get(ent.label_, 0.0)]


class NerConfidence:
    """Drops the NER's entities that it finds unlikely (by its beam, or with a width of 1
    by its greedy parse's own action probabilities); put right after the NER, before the
    ruler, so that a dropped span the ruler knows comes back as the ruler's."""

    def __init__(self, nlp: Language, ner: str, thresholds: dict[str, float], beam_width: int):
        self.nlp, self.ner, self.beam_width = nlp, ner, beam_width
        self.thresholds = {label: t for label, t in thresholds.items() if t > 0}

    def __call__(self, doc: Doc) -> Doc:
        self._filter([doc])
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 32) -> Iterator[Doc]:
        """The docs filtered in batches (one beam parse per batch)."""
        for batch in minibatch(docs, size=batch_size):
            self._filter(batch)
            yield from batch

    def _filter(self, docs: Sequence[Doc]) -> None:
        if not self.thresholds or not docs:
            return  # no threshold: no beam parse, no cost
        ner = self.nlp.get_pipe(self.ner)
        if not isinstance(ner, EntityRecognizer):
            raise ValueError(f"{self.ner!r} is not an entity recognizer")
        for doc, found in zip(docs, ner_confidences(ner, docs, self.beam_width), strict=True):
            # Assigning doc.ents resets the tokens of dropped spans to O: a gap to fill.
            doc.ents = confident_entities(doc, found, self.thresholds)


@Language.factory(
    "conflict_ner_confidence",
    # The default is the setting measured on real-dev (docs/generalisation.md).
    default_config={"ner": "ner", "thresholds": {"FACTION": 0.8, "PLACE": 0.7}, "beam_width": 1},
)
def make_confidence(
    nlp: Language, name: str, ner: str, thresholds: dict[str, float], beam_width: int
) -> NerConfidence:
    """A pipeline component that keeps an entity of the NER component ``ner`` only when
    the NER's probability for it reaches its label's threshold; 0 keeps every entity of
    that label and, for all labels, skips the step. With ``beam_width`` 1 the
    probability is the greedy parse's own (the product of its actions' probabilities,
    no second parse); wider, the mass of the beam parses holding the entity.

    Chosen on real-dev (re3d, 44 documents) and the composed dev theatres, one demo
    model: width 1 at 0.7 scores 0.887 and 0.891, width 8 at 0.95 0.885 and 0.885,
    no step 0.872 and 0.889; width 8 cost 11% of the transformer's time, width 1 next
    to nothing. FACTION at 0.8 (PLACE 0.7), on a later model: real-dev 0.902 against
    0.897, composed dev 0.893 against 0.892. docs/generalisation.md."""
    return NerConfidence(nlp, ner, thresholds, beam_width)


# -- the tokenizer ----------------------------------------------------------------

# Splits English's tokenizer misses in real news, each leaving a name glued to
# punctuation so that no span can hold it alone: a closing bracket before a dash
# ("(SDF)—an", "BEIRUT (Reuters)-The" gave "SDF)—an" and "Reuters)-The") and a
# citation marker after a word ("in Iraq.[3]" gave "Iraq.[3").
NEWS_INFIXES = (
    r"(?<=\w)[)\]](?=[—–-])",
    r"(?<=[)\]])[—–-](?=\w)",
    r"(?<=\w)[.,;:](?=\[\d)",
    r"(?<=[\w.,;:])\[(?=\d{1,3}\])",
)


@registry.tokenizers("conflict_ner.news_tokenizer.v1")
def make_news_tokenizer() -> Callable[[Language], Tokenizer]:
    """spaCy's tokenizer for the language, with the infixes of NEWS_INFIXES added."""

    def create(nlp: Language) -> Tokenizer:
        tokenizer: Tokenizer = create_tokenizer()(nlp)
        infixes = [*(nlp.Defaults.infixes or ()), *NEWS_INFIXES]
        tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
        return tokenizer

    return create
