"""Real documents for model selection and benchmarks: re3d's texts with our annotation.

re3d (../shared/datasets/re3d, Dstl, 2017) holds real conflict documents with a
third-party annotation in another scheme. The project keeps its own annotation
of them to LABELS.md as stand-off records (``corpus/re3d.jsonl``: a document id,
its folder, and spans with offsets, label and surface, never the text) and
joins them with the text from the data set at run time. A checkout without the
data set still works: ``available`` says whether it is there.

The documents are split by document into real-dev and real-test halves, seeded
and stratified by source folder. They are never training data.

re3d's own relations (CoLocated, FightingAgainst, IsSynonymOf) become
document-level pairs of our entities (``reference_pairs``): the reference that
benchmarks/who_fought_where.py scores `tag`'s pair tables against.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conflict_ner.files import BadRecord, Code, Finding, InvalidInput, Problem, read_records
from conflict_ner.scheme import LABELS

if TYPE_CHECKING:
    from spacy.tokens import Doc

DEFAULT_DIR = Path("../shared/datasets/re3d")
DEFAULT_ANNOTATIONS = Path("corpus/re3d.jsonl")
REAL_SPLITS = ("real_dev", "real_test")
SPLIT_SEED = 0
# re3d's entity types our labels are compared with (agreement, a sanity check only).
RE3D_TYPE_OF = {"PLACE": "Location", "FACTION": "Organisation"}
# re3d's cleaned versions drop entities under this confidence; so do we.
MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Document:
    """One re3d document: id, source folder, title and text as the data set holds them."""

    id: str
    folder: str
    title: str
    text: str


@dataclass(frozen=True)
class Annotation:
    """Our stand-off annotation of one document: spans as (start, end, label, surface)."""

    document_id: str
    folder: str
    spans: tuple[tuple[int, int, str, str], ...]


def available(root: Path = DEFAULT_DIR) -> bool:
    """Whether the re3d data set is there (a checkout without ../shared has none)."""
    return any(root.glob("*/documents.json"))


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    # re3d's files are MongoDB exports: one JSON object a line, no array.
    with path.open(encoding="utf8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_documents(root: Path = DEFAULT_DIR) -> dict[str, Document]:
    """Every document of the data set, by id."""
    documents = {}
    for path in sorted(root.glob("*/documents.json")):
        for record in _json_lines(path):
            documents[record["_id"]] = Document(
                record["_id"], path.parent.name, record.get("title") or "", record["text"]
            )
    return documents


def read_re3d_entities(root: Path = DEFAULT_DIR) -> dict[str, list[tuple[int, int, str]]]:
    """re3d's own entities (begin, end, type) per document, confidence >= MIN_CONFIDENCE."""
    entities: dict[str, list[tuple[int, int, str]]] = {}
    for path in sorted(root.glob("*/entities.json")):
        for record in _json_lines(path):
            if record.get("confidence", 1) >= MIN_CONFIDENCE:
                entities.setdefault(record["documentId"], []).append(
                    (record["begin"], record["end"], record["type"])
                )
    return entities


def _parse_span(item: Any) -> tuple[int, int, str, str]:
    if not isinstance(item, dict):
        raise BadRecord([Finding(Code.SHAPE, "a span must be an object")])
    start, end, label, surface = (item.get(k) for k in ("start", "end", "label", "surface"))
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
        raise BadRecord([Finding(Code.SPAN, f"span offsets {start!r}-{end!r} are no range")])
    if label not in LABELS:
        raise BadRecord([Finding(Code.LABEL, f"label {label!r} is not one of {', '.join(LABELS)}")])
    if not isinstance(surface, str):
        raise BadRecord([Finding(Code.SHAPE, "a span needs its 'surface' (a string)")])
    return start, end, label, surface


def _parse_annotation(record: dict[str, Any]) -> Annotation:
    document_id, folder = record.get("document_id"), record.get("folder")
    spans = record.get("spans")
    if not (isinstance(document_id, str) and isinstance(folder, str) and isinstance(spans, list)):
        raise BadRecord([Finding(Code.SHAPE, "needs 'document_id', 'folder' and a 'spans' list")])
    return Annotation(document_id, folder, tuple(_parse_span(s) for s in spans))


def read_annotations(path: Path = DEFAULT_ANNOTATIONS) -> list[Annotation]:
    """Our stand-off annotations; raises InvalidInput naming file:line for any bad record."""
    return read_records(path, _parse_annotation)


