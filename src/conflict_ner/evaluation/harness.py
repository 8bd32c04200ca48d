"""The harness: score a model, its ablations and baselines on gold articles; gate regressions."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from spacy.tokens import Doc

from conflict_ner.articles import meta_of
from conflict_ner.convert import doc_article_id
from conflict_ner.evaluation.crosscheck import cross_check, ents_of
from conflict_ner.evaluation.error_analysis import KINDS, ErrorRow, error_rows, token_confusion
from conflict_ner.evaluation.novelty import Known, novelty_rows, train_surfaces
from conflict_ner.evaluation.results import (
    ArticleRow,
    Confusion,
    ErrorSummary,
    GroupScore,
    Headline,
    Metrics,
    SystemResult,
)
from conflict_ner.evaluation.scoring import (
    DocCounts,
    SchemeScores,
    count_doc,
    summarise,
    total,
)
from conflict_ner.evaluation.systems import (
    MODEL,
    RULES_ALONE,
    Skipped,
    System,
    Systems,
    ablations,
    load_gold,
    predict,
)
from conflict_ner.evaluation.uncertainty import Interval, bootstrap, bootstrap_all
from conflict_ner.files import refuse_output_folder_in_inputs, safe_file_name
from conflict_ner.scheme import LABELS

NO_VALUE = "(none)"  # the group of articles whose meta lacks the --by field


@dataclass
class Scored:
    """One system's predictions and scores on the gold articles."""

    system: System
    ids: list[str]
    pairs: list[tuple[Doc, Doc]]  # (gold, predicted), gold tokenization
    docs: list[DocCounts]
    summary: dict[str, SchemeScores]
    intervals: dict[str, Interval]

    def result(self, known: Known) -> SystemResult:
        """The typed result, with seen/unseen rows against what the model could know."""
        rows = novelty_rows(self.pairs, known, score_labels(self.pairs))
        return SystemResult(self.system.name, self.system.role, self.system.note,
                            self.summary, self.intervals, rows)


def score_labels(pairs: Sequence[tuple[Doc, Doc]]) -> list[str]:
    """The scheme's labels, then any other label gold or predictions use (so none hides)."""
    seen = {e.label_ for g, p in pairs for e in (*g.ents, *p.ents)}
    return [*LABELS, *sorted(seen - set(LABELS))]


def score_system(
    system: System, gold: Sequence[Doc], resamples: int = 1000, seed: int = 0
) -> Scored:
    """Predict with a system on every gold article and score it (all schemes, bootstrap)."""
    ids = [doc_article_id(doc) for doc in gold]
    pairs = list(zip(gold, predict(system, gold), strict=True))
    docs = [count_doc(i, ents_of(g), ents_of(p)) for i, (g, p) in zip(ids, pairs, strict=True)]
    summary = summarise(total(docs), labels=score_labels(pairs))
    return Scored(system, ids, pairs, docs, summary, bootstrap_all(docs, resamples, seed=seed))


def known_to(rules_alone: Scored | None, gold: Sequence[Doc], train: Sequence[Doc]) -> Known:
    """What the model could know: the spans its rules mark (none without rules), training names."""
    ruled = ([frozenset(ents_of(p)) for _, p in rules_alone.pairs] if rules_alone is not None
             else [frozenset() for _ in gold])
    return Known(ruled, train_surfaces(train))


def article_rows(scored: Scored) -> list[ArticleRow]:
    """Per-article micro scores, with the title when the gold Doc carries meta."""
    rows = []
    for doc_id, (gold, _), counts in zip(scored.ids, scored.pairs, scored.docs, strict=True):
        title = meta_of(gold.user_data).get("title") or gold.text.split("\n", 1)[0][:80]
        micro = {scheme: s.micro for scheme, s in summarise(counts, labels=[]).items()}
        page = f"articles/{safe_file_name(doc_id)}.html"
        rows.append(ArticleRow(doc_id, str(title), page, micro))
    return rows


def group_scores(
    scored: Scored, fields: Sequence[str], resamples: int = 1000, seed: int = 0
) -> list[GroupScore]:
    """Strict scores per value of each meta field, with article counts and intervals."""
    out = []
    for name in fields:
        by_value: dict[str, list[DocCounts]] = defaultdict(list)
        for (gold, _), counts in zip(scored.pairs, scored.docs, strict=True):
            value = meta_of(gold.user_data).get(name)
            by_value[str(value) if value not in (None, "") else NO_VALUE].append(counts)
        for value, docs in sorted(by_value.items()):
            strict = summarise(total(docs), labels=[])["strict"].micro
            interval = bootstrap(docs, "strict", resamples, seed=seed)
            out.append(GroupScore(name, value, len(docs), strict, interval))
    return out


def all_errors(scored: Scored) -> list[ErrorRow]:
    """Every strict error of a system, article by article."""
    return [
        row
        for doc_id, (gold, pred) in zip(scored.ids, scored.pairs, strict=True)
        for row in error_rows(doc_id, gold, pred)
    ]


def error_summary(scored: Scored) -> ErrorSummary:
    """How many strict errors of each kind, and every one."""
    errors = all_errors(scored)
    kinds = Counter(r.kind for r in errors)
    return ErrorSummary({kind: kinds[kind] for kind in KINDS}, errors)


@dataclass
class Run:
    """Everything scored in one evaluation, before it becomes metrics."""

    model: Scored
    ablations: list[Scored]
    baselines: list[Scored]
    known: Known


