"""`conflict-ner tag` with a CNN model trained at test time: outputs, resume, bad
articles, Parquet, and the Dask engine on a real LocalCluster."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conflict_ner import training
from conflict_ner.articles import load_articles, write_articles
from conflict_ner.cli import app
from conflict_ner.files import write_jsonl
from conflict_ner.patterns import pre_annotate
from conflict_ner.tagging.cooccurrence import PAIR_COLUMNS, WHOM_COLUMNS
from conflict_ner.tagging.pipeline import load_tagger
from conflict_ner.tagging.store import ShardStore
from conflict_ner.tagging.tag import TagOptions, tag
from conflict_ner.tasks import make_task

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ("mentions.jsonl", "articles.jsonl", "who_fought_where.csv", "who_fought_whom.csv",
           "report.md", "report.html", "who_fought_where.png", "who_fought_where_map.png",
           "skipped.jsonl")


STEPS = {"training.max_steps": 6, "training.eval_frequency": 3, "training.patience": 0}


@pytest.fixture(scope="module")
def seed_bins(seed_splits, tmp_path_factory) -> dict[str, Path]:
    """DocBins of the seed articles, the rules' spans as gold."""
    articles = [a for a in load_articles(ROOT / "corpus" / "articles.jsonl") if a.origin == "seed"]
    tasks = [make_task(a.text, spans, {"article_id": a.id})
             for a, spans in zip(articles, pre_annotate([a.text for a in articles]), strict=True)]
    work = tmp_path_factory.mktemp("seed-bins")
    write_jsonl(work / "gold.jsonl", tasks)
    return training.make_docbins(work / "gold.jsonl", seed_splits, work / "corpus")