def _join(
    annotation: Annotation, line: int, path: Path, documents: dict[str, Document]
) -> tuple[Document, list[tuple[int, int, str]]]:
    """The document and its spans, after checking each surface against the text."""
    document = documents.get(annotation.document_id)
    if document is None:
        raise InvalidInput([Problem(path, line, f"no re3d document {annotation.document_id!r}")])
    problems = [
        Problem(path, line, f"span {s}-{e} reads {document.text[s:e]!r} in the text, "
                f"not {surface!r} (the data set changed?)", Code.SPAN)
        for s, e, _, surface in annotation.spans if document.text[s:e] != surface
    ]  # fmt: skip
    if problems:
        raise InvalidInput(problems)
    return document, [(s, e, label) for s, e, label, _ in annotation.spans]


def tasks(path: Path = DEFAULT_ANNOTATIONS, root: Path = DEFAULT_DIR) -> list[dict[str, Any]]:
    """Prodigy tasks of the annotated documents (text from the data set, our spans),
    with ``meta.source`` the folder and ``meta.origin`` "re3d"."""
    from conflict_ner.tasks import make_task

    documents = read_documents(root)
    result = []
    for line, annotation in enumerate(read_annotations(path), 1):
        document, spans = _join(annotation, line, path, documents)
        meta = {"article_id": document.id, "title": document.title, "source": document.folder,
                "origin": "re3d"}  # fmt: skip
        result.append(make_task(document.text, spans, meta))
    return result


