"""Who fought where, measured: the pair tables against re3d's human relations.

    python benchmarks/who_fought_where.py [MODEL_DIR] [--re3d ../shared/datasets/re3d]

The reference is re3d's CoLocated relations between a FACTION and a PLACE of ours
(who was where) and its FightingAgainst relations between two FACTIONs (who
fought whom), each end mapped to our annotated spans (corpus/re3d.jsonl) that
overlap it, in canonical names, with re3d's IsSynonymOf resolved
(``re3d.reference_pairs``). Scores are at the document level: the set of pairs
per document, micro precision and recall over the documents of a split.

The pairs come from the same code as `tag`'s tables (``tagging.pairs.article_pairs``)
over two sets of mentions: the gold entities (our spans, in sentences cut as `tag`
cuts them) and the model's (a real `tag` run over the documents, written to a
temporary folder; no re3d text is kept). Gold against model tells the loss from
NER apart from the loss from pairing. Each candidate rule (``pairs.candidate_rules``)
is scored on real-dev with the gold entities; the best F1 (then precision, then the
earlier in the list, the wider window) is chosen, and co-occurrence and the chosen
rule are reported on real-test. The rules `tag` uses (``pairs.PRESENCE``, ``pairs.FIGHTING``) are
printed beside the choice: they should be the same.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from _common import ROOT, console, finish, load_average, machine_info, print_machine, table

from conflict_ner import re3d
from conflict_ner.articles import Article
from conflict_ner.files import write_jsonl
from conflict_ner.tagging.pairs import CO_OCCURRENCE, RULES, Rule, article_pairs, candidate_rules

Rows = dict[str, list[dict[str, Any]]]  # document id -> mention rows
KIND_TITLES = {"where": "who fought where (FACTION x PLACE, re3d CoLocated)",
               "whom": "who fought whom (FACTION x FACTION, re3d FightingAgainst)"}


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", type=Path, default=ROOT / "training/model-best")
    parser.add_argument("--re3d", type=Path, default=ROOT.parent / "shared/datasets/re3d")
    parser.add_argument("--annotations", type=Path, default=ROOT / "corpus/re3d.jsonl")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args()


def gold_rows(model: Path, annotations: list[re3d.Annotation],
              documents: dict[str, re3d.Document]) -> Rows:  # fmt: skip
    """Mention rows of our gold spans, in sentences cut by the tagging pipeline's own
    sentence steps on the model's tokens, with canonical names (tag's own row code)."""
    from conflict_ner.tagging.canonical import canonicaliser
    from conflict_ner.tagging.pipeline import PARAGRAPHS, load_tagger, tagged
    from conflict_ner.tagging.tag import finish as finish_rows

    nlp = load_tagger(str(model))
    steps = [nlp.get_pipe(name) for name in ("sentencizer", PARAGRAPHS) if name in nlp.pipe_names]
    if len(steps) != 2:
        raise SystemExit(f"{model}: the tagging pipeline has its own sentence step; "
                         "this benchmark cuts gold sentences with the sentencizer only")
    canon, rows = canonicaliser(), {}
    for annotation in annotations:
        document = documents[annotation.document_id]
        doc = nlp.make_doc(document.text)
        spans = [doc.char_span(s, e, label, alignment_mode="expand")
                 for s, e, label, _ in annotation.spans]
        doc.ents = [span for span in spans if span is not None]  # expand always finds one
        for step in steps:
            doc = step(doc)
        article = Article(document.id, document.title, None, document.folder, document.text)
        rows[document.id] = finish_rows(tagged(doc, article), canon)[1]
    return rows


def model_rows(model: Path, documents: list[re3d.Document], work: Path) -> tuple[Rows, float]:
    """Mention rows of a real `tag` run over the documents, and its wall time. The
    articles file and the output live in ``work`` (a temporary folder)."""
    from conflict_ner.tagging.store import ShardStore
    from conflict_ner.tagging.tag import TagOptions, tag

    write_jsonl(work / "re3d.jsonl", ({"text": d.text, "title": d.title} for d in documents))
    start = time.perf_counter()
    result = tag(str(model), [str(work / "re3d.jsonl")], work / "tagged", TagOptions())
    wall = time.perf_counter() - start
    if result.skipped:
        console.print(f"tag skipped {len(result.skipped)} documents: {result.skipped}")
    # An article's source is "re3d.jsonl:LINE": the line is the document's place in the list.
    by_line = {f"re3d.jsonl:{i}": d.id for i, d in enumerate(documents, 1)}
    rows: Rows = {d.id: [] for d in documents}
    for mentions in ShardStore(work / "tagged").mentions_by_article():
        rows[by_line[mentions[0]["source"]]] = mentions
    return rows, wall


def predicted(rows: list[dict[str, Any]], kind: str, rule: Rule | None,
              reference: re3d.Reference, document: str) -> set[tuple[str, str]]:  # fmt: skip
    """A document's pairs under a rule (None: every pair named in the document)."""
    found = article_pairs(rows, kind, rule or CO_OCCURRENCE) if rows else {}
    keys = [k for k, seen in found.items() if rule is None or seen.passed]
    pairs = {reference.pair(document, kind, a, b) for a, b in keys}
    return {(a, b) for a, b in pairs if a != b}  # two synonyms are no pair