def run(
    systems: Systems, gold: Sequence[Doc], train: Sequence[Doc], resamples: int = 1000,
    seed: int = 0,
) -> Run:
    """Score the model, its ablations and every baseline on the same articles."""
    def score(system: System) -> Scored:
        return score_system(system, gold, resamples, seed)

    model = score(systems.model)
    cut = [score(a) for a in systems.ablations]
    rules = next((a for a in cut if a.system.role == RULES_ALONE), None)
    return Run(model, cut, [score(b) for b in systems.baselines], known_to(rules, gold, train))


def build_metrics(
    scored: Run, systems: Systems, sources: dict[str, str | None], by: Sequence[str] = (),
    resamples: int = 1000, seed: int = 0,
) -> Metrics:
    """The metrics: everything the report shows, typed."""
    model, known = scored.model, scored.known
    result = model.result(known)
    ablated = [a.result(known) for a in scored.ablations]
    rules = next((a for a in ablated if a.role == RULES_ALONE), None)
    names, matrix = token_confusion(model.pairs, LABELS)
    return Metrics(
        model=str(sources["model"]), data=str(sources["data"]), train=sources.get("train"),
        articles=len(model.ids), labels=list(LABELS), headline=Headline.of(result, rules),
        overall=model.summary, bootstrap=model.intervals, novelty=result.novelty,
        ablations=ablated, baselines=[b.result(known) for b in scored.baselines],
        skipped=systems.skipped, groups=group_scores(model, by, resamples, seed),
        crosscheck=cross_check(model.pairs), per_article=article_rows(model),
        errors=error_summary(model),
        confusion=Confusion(names, matrix.tolist(), "confusion.png"),
    )


# -- regression gate ----------------------------------------------------------


def load_metrics(path: Path) -> Metrics:
    """A metrics.json written by an earlier evaluation."""
    return Metrics.read(path)


def gate(
    metrics: Metrics, min_f1: float | None = None, baseline: Metrics | None = None
) -> list[str]:
    """Why the model fails the regression gate (an empty list when it passes).

    Against ``min_f1`` the strict micro F1 itself must reach it; against a
    baseline report the model may fall short of the baseline's strict micro F1
    by at most this run's bootstrap half-width (differences inside the noise
    margin are not called regressions).
    """
    f1 = metrics.strict.f1
    failures = []
    if min_f1 is not None and f1 < min_f1:
        failures.append(f"strict micro F1 {f1:.4f} is below --min-f1 {min_f1:.4f}")
    if baseline is not None:
        base = baseline.strict.f1
        margin = metrics.bootstrap["strict"].half_width
        if f1 < base - margin:
            failures.append(
                f"strict micro F1 {f1:.4f} is below the baseline's {base:.4f} by "
                f"{base - f1:.4f}, more than the bootstrap half-width {margin:.4f}"
            )
    return failures


# -- one call for the CLI -----------------------------------------------------


def build_systems(
    model: str | Path,
    train: Path | None = None,
    baseline_models: Sequence[str] = (),
    label_map: dict[str, str] | None = None,
    patterns: bool = True,
) -> Systems:
    """The model, its ablations and the baselines asked for; those that cannot run are skipped."""
    from conflict_ner.evaluation.systems import (
        load_pipeline,
        memorisation_system,
        named_system,
        pattern_system,
        trained_on,
    )

    nlp = load_pipeline(model)
    train = train if train is not None else trained_on(nlp)
    systems = Systems(System(str(model), nlp, role=MODEL), train=train)
    for ablation in ablations(systems.model):
        if isinstance(ablation, System):
            systems.ablations.append(ablation)
        else:
            systems.skipped.append(ablation)
    candidates = [pattern_system()] if patterns else []
    candidates.append(memorisation_system(train) if train is not None else
                      Skipped("memorisation", "no training data: give --train"))
    candidates += [named_system(name, label_map or {}) for name in baseline_models]
    for candidate in candidates:
        if isinstance(candidate, System):
            systems.baselines.append(candidate)
        else:
            systems.skipped.append(candidate)
    return systems


def evaluate(
    model: str | Path,
    data: Path,
    out: Path,
    train: Path | None = None,
    baseline_models: Sequence[str] = (),
    label_map: dict[str, str] | None = None,
    patterns: bool = True,
    by: Sequence[str] = (),
    resamples: int = 1000,
    seed: int = 0,
) -> Metrics:
    """Score a model, its ablations and baselines on DATA and write the full report under OUT.

    TRAIN (default: the training data the model's config names, when that file
    exists) decides which names count as seen in training.
    """
    from conflict_ner.evaluation.report import REPORT_NAMES, write_report

    inputs = [Path(p) for p in (model, data, train) if p is not None and Path(p).exists()]
    refuse_output_folder_in_inputs(Path(out), REPORT_NAMES, inputs)
    gold = load_gold(data)
    if not gold:
        raise ValueError(f"{data} holds no gold articles")
    if train is not None and not Path(train).exists():
        raise ValueError(f"training data {train} does not exist")
    systems = build_systems(model, train, baseline_models, label_map, patterns)
    train = systems.train
    scored = run(systems, gold, load_gold(train) if train else [], resamples, seed)
    sources = {"model": str(model), "data": str(data), "train": str(train) if train else None}
    metrics = build_metrics(scored, systems, sources, by, resamples, seed)
    write_report(out, metrics, scored.model.pairs)
    return metrics