def _order_key(document_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{document_id}".encode()).hexdigest()


def split(annotations: Iterable[Annotation], seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """Document ids per real split: within each folder, in a seeded order, alternately
    real-dev and real-test (whole documents; each half holds every source)."""
    by_folder: dict[str, list[str]] = {}
    for a in annotations:
        by_folder.setdefault(a.folder, []).append(a.document_id)
    halves: dict[str, list[str]] = {name: [] for name in REAL_SPLITS}
    turn = 0
    for folder in sorted(by_folder):
        for document_id in sorted(by_folder[folder], key=lambda i: _order_key(i, seed)):
            halves[REAL_SPLITS[turn % 2]].append(document_id)
            turn += 1
    return halves


def split_docs(path: Path = DEFAULT_ANNOTATIONS, root: Path = DEFAULT_DIR,
               seed: int = SPLIT_SEED) -> dict[str, list[Doc]]:  # fmt: skip
    """Docs of the real-dev and real-test halves; empty when the data set is absent."""
    if not available(root):
        return {}
    from conflict_ner.convert import task_to_doc

    halves = split(read_annotations(path), seed)
    docs = {t["meta"]["article_id"]: task_to_doc(t, str(path), strict=True)[0]
            for t in tasks(path, root)}  # fmt: skip
    return {name: [docs[i] for i in ids] for name, ids in halves.items()}


@dataclass(frozen=True)
class Agreement:
    """How our spans of one label compare with re3d's of the mapped type (exact offsets)."""

    label: str
    re3d_type: str
    ours: int
    theirs: int
    exact: int
    overlapping: int

    @property
    def share_of_ours(self) -> float:
        """Share of our spans that re3d has with the same offsets."""
        return self.exact / self.ours if self.ours else 0.0

    @property
    def share_of_theirs(self) -> float:
        """Share of re3d's named spans of the type that we kept as they are."""
        return self.exact / self.theirs if self.theirs else 0.0


def _named(text: str) -> bool:
    """Whether a re3d span names something: a capitalised word after any determiner."""
    words = [w for w in text.split() if w.lower() not in ("the", "a", "an", "its", "their")]
    return any(w[:1].isupper() for w in words)


def agreement(path: Path = DEFAULT_ANNOTATIONS, root: Path = DEFAULT_DIR) -> list[Agreement]:
    """Our labels against re3d's: PLACE against named Location, FACTION against Organisation."""
    documents, theirs_by_doc = read_documents(root), read_re3d_entities(root)
    counts = {label: [0, 0, 0, 0] for label in RE3D_TYPE_OF}
    for annotation in read_annotations(path):
        text = documents[annotation.document_id].text
        for label, kind in RE3D_TYPE_OF.items():
            ours = {(s, e) for s, e, lab, _ in annotation.spans if lab == label}
            theirs = {(s, e) for s, e, t in theirs_by_doc.get(annotation.document_id, [])
                      if t == kind and _named(text[s:e])}  # fmt: skip
            overlap = sum(1 for s, e in ours if any(s < b and a < e for a, b in theirs))
            for i, n in enumerate((len(ours), len(theirs), len(ours & theirs), overlap)):
                counts[label][i] += n
    return [Agreement(label, RE3D_TYPE_OF[label], *counts[label]) for label in RE3D_TYPE_OF]


# re3d's relation types the pair benchmark reads: who was where, who fought whom.
RELATION_KINDS = {"CoLocated": "where", "FightingAgainst": "whom"}
SYNONYM = "IsSynonymOf"


@dataclass(frozen=True)
class Relation:
    """One re3d relation: its document, type, and the offsets of its two ends."""

    document_id: str
    type: str
    source: tuple[int, int]
    target: tuple[int, int]


def read_relations(root: Path = DEFAULT_DIR) -> list[Relation]:
    """re3d's relations with confidence >= MIN_CONFIDENCE (as for its entities)."""
    relations = []
    for path in sorted(root.glob("*/relations.json")):
        for record in _json_lines(path):
            if record.get("confidence", 1) >= MIN_CONFIDENCE:
                relations.append(Relation(
                    record["documentId"], record["type"],
                    (record["sourceBegin"], record["sourceEnd"]),
                    (record["targetBegin"], record["targetEnd"]),
                ))
    return relations


@dataclass
class Reference:
    """re3d's relations as document-level pairs of our entities.

    ``pairs[kind][document]``: (faction, place) pairs for "where", sorted
    (faction, faction) pairs for "whom", in canonical names after ``resolve``.
    ``kept`` and ``dropped`` count the relations of each kind whose two ends are, or
    are not, entities of ours of the kind's labels.
    """

    pairs: dict[str, dict[str, set[tuple[str, str]]]]
    synonyms: dict[str, dict[str, str]]
    kept: dict[str, int]
    dropped: dict[str, int]

    def resolve(self, document_id: str, name: str) -> str:
        """One name for every name re3d marks as a synonym of it in the document."""
        return self.synonyms.get(document_id, {}).get(name, name)

    def pair(self, document_id: str, kind: str, a: str, b: str) -> tuple[str, str]:
        """A pair of names in the reference's form (synonyms resolved; "whom" sorted)."""
        a, b = self.resolve(document_id, a), self.resolve(document_id, b)
        return (a, b) if kind == "where" else (min(a, b), max(a, b))


Named = Callable[[str, str], str]  # (surface, label) -> canonical name


def _ends(annotation: Annotation, end: tuple[int, int],
          named: Named) -> set[tuple[str, str]]:  # fmt: skip
    """(label, canonical name) of our spans that overlap a relation's end."""
    begin, finish = end
    return {(label, named(surface, label)) for s, e, label, surface in annotation.spans
            if s < finish and begin < e}  # fmt: skip


def _synonyms(annotations: dict[str, Annotation], relations: list[Relation],
              named: Named) -> dict[str, dict[str, str]]:  # fmt: skip
    """Per document, each name re3d's IsSynonymOf links to another of the same label,
    mapped to the first of its group in sorted order (union-find over names)."""
    parent: dict[tuple[str, str], str] = {}

    def root(document: str, name: str) -> str:
        while parent.get((document, name), name) != name:
            name = parent[(document, name)]
        return name

    for relation in relations:
        annotation = annotations.get(relation.document_id)
        if relation.type != SYNONYM or annotation is None:
            continue
        for (la, a), (lb, b) in product(_ends(annotation, relation.source, named),
                                        _ends(annotation, relation.target, named)):  # fmt: skip
            if la == lb and a != b:
                ra, rb = root(relation.document_id, a), root(relation.document_id, b)
                parent[(relation.document_id, max(ra, rb))] = min(ra, rb)
    result: dict[str, dict[str, str]] = {}
    for document, name in parent:
        result.setdefault(document, {})[name] = root(document, name)
    return result


def reference_pairs(annotations: Iterable[Annotation], relations: list[Relation],
                    named: Named) -> Reference:  # fmt: skip
    """re3d's CoLocated and FightingAgainst relations mapped to our entities: each end
    to our spans overlapping it, then to canonical names (``named``), with re3d's
    synonyms resolved. A CoLocated relation counts where one end is a FACTION of ours
    and the other a PLACE; a FightingAgainst where both ends are FACTIONs (two
    different ones; the pair unordered). The rest is dropped and counted."""
    by_id = {a.document_id: a for a in annotations}
    reference = Reference({kind: {i: set() for i in by_id} for kind in ("where", "whom")},
                          _synonyms(by_id, relations, named), {"where": 0, "whom": 0},
                          {"where": 0, "whom": 0})  # fmt: skip
    for relation in relations:
        kind = RELATION_KINDS.get(relation.type)
        annotation = by_id.get(relation.document_id)
        if kind is None or annotation is None:
            continue
        ends = [_ends(annotation, end, named) for end in (relation.source, relation.target)]
        found = {reference.pair(relation.document_id, kind, a, b)
                 for one, other in (ends, ends[::-1])
                 for (la, a), (lb, b) in product(one, other)
                 if (la, lb) == ("FACTION", "PLACE" if kind == "where" else "FACTION")}
        found = {(a, b) for a, b in found if a != b}
        reference.kept[kind] += bool(found)
        reference.dropped[kind] += not found
        reference.pairs[kind][relation.document_id] |= found
    return reference
