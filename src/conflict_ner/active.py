"""Which articles to annotate next: the ones the model is least sure about.

The measure, per article, is the **expected number of entity decisions the
model gets wrong**: the NER parses the article with a beam (width 16, as
Prodigy's ner.teach does); each candidate entity (start, end, label) found in
any parse of the beam gets the probability mass of the parses holding it,
p; taking the likelier choice for it is wrong with probability min(p, 1 - p);
the article's score is the sum over its candidates. An article full of
confident names scores near 0; one with several names the model hesitates
over (is it a FACTION, where does the name end, is it a name at all) scores
high. We rank by it because those are the decisions an annotator would
correct, so each annotated article teaches the model the most it can, and
because it needs nothing but the trained NER: no second model, no gold.
It is a sum, not a mean: a long article with many unsure names also costs
more to annotate, but it carries more of what the model lacks.

The rules (the pattern ruler) are left out of the measure: they are certain
by construction, and they only fill gaps the NER leaves.

Rankings are JSONL, best first: rank, article_id, score, title, candidates
(the least certain first). `push --order` reads the article ids back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.pipeline import EntityRecognizer
from spacy.tokens import Doc

from conflict_ner.articles import article_id
from conflict_ner.files import Code, InvalidInput, Problem, read_records, write_jsonl
from conflict_ner.ruler_filters import entity_probabilities

BEAM_WIDTH = 16
BATCH = 32  # articles per beam batch: bounds memory on long pools
SHOWN = 5  # candidates kept per ranked article (the least certain)
TEXT_SHOWN = (
    80  # characters of a candidate's text in a ranking (an unsure beam proposes long spans)
)
ArticleRow = dict[str, Any]


@dataclass(frozen=True)
class Candidate:
    """An entity some parse in the beam proposes, with the probability mass behind it."""

    start: int  # characters
    end: int
    label: str
    text: str
    p: float

    @property
    def doubt(self) -> float:
        """The chance that the likelier decision about this entity is wrong."""
        return min(self.p, 1.0 - self.p)

    @property
    def shown(self) -> str:
        """The text cut to TEXT_SHOWN characters (the offsets keep the whole span)."""
        return self.text if len(self.text) <= TEXT_SHOWN else self.text[: TEXT_SHOWN - 1] + "…"


@dataclass(frozen=True)
class Ranked:
    """One article's place in a ranking."""

    rank: int
    article_id: str
    score: float
    title: str | None
    candidates: list[Candidate]

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["score"] = round(self.score, 6)
        row["candidates"] = [
            {**asdict(c), "p": round(c.p, 6), "text": c.shown} for c in self.candidates
        ]
        return row


def ner_component(nlp: Language) -> tuple[str, EntityRecognizer]:
    """The pipeline's (first) entity recognizer; ValueError if it has none."""
    for name, pipe in nlp.pipeline:
        if isinstance(pipe, EntityRecognizer):
            return name, pipe
    raise ValueError(
        f"the pipeline ({', '.join(nlp.pipe_names)}) has no NER component to rank with"
    )


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _candidates(doc: Doc, scores: dict[tuple[int, int, str], float]) -> list[Candidate]:
    """Beam scores (token offsets) as candidates in character offsets, least certain first."""
    found = [
        Candidate(doc[s:e].start_char, doc[s:e].end_char, label, doc[s:e].text, p)
        for (s, e, label), p in scores.items()
    ]
    return sorted(found, key=lambda c: (-c.doubt, c.start, c.end, c.label))


def beam_candidates(
    nlp: Language, texts: Sequence[str], beam_width: int = BEAM_WIDTH
) -> list[list[Candidate]]:
    """Every text's candidate entities with their beam probabilities."""
    name, ner = ner_component(nlp)
    before = nlp.pipe_names[: nlp.pipe_names.index(name)]  # e.g. a shared transformer
    result: list[list[Candidate]] = []
    for batch in _batches(texts, BATCH):
        with nlp.select_pipes(enable=before):
            docs = list(nlp.pipe(batch))
        for doc, scores in zip(docs, entity_probabilities(ner, docs, beam_width), strict=True):
            result.append(_candidates(doc, scores))
    return result


