"""The model wheel: built with spacy package, installed into a fresh venv, loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import spacy
from spacy.training import Example
from spacy.util import load_config
from tiny_transformer import build_tiny_transformer
from typer.testing import CliRunner

from conflict_ner.cli import app
from conflict_ner.evaluation.results import Metrics
from conflict_ner.files import write_jsonl
from conflict_ner.packaging import custom_code_references, portable_copy
from conflict_ner.tasks import make_task

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    """The transformer config, initialised on a tiny random BERT built here, saved to disk."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    base = tmp_path_factory.mktemp("pipeline")
    backbone = build_tiny_transformer(base / "bert")
    config = load_config(
        root / "configs" / "ner_trf.cfg",
        overrides={"paths.transformer": str(backbone)},
        interpolate=True,
    )
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    doc = nlp.make_doc("The YPG fought the NDF in Hasakah.")
    example = Example.from_dict(
        doc, {"entities": [(4, 7, "FACTION"), (19, 22, "FACTION"), (26, 33, "PLACE")]}
    )
    nlp.initialize(lambda: [example])
    nlp.to_disk(base / "model")
    return base / "model"


def test_portable_copy_needs_no_toolkit_code(tiny_pipeline: Path, tmp_path: Path) -> None:
    original = load_config(tiny_pipeline / "config.cfg")
    assert "conflict_ner.backbone_path.v1" in custom_code_references(original)
    copy = portable_copy(tiny_pipeline, tmp_path / "copy")
    left = custom_code_references(load_config(copy / "config.cfg"))
    assert set(left.values()) <= {"conflict_ner.ruler_filters"}
    assert spacy.load(copy)("YPG in Hasakah").text == "YPG in Hasakah"


@pytest.mark.slow
def test_wheel_installs_and_loads_in_a_fresh_venv(tiny_pipeline: Path, tmp_path: Path) -> None:
    # A real evaluation of the pipeline on one article gives the metrics.json to ship.
    gold = tmp_path / "gold.jsonl"
    text = "The YPG fought the NDF in Hasakah."
    write_jsonl(gold, [make_task(text, [(4, 7, "FACTION"), (26, 33, "PLACE")], {})])
    evaluated = runner.invoke(app, ["evaluate", str(tiny_pipeline), str(gold), "--out",
                                    str(tmp_path / "report"), "--no-patterns", "--resamples", "10"])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = tmp_path / "report" / "metrics.json"
    scores = Metrics.read(metrics)
    out = tmp_path / "packages"
    built = runner.invoke(app, ["package", str(tiny_pipeline), "--out", str(out),
                                "--version", "0.0.1", "--metrics", str(metrics)])
    assert built.exit_code == 0, built.output
    wheel = out / "en_conflict_ner-0.0.1" / "dist" / "en_conflict_ner-0.0.1-py3-none-any.whl"
    assert wheel.is_file()

    meta = json.loads((out / "en_conflict_ner-0.0.1" / "meta.json").read_text())
    names = sorted(r.split(">")[0].split("=")[0] for r in meta["requirements"])
    assert names == ["spacy", "spacy-transformers"]
    assert meta["labels"]["ner"] == ["FACTION", "PLACE"]
    performance = meta["performance"]
    assert performance["ents_f"] == pytest.approx(scores.strict.f1)
    faction = scores.overall["strict"].per_label["FACTION"]
    assert performance["ents_per_type"]["FACTION"]["f"] == pytest.approx(faction.f1)
    assert performance["evaluated_on"] == {"data": str(gold), "articles": 1}
    assert meta["backbone"]["path"]
    # The ruler's filter, the boundary and confidence steps and the tokenizer ship inside
    # the wheel, not as a dependency on the toolkit.
    assert meta["custom_code"] == ["conflict_ner.news_tokenizer.v1",
                                   "conflict_ner.ruler_fill_gaps.v1", "conflict_ner_boundaries",
                                   "conflict_ner_confidence"]
    package_dir = out / "en_conflict_ner-0.0.1" / "en_conflict_ner"
    assert (package_dir / "ruler_filters.py").is_file()

    checked = runner.invoke(app, ["package", str(wheel), "--check"])
    assert checked.exit_code == 0, checked.output
    assert "spacy.load('en_conflict_ner') works" in checked.output


def test_package_refuses_a_folder_that_is_no_pipeline(tmp_path: Path) -> None:
    result = runner.invoke(app, ["package", str(tmp_path)])
    assert result.exit_code == 1
    assert "not a spaCy pipeline folder" in result.output


@pytest.mark.parametrize("name", ["../outside", "a/b", "2fast", "with-dash", ""])
def test_package_refuses_a_name_that_is_no_module_name(tmp_path: Path, name: str) -> None:
    out = tmp_path / "packages"
    result = runner.invoke(app, ["package", str(tmp_path), "--name", name, "--out", str(out)])
    assert result.exit_code == 1
    assert "use letters, digits and underscores" in result.output
    assert not out.exists() and not (tmp_path / "outside").exists()


@pytest.mark.parametrize("version", ["../../../../X", "0/../../../Y", "not a version", ""])
def test_package_refuses_a_version_that_is_no_version(tmp_path: Path, version: str) -> None:
    out = tmp_path / "a" / "b" / "packages"
    result = runner.invoke(app, ["package", str(tmp_path), "--version", version, "--out", str(out)])
    assert result.exit_code == 1
    assert "not a version such as 0.1.0" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert result.output.count("\n") == 1


def test_package_refuses_to_write_inside_the_model_folder(tmp_path: Path) -> None:
    model = tmp_path / "model-best"
    model.mkdir()
    (model / "meta.json").write_text('{"lang": "en"}')
    for out in (model, model / "packages"):
        result = runner.invoke(app, ["package", str(model), "--out", str(out)])
        assert result.exit_code == 1, result.output
        assert "write the output somewhere else" in " ".join(result.output.split())
    assert sorted(p.name for p in model.iterdir()) == ["meta.json"]