@pytest.fixture(scope="module")
def cnn_model(seed_bins, tmp_path_factory) -> Path:
    """configs/ner_cnn.cfg trained for a few steps on the seed articles."""
    return training.train(ROOT / "configs" / "ner_cnn.cfg", tmp_path_factory.mktemp("cnn"),
                          seed_bins["train"], seed_bins["dev"], STEPS)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The five seed articles and twelve composed ones, as ingest writes them."""
    articles = load_articles(ROOT / "corpus" / "articles.jsonl")
    chosen = [a for a in articles if a.origin == "seed"] + [
        a for a in articles if a.origin == "composed"][:12]
    path = tmp_path_factory.mktemp("corpus") / "articles.jsonl"
    write_articles(path, chosen)
    return path


@pytest.fixture(scope="module")
def plain_run(cnn_model, corpus, tmp_path_factory) -> Path:
    """The CLI's plain-spaCy run over the corpus: the reference output."""
    out = tmp_path_factory.mktemp("tagged") / "plain"
    result = CliRunner().invoke(app, ["tag", str(cnn_model), str(corpus), "--out", str(out),
                                      "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf8", newline="") as handle:
        return list(csv.DictReader(handle))


def outputs(out: Path) -> dict[str, object]:
    """The content of a run's tables, to compare runs."""
    return {"mentions": read_jsonl(out / "mentions.jsonl"),
            "articles": read_jsonl(out / "articles.jsonl"),
            "pairs": read_csv(out / "who_fought_where.csv"),
            "whom": read_csv(out / "who_fought_whom.csv")}


def test_tag_writes_mentions_articles_pairs_and_report(plain_run, corpus):
    assert all((plain_run / name).is_file() for name in OUTPUTS)
    mentions = read_jsonl(plain_run / "mentions.jsonl")
    articles = read_jsonl(plain_run / "articles.jsonl")
    source = {a.id: a for a in load_articles(corpus)}
    assert [a["article_id"] for a in articles] == list(source)
    for row in mentions:
        article = source[row["article_id"]]
        assert article.text[row["start"]:row["end"]] == row["text"]
        assert row["text"] in row["sentence"] and row["sentence"] in article.text
        assert (row["title"], row["date"], row["source"]) == (article.title, article.date,
                                                                article.source)
        assert row["canonical"] and isinstance(row["matched"], bool)
    for record in articles:
        mine = [m for m in mentions if m["article_id"] == record["article_id"]]
        assert record["mentions"]["FACTION"] == sum(m["label"] == "FACTION" for m in mine)
        assert record["places"] == sorted({m["canonical"] for m in mine if m["label"] == "PLACE"})
    assert "who fought where" in (plain_run / "report.md").read_text().lower()


def test_pairs_are_the_factions_and_places_sharing_a_sentence(plain_run):
    mentions = read_jsonl(plain_run / "mentions.jsonl")
    sentences: dict[tuple, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for row in mentions:
        sentences[row["article_id"], row["sentence_index"]][row["label"]].add(row["canonical"])
    expected: dict[tuple, int] = defaultdict(int)
    for labels in sentences.values():
        for faction in labels["FACTION"]:
            for place in labels["PLACE"]:
                expected[faction, place] += 1
    pairs = read_csv(plain_run / "who_fought_where.csv")
    shared = {(p["faction"], p["place"]): int(p["sentences"]) for p in pairs}
    assert {key: n for key, n in shared.items() if n} == expected
    # Every other pair is named in one article, never in one sentence.
    by_article: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for row in mentions:
        by_article[row["article_id"]][row["label"]].add(row["canonical"])
    assert set(shared) == {(f, p) for labels in by_article.values()
                           for f in labels["FACTION"] for p in labels["PLACE"]}
    # The seed articles: the YPG fought in al-Hasakah.
    assert ("People's Protection Units", "al-Hasakah") in expected


def test_who_fought_whom_pairs_the_factions_sharing_a_sentence(plain_run):
    mentions = read_jsonl(plain_run / "mentions.jsonl")
    sentences: dict[tuple, set] = defaultdict(set)
    for row in mentions:
        if row["label"] == "FACTION":
            sentences[row["article_id"], row["sentence_index"]].add(row["canonical"])
    expected: dict[tuple, int] = defaultdict(int)
    for names in sentences.values():
        for a in names:
            for b in names:
                if a < b:
                    expected[a, b] += 1
    rows = read_csv(plain_run / "who_fought_whom.csv")
    assert list(rows[0]) == list(WHOM_COLUMNS)
    shared = {(r["faction_a"], r["faction_b"]): int(r["sentences"]) for r in rows}
    assert {key: n for key, n in shared.items() if n} == expected
    for row in rows:  # the evidence sentence names both, and the confidence is a share
        if int(row["sentences"]):
            sentence = row["evidence_sentence"]
            assert any(m["sentence"] == sentence and m["canonical"] == row["faction_a"]
                       for m in mentions)
            assert any(m["sentence"] == sentence and m["canonical"] == row["faction_b"]
                       for m in mentions)
        assert 0 <= float(row["confidence"]) <= 1
    where = read_csv(plain_run / "who_fought_where.csv")
    assert list(where[0]) == list(PAIR_COLUMNS)  # the old columns first, in their order


def test_pairs_model_lists_the_pairs_the_rule_supports(plain_run, cnn_model, corpus, tmp_path):
    result = CliRunner().invoke(app, ["tag", str(cnn_model), str(corpus), "--out", str(tmp_path),
                                      "--pairs", "model"])
    assert result.exit_code == 0, result.output
    for name in ("who_fought_where.csv", "who_fought_whom.csv"):
        every = {tuple(r.values())[:2]: r for r in read_csv(plain_run / name)}
        kept = read_csv(tmp_path / name)
        # The same pairs with the same figures, only those a sentence supports.
        assert all(every[tuple(r.values())[:2]] == r for r in kept)
        assert {k for k, r in every.items() if float(r["confidence"])} == {
            tuple(r.values())[:2] for r in kept}
    assert read_jsonl(tmp_path / "mentions.jsonl") == read_jsonl(plain_run / "mentions.jsonl")


def test_parquet_holds_the_same_mentions(plain_run, cnn_model, corpus, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    result = CliRunner().invoke(app, ["tag", str(cnn_model), str(corpus), "--out", str(tmp_path),
                                      "--format", "parquet"])
    assert result.exit_code == 0, result.output
    rows = pq.read_table(tmp_path / "mentions.parquet").to_pylist()
    assert rows == read_jsonl(plain_run / "mentions.jsonl")


class Interrupted(Exception):
    """Stands for the kill: raised after the first committed batch."""


def test_resume_after_an_interrupted_run_gives_the_same_output(plain_run, cnn_model, corpus,
                                                               tmp_path):
    def stop(_: int) -> None:
        raise Interrupted

    options = TagOptions(batch_size=4)
    with pytest.raises(Interrupted):
        tag(str(cnn_model), [str(corpus)], tmp_path, options, progress=stop)
    store = ShardStore(tmp_path)
    assert store.indexes() == [0] and not (tmp_path / "mentions.jsonl").exists()
    # What a kill in the middle of the next batch leaves: its mentions shard, no articles
    # shard (uncommitted), and a half-written temporary file.
    shutil.copy(store.dir / "000000.mentions.jsonl", store.dir / "000001.mentions.jsonl")
    (store.dir / ".000001.articles.jsonl.abc.tmp").write_text('{"article_id": "x"')

    refused = CliRunner().invoke(app, ["tag", str(cnn_model), str(corpus), "--out", str(tmp_path)])
    assert refused.exit_code == 1 and "--resume" in refused.output

    result = tag(str(cnn_model), [str(corpus)], tmp_path, TagOptions(batch_size=4, resume=True))
    assert (result.already, result.tagged) == (4, 13)
    assert outputs(tmp_path) == outputs(plain_run)
    assert not list(store.dir.glob(".*.tmp"))

    again = tag(str(cnn_model), [str(corpus)], tmp_path, TagOptions(resume=True))
    assert (again.already, again.tagged) == (17, 0)
    assert outputs(tmp_path) == outputs(plain_run)


def test_bad_articles_are_reported_and_skipped(cnn_model, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "good.txt").write_text("YPG fighters entered Hasakah on Monday.\n")
    (inputs / "empty.txt").write_text("   \n")
    (inputs / "latin1.txt").write_bytes("Les combattants à Hassaké.".encode("latin-1"))
    (inputs / "long.txt").write_text("NDF units shelled Qamishli. " * 20)
    lines = '{"text": "ISIS attacked Hasakah."}\n{"text": ""}\nnot json\n'
    (inputs / "lines.jsonl").write_text(lines)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["tag", str(cnn_model), str(inputs), "--out", str(out),
                                      "--max-chars", "200"])
    assert result.exit_code == 0, result.output
    skipped = {row["id"]: row["reason"] for row in read_jsonl(out / "skipped.jsonl")}
    assert skipped[str(inputs / "empty.txt")] == "empty file"
    assert "not UTF-8" in skipped[f"{inputs / 'latin1.txt'}:1"]
    assert skipped[f"{inputs / 'lines.jsonl'}:2"] == "empty text"
    assert "malformed JSON" in skipped[f"{inputs / 'lines.jsonl'}:3"]
    (too_long,) = [reason for reason in skipped.values() if reason.startswith("too long")]
    assert "long.txt" in too_long
    assert len(skipped) == 5
    for where in skipped:
        assert where in result.output.replace("\n", "")
    tagged = read_jsonl(out / "articles.jsonl")
    assert sorted(r["source"] for r in tagged) == ["good.txt", "lines.jsonl:1"]


@pytest.mark.slow
def test_two_worker_processes_give_the_same_rows(plain_run, cnn_model, corpus, tmp_path):
    result = CliRunner().invoke(app, ["tag", str(cnn_model), str(corpus), "--out", str(tmp_path),
                                      "--n-process", "2", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert outputs(tmp_path) == outputs(plain_run)
    assert len(ShardStore(tmp_path).indexes()) == 5  # 17 articles in batches of 4


@pytest.mark.slow
def test_dask_engine_on_a_local_cluster_gives_the_same_rows(plain_run, cnn_model, corpus,
                                                           tmp_path):
    pytest.importorskip("distributed")
    result = CliRunner().invoke(app, ["tag", str(cnn_model), str(corpus), "--out", str(tmp_path),
                                      "--engine", "dask", "--workers", "2", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert outputs(tmp_path) == outputs(plain_run)
    assert len(ShardStore(tmp_path).indexes()) == 5  # 17 articles in partitions of 4


@pytest.mark.slow
def test_quantize_int8_tags_with_a_quantised_transformer(seed_bins, corpus, tmp_path):
    import torch
    from tiny_transformer import build_tiny_transformer
    from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear

    backbone = build_tiny_transformer(tmp_path / "tiny-bert")
    model = training.train(ROOT / "configs" / "ner_trf.cfg", tmp_path / "trf", seed_bins["train"],
                           seed_bins["dev"], {**STEPS, "paths.transformer": str(backbone)})
    nlp = load_tagger(str(model), "int8")
    modules = [m for layer in nlp.get_pipe("transformer").model.walk() for s in layer.shims
               for m in s._model.modules()]
    assert any(isinstance(m, QuantizedLinear) for m in modules)
    assert not any(type(m) is torch.nn.Linear for m in modules)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["tag", str(model), str(corpus), "--out", str(out),
                                      "--quantize", "int8"])
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(out / "articles.jsonl")) == 17


@pytest.mark.parametrize(("option", "message"), [
    (["--quantize", "int8"], "PyTorch"),  # quantising needs a transformer
    (["--pairs", "nearby"], "unknown pairs 'nearby'"),
])
def test_a_bad_option_is_refused_before_anything_is_written(cnn_model, corpus, tmp_path,
                                                            option, message):
    result = CliRunner().invoke(app, ["tag", str(cnn_model), str(corpus), "--out", str(tmp_path),
                                      *option])
    assert result.exit_code == 1
    assert message in result.output
    assert not tmp_path.joinpath("shards").exists()


def test_resume_refuses_shards_of_an_older_version_before_tagging(tmp_path: Path) -> None:
    from conflict_ner.tagging.store import ShardStore

    store = ShardStore(tmp_path / "tagged")
    old_row = {"article_id": "a1", "start": 0, "end": 3, "label": "FACTION", "text": "YPG",
               "sentence": "YPG", "sentence_index": 0}  # no sentence_start
    store.write(0, [{"article_id": "a1"}], [old_row])
    with pytest.raises(ValueError, match=r"000000\.mentions\.jsonl: .*without sentence_start"):
        store.open(resume=True)
    store.write(0, [{"article_id": "a1"}], [{**old_row, "sentence_start": 0}])
    assert store.open(resume=True) == {"a1"}