def article_score(candidates: Iterable[Candidate]) -> float:
    """The expected number of the article's entity decisions the model gets wrong."""
    return sum(c.doubt for c in candidates)


def rank(
    nlp: Language,
    items: Sequence[ArticleRow],
    n: int | None = None,
    beam_width: int = BEAM_WIDTH,
) -> list[Ranked]:
    """The articles (text, article_id, title) most worth annotating first, at most n."""
    candidates = beam_candidates(nlp, [item["text"] for item in items], beam_width)
    scored = sorted(
        ((article_score(c), item, c) for item, c in zip(items, candidates, strict=True)),
        key=lambda t: (-t[0], t[1]["article_id"]),  # ties: by id, so the order is stable
    )
    return [
        Ranked(i, item["article_id"], score, item.get("title"), c[:SHOWN])
        for i, (score, item, c) in enumerate(scored[:n] if n is not None else scored, start=1)
    ]


def not_annotated(items: Sequence[ArticleRow], done: set[str]) -> list[ArticleRow]:
    """The articles whose id is not among the annotated ones (first of repeated ids kept)."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if item["article_id"] in done or item["article_id"] in seen:
            continue
        seen.add(item["article_id"])
        kept.append(item)
    return kept


def write_ranking(path: Path, ranked: Sequence[Ranked]) -> None:
    """The ranking as JSONL, best first (atomically)."""
    write_jsonl(path, (r.to_json() for r in ranked))


def read_ranking(path: Path, known: set[str] | None = None) -> list[str]:
    """Article ids in ranking order from a ranking file; InvalidInput names bad lines,
    and lines whose article is not among ``known`` when it is given."""

    def parse(row: dict[str, Any]) -> str:
        value = row.get("article_id")
        if not isinstance(value, str) or not value:
            raise ValueError("needs an 'article_id' (a ranking line from `conflict-ner next`)")
        if known is not None and value not in known:
            raise ValueError(f"article {value} is not in the articles file")
        return value

    ids = read_records(path, parse)
    if not ids:
        raise InvalidInput([Problem(Path(path), 0, "the ranking holds no articles", Code.EMPTY)])
    return ids


def in_ranking_order(items: Sequence[ArticleRow], ranking: Path) -> list[ArticleRow]:
    """Only the ranked articles, in the ranking's order; every ranked id must be in items."""
    by_id = {item["article_id"]: item for item in items}
    ids = read_ranking(ranking, known=set(by_id))
    return [by_id[i] for i in dict.fromkeys(ids)]


def annotated_ids(paths: Iterable[Path]) -> set[str]:
    """Article ids of annotated files (Prodigy tasks or article records)."""
    return {article_id(row) for path in paths for row in read_records(path, _checked_text)}


def _checked_text(row: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(row.get("text"), str):
        raise ValueError("needs a 'text'")
    return row


def confirmed_in_doccano(project: str, data_dir: Path = Path(".doccano")) -> set[str]:
    """Article ids of the project's examples that some annotator has confirmed."""
    from conflict_ner.doccano.client import DoccanoAPI, resolve_connection
    from conflict_ner.doccano.pull import collect, download

    votes = collect(download(DoccanoAPI(resolve_connection(data_dir)), project), issues=[])
    return {article_id({"text": v.text, "meta": v.meta}) for v in votes if v.confirmed_by}


def next_articles(
    model: str,
    articles: Path,
    n: int,
    exclude: Sequence[Path] = (),
    project: str | None = None,
    data_dir: Path = Path(".doccano"),
) -> list[Ranked]:
    """Rank the pool's articles that are neither in ``exclude`` files nor confirmed in
    the doccano project by the model's uncertainty; the top n."""
    import spacy

    from conflict_ner.doccano.push import load_push_items

    if n < 1:
        raise ValueError(f"--n must be at least 1, not {n}")
    items = load_push_items(articles)
    done = annotated_ids(exclude) | (confirmed_in_doccano(project, data_dir) if project else set())
    return rank(spacy.load(model), not_annotated(items, done), n)