def score(rows: Rows, ids: Iterable[str], kind: str, rule: Rule | None,
          reference: re3d.Reference) -> dict[str, Any]:  # fmt: skip
    """Micro precision, recall and F1 of document-level pairs over some documents."""
    tp = fp = fn = 0
    for document in ids:
        system = predicted(rows[document], kind, rule, reference, document)
        gold = reference.pairs[kind][document]
        tp, fp, fn = tp + len(system & gold), fp + len(system - gold), fn + len(gold - system)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def choose(rows: Rows, dev: list[str], kind: str,
           reference: re3d.Reference) -> tuple[Rule, list[dict[str, Any]]]:  # fmt: skip
    """The candidate with the best real-dev F1 (then precision, then the earlier in the
    list), and every candidate's real-dev score."""
    scored = [(rule, score(rows, dev, kind, rule, reference)) for rule in candidate_rules()]
    best = max(range(len(scored)), key=lambda i: (scored[i][1]["f1"],
                                                 scored[i][1]["precision"], -i))
    return scored[best][0], [{"rule": r.describe(), **s} for r, s in scored]


def _cells(s: dict[str, Any]) -> list[str]:
    return [f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}",
            f"{s['tp']}/{s['fp']}/{s['fn']}"]


def report_kind(kind: str, rows: dict[str, Rows], halves: dict[str, list[str]],
                reference: re3d.Reference) -> dict[str, Any]:  # fmt: skip
    """Choose the rule of one kind on real-dev (gold entities), then score article and
    sentence co-occurrence and the chosen rule on both halves, gold and model."""
    chosen, candidates = choose(rows["gold"], halves["real_dev"], kind, reference)
    in_code = RULES[kind]
    console.print(f"{kind}: chosen on real-dev: {chosen.describe()} ({chosen}); "
                  f"tag uses {in_code.describe()}"
                  + ("" if chosen == in_code else "  <- DIFFERENT: update tagging/pairs.py"))
    console.print(table(f"{kind}: candidates on real-dev, gold entities",
                        ["rule", "P", "R", "F1", "tp/fp/fn"],
                        [[c["rule"], *_cells(c)] for c in candidates]))
    steps = {"article co-occurrence": None, "sentence co-occurrence": CO_OCCURRENCE,
             "chosen rule": chosen}
    results: dict[str, Any] = {"chosen": chosen.describe(), "in_code": in_code.describe(),
                               "candidates_dev": candidates, "scores": {}}
    lines = []
    for split in ("real_dev", "real_test"):
        for entities in ("gold", "model"):
            for step, rule in steps.items():
                s = score(rows[entities], halves[split], kind, rule, reference)
                results["scores"][f"{split}/{entities}/{step}"] = s
                lines.append([f"{split}, {entities} entities, {step}", *_cells(s)])
    gold_pairs = {split: sum(len(reference.pairs[kind][i]) for i in ids)
                  for split, ids in halves.items()}
    console.print(table(f"{KIND_TITLES[kind]}: reference pairs real-dev "
                        f"{gold_pairs['real_dev']}, real-test {gold_pairs['real_test']}",
                        ["pairs from", "P", "R", "F1", "tp/fp/fn"], lines))
    results["reference_pairs"] = gold_pairs
    return results


def main() -> None:
    args = parse_args()
    info = machine_info()
    print_machine(info)
    if not re3d.available(args.re3d):
        raise SystemExit(f"{args.re3d}: no re3d data set here (it lives in ../shared)")
    from conflict_ner.tagging.canonical import canonical

    annotations = re3d.read_annotations(args.annotations)
    documents = re3d.read_documents(args.re3d)
    halves = re3d.split(annotations)
    reference = re3d.reference_pairs(annotations, re3d.read_relations(args.re3d),
                                     lambda text, label: canonical(text, label).name)
    console.print(f"re3d: {len(annotations)} documents (real-dev {len(halves['real_dev'])}, "
                  f"real-test {len(halves['real_test'])}); relations kept as pairs of ours / "
                  f"dropped (an end no FACTION or PLACE of ours): CoLocated "
                  f"{reference.kept['where']} / {reference.dropped['where']}, FightingAgainst "
                  f"{reference.kept['whom']} / {reference.dropped['whom']}")
    ordered = [documents[a.document_id] for a in annotations]
    with tempfile.TemporaryDirectory(prefix="conflict-ner-bench-pairs-") as tmp:
        rows = {"gold": gold_rows(args.model, annotations, documents)}
        console.print(f"tag over {len(ordered)} documents with {args.model} ... "
                      f"(load {load_average()})")
        rows["model"], wall = model_rows(args.model, ordered, Path(tmp))
    console.print(f"tag took {wall:.0f} s (model and GeoNames loading included)")
    results: dict[str, Any] = {
        "documents": {split: len(ids) for split, ids in halves.items()},
        "relations": {"kept": reference.kept, "dropped": reference.dropped},
        "tag_wall_s": wall, "model": str(args.model),
    }
    for kind in ("where", "whom"):
        results[kind] = report_kind(kind, rows, halves, reference)
    finish(info, results, args.json)


if __name__ == "__main__":
    main()
