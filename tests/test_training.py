"""Gold tasks to DocBins, the backbone variable, and real `spacy train` runs of both configs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin, Span
from thinc.api import Config
from tiny_transformer import build_tiny_transformer
from typer.testing import CliRunner

from conflict_ner import convert, training
from conflict_ner.articles import article_folds, load_articles, load_splits
from conflict_ner.cli import app
from conflict_ner.files import Code, InvalidInput, write_jsonl
from conflict_ner.patterns import pre_annotate
from conflict_ner.scheme import LABELS
from conflict_ner.tasks import make_task, read_tasks

ROOT = Path(__file__).resolve().parents[1]
STEPS = {"training.max_steps": 12, "training.eval_frequency": 6, "training.patience": 0}


@pytest.fixture(scope="module")
def gold(tmp_path_factory) -> Path:
    """A gold file over the seed articles, its spans found by the rules (one task per article)."""
    articles = [a for a in load_articles(ROOT / "corpus" / "articles.jsonl") if a.origin == "seed"]
    spans = pre_annotate([a.text for a in articles])
    tasks = [
        make_task(a.text, found, {"article_id": a.id, "title": a.title})
        for a, found in zip(articles, spans, strict=True)
    ]
    path = tmp_path_factory.mktemp("gold") / "gold.jsonl"
    write_jsonl(path, tasks)
    return path


@pytest.fixture(scope="module")
def docbins(gold, seed_splits, tmp_path_factory) -> dict[str, Path]:
    return training.make_docbins(gold, seed_splits, tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    return build_tiny_transformer(tmp_path_factory.mktemp("tiny-bert"))


def read_docs(path: Path) -> list:
    nlp = spacy.blank("en")
    return list(DocBin().from_disk(path).get_docs(nlp.vocab))


def assert_predicts_scheme_spans(model: Path) -> None:
    """The trained pipeline loads, its NER knows exactly our labels and returns Spans of them."""
    nlp = spacy.load(model)
    assert set(nlp.get_pipe("ner").labels) == set(LABELS)
    # The pattern ruler runs after the NER and only fills the gaps it leaves.
    assert nlp.pipe_names.index("ner") < nlp.pipe_names.index("pattern_ruler")
    doc = nlp("The YGP attacked the NDF in Hassakeh, northeastern Syria, on Monday.")
    assert doc.ents and all(isinstance(e, Span) and e.label_ in LABELS for e in doc.ents)
    assert ("YGP", "FACTION") in [(e.text, e.label_) for e in doc.ents]


# -- tasks to docs ----------------------------------------------------------------


def test_task_to_doc_keeps_spans_and_article_id():
    text = "The YPG entered al-Hasakah."
    task = make_task(text, [(4, 7, "FACTION"), (16, 26, "PLACE")], {"article_id": "abc123"})
    doc, issues = convert.task_to_doc(task)
    assert not issues
    assert doc.text == text
    assert [(e.text, e.label_) for e in doc.ents] == [("YPG", "FACTION"), ("al-Hasakah", "PLACE")]
    assert doc.user_data["article_id"] == "abc123"
    assert doc.user_data["meta"] == {"article_id": "abc123"}


def test_spans_off_token_boundaries_fail_loudly(tmp_path, seed_splits):
    text = "Activist Suhaib al-Hasakawi spoke."
    task = make_task(text, [], {"article_id": "a1"})
    # "al-Hasaka" stops inside the token "Hasakawi": never silently dropped.
    task["spans"] = [{"start": 16, "end": 25, "label": "PLACE"}]
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": text, "meta": {"article_id": "a1"},
                                "spans": task["spans"]}) + "\n")
    with pytest.raises(InvalidInput, match=r"gold.jsonl:1: span 16-25 PLACE 'al-Hasaka'") as err:
        convert.gold_docs(gold)
    assert [p.code for p in err.value.problems] == [Code.BOUNDARY]
    result = CliRunner().invoke(app, ["data", "--gold", str(gold), "--splits", str(seed_splits),
                                      "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "off token boundaries" in result.output
    assert not (tmp_path / "out").exists()


# -- docbins ----------------------------------------------------------------------


def test_make_docbins_follows_the_seed_splits(docbins, seed_splits):
    splits = load_splits(seed_splits).splits
    assert set(docbins) == {"train", "dev", "test"}
    for name, path in docbins.items():
        docs = read_docs(path)
        assert sorted(d.user_data["article_id"] for d in docs) == sorted(splits[name])
        assert all(d.ents for d in docs)


@pytest.mark.parametrize("hostile", ["../../../x", "/tmp/conflict-ner-split", ".hidden"])
def test_split_names_never_become_paths_outside_the_folder(gold, seed_splits, tmp_path, hostile):
    data = json.loads(seed_splits.read_text())
    data["splits"][hostile] = data["splits"].pop("test")
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps(data))
    out_dir = tmp_path / "a" / "b" / "c" / "corpus"
    paths = training.make_docbins(gold, splits, out_dir)
    assert all(path.parent == out_dir for path in paths.values())
    assert sorted(p.name for p in tmp_path.rglob("*.spacy")) == sorted(
        p.name for p in out_dir.iterdir())
    assert not Path("/tmp/conflict-ner-split.spacy").exists()


def test_make_docbins_writes_leave_one_group_out_folds(gold, seed_splits, tmp_path):
    folds = article_folds(load_splits(seed_splits))
    for n, (train_ids, held_out) in enumerate(folds):
        paths = training.make_docbins(gold, seed_splits, tmp_path, fold=n)
        assert paths == {
            "train": tmp_path / "folds" / str(n) / "train.spacy",
            "dev": tmp_path / "folds" / str(n) / "dev.spacy",
        }
        assert sorted(d.user_data["article_id"] for d in read_docs(paths["dev"])) == held_out
        assert sorted(d.user_data["article_id"] for d in read_docs(paths["train"])) == sorted(
            train_ids
        )
    with pytest.raises(ValueError, match="does not exist"):
        training.make_docbins(gold, seed_splits, tmp_path, fold=len(folds))


def view(doc) -> tuple:
    """What a gold Doc holds: its text, entities and user data."""
    return doc.text, [(e.start_char, e.end_char, e.label_) for e in doc.ents], doc.user_data


def test_a_gold_folder_gives_the_docbins_of_its_files(gold, seed_splits, docbins, tmp_path):
    tasks = read_tasks(gold)
    write_jsonl(tmp_path / "gold" / "a.jsonl", tasks[:2])
    write_jsonl(tmp_path / "gold" / "b.jsonl", tasks[2:])
    paths = training.make_docbins(tmp_path / "gold", seed_splits, tmp_path / "out")
    assert paths.keys() == docbins.keys()
    for name, path in paths.items():
        assert [view(d) for d in read_docs(path)] == [view(d) for d in read_docs(docbins[name])]


def test_cli_data_writes_seed_and_fold_files(gold, seed_splits, tmp_path):
    runner = CliRunner()
    args = ["data", "--gold", str(gold), "--splits", str(seed_splits), "--out-dir", str(tmp_path),
            "--re3d", str(tmp_path / "no-re3d")]  # the real halves: tests/test_re3d.py
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, [*args, "--fold", "0"]).exit_code == 0
    assert {p.name for p in tmp_path.glob("*.spacy")} == {"train.spacy", "dev.spacy", "test.spacy"}
    assert {p.name for p in (tmp_path / "folds" / "0").iterdir()} == {"train.spacy", "dev.spacy"}


# -- backbone ---------------------------------------------------------------------


def test_default_backbone_resolves_to_the_packaged_files(tmp_path):
    resolved = Path(training.resolve_backbone(training.DEFAULT_BACKBONE))
    assert (resolved / "config.json").is_file() and (resolved / "vocab.txt").is_file()
    assert training.resolve_backbone(str(tmp_path)) == str(tmp_path.resolve())
    assert training.resolve_backbone("roberta-base") == "roberta-base"


def test_tiny_transformer_loads_as_bert(tiny_bert):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(tiny_bert))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert))
    assert model.config.hidden_size == 32 and tokenizer.is_fast
    assert tokenizer("YPG in Hassakeh")["input_ids"][0] == tokenizer.cls_token_id


def test_batches_are_measured_in_the_backbones_wordpieces(tiny_bert):
    from spacy.training import Example

    length = training.wordpiece_length(str(tiny_bert))
    nlp = spacy.blank("en")
    plain = nlp.make_doc("YPG in Hasakah")
    url = nlp.make_doc("See https://example.org/a/very/long/path/to/a/page.html now")
    assert length(plain) == 3  # ypg, in, hasakah: words of the tiny vocabulary
    # The URL is one spaCy token and dozens of character wordpieces.
    assert len(url) == 3 and length(url) > 30
    assert length(Example(url, url)) == length(url)
    # The shipped transformer config batches by this length.
    cfg = Config().from_disk(ROOT / "configs" / "ner_trf.cfg", interpolate=False)
    assert cfg["training"]["batcher"]["get_length"]["@misc"] == "conflict_ner.wordpiece_length.v1"


def test_train_names_a_corrupt_docbin_before_spacy_starts(docbins, tmp_path):
    corrupt = tmp_path / "train.spacy"
    corrupt.write_bytes(b"not a docbin")
    result = CliRunner().invoke(app, [
        "train", "--config", str(ROOT / "configs" / "ner_cnn.cfg"), "--output",
        str(tmp_path / "out"), "--train", str(corrupt), "--dev", str(docbins["dev"]),
    ])
    assert result.exit_code == 1
    assert f"{corrupt}: not a spaCy DocBin" in result.output.replace("\n", "")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD is Linux's")
def test_training_subprocesses_run_on_mimalloc():
    # The dependency installs the library, and a process started with the
    # training environment has it mapped: the allocator swap is real, not a name.
    env = {**os.environ, **training.allocator_env()}
    maps = subprocess.run([sys.executable, "-c", "print(open('/proc/self/maps').read())"],
                          env=env, capture_output=True, text=True, check=True).stdout
    assert "libmimalloc.so" in maps


# -- real training ------------------------------------------------------------------


@pytest.mark.slow
def test_conflict_ner_train_cnn(docbins, tmp_path):
    result = CliRunner().invoke(app, [
        "train", "--config", str(ROOT / "configs" / "ner_cnn.cfg"),
        "--output", str(tmp_path), "--train", str(docbins["train"]),
        "--dev", str(docbins["dev"]), "--max-steps", "12", "--eval-frequency", "6",
    ])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model-last").is_dir()
    assert "eval_frequency = 6" in (tmp_path / "model-last" / "config.cfg").read_text()
    assert_predicts_scheme_spans(tmp_path / "model-best")


@pytest.mark.slow
def test_plain_spacy_train_command_line_with_tiny_transformer(docbins, tiny_bert, tmp_path):
    """What a user types: no --code (entry points find our functions), offline."""
    env = {**os.environ, **training.OFFLINE_ENV}
    overrides = [a for k, v in STEPS.items() for a in (f"--{k}", str(v))]
    subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(ROOT / "configs" / "ner_trf.cfg"),
         "--output", str(tmp_path), "--paths.train", str(docbins["train"]),
         "--paths.dev", str(docbins["dev"]), "--paths.transformer", str(tiny_bert), *overrides],
        check=True, env=env, cwd=tmp_path,
    )
    assert_predicts_scheme_spans(tmp_path / "model-best")
    saved = (tmp_path / "model-best" / "config.cfg").read_text()
    assert str(tiny_bert) in saved


@pytest.mark.slow
def test_train_function_with_tiny_transformer_and_the_augmenter_on(docbins, tiny_bert, tmp_path):
    """training.train on the shipped config with the augmenter switched on (the plain
    config is trained by the command-line test above: one run each, not three)."""
    config = Config().from_disk(ROOT / "configs" / "ner_trf.cfg", interpolate=False)
    config["corpora"]["train"]["augmenter"] = {
        "@augmenters": "conflict_ner.mentions_and_case.v1",
        "replace_level": 1.0,
        "replace_prob": 0.5,
        "upper_level": 1.0,
    }
    path = tmp_path / "augmented.cfg"
    config.to_disk(path)
    best = training.train(
        path, tmp_path / "out", docbins["train"], docbins["dev"],
        {**STEPS, "paths.transformer": str(tiny_bert)},
    )
    assert best == tmp_path / "out" / "model-best"
    assert_predicts_scheme_spans(best)
    saved = (best / "config.cfg").read_text()
    assert "conflict_ner.mentions_and_case.v1" in saved
