"""re3d with our stand-off annotation: joined with the text at run time, split by
document, compared with re3d's own labels; a checkout without the data set works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spacy.tokens import DocBin

from conflict_ner import re3d
from conflict_ner.files import InvalidInput
from conflict_ner.training import make_docbins

ROOT = Path(__file__).resolve().parents[1]
SHARED_RE3D = ROOT.parent / "shared" / "datasets" / "re3d"

TEXTS = {
    "a1": ("centcom", "ISIL fighters fled Mosul on Monday.",
           [(0, 4, "FACTION"), (19, 24, "PLACE")]),
    "a2": ("centcom", "The Peshmerga held Erbil.", [(4, 13, "FACTION"), (19, 24, "PLACE")]),
    "b1": ("wikipedia", "Daesh attacked Raqqa.", [(0, 5, "FACTION"), (15, 20, "PLACE")]),
    "b2": ("wikipedia", "Talks in Geneva ended.", [(9, 15, "PLACE")]),
}  # fmt: skip


def mongo_lines(path: Path, records: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """A re3d-shaped data set of four documents in two folders, with re3d's own entities."""
    root = tmp_path / "re3d"
    for folder in ("centcom", "wikipedia"):
        mine = {i: t for i, t in TEXTS.items() if t[0] == folder}
        mongo_lines(root / folder / "documents.json",
                    [{"_id": i, "title": i, "text": text} for i, (_, text, _) in mine.items()])
        # re3d's scheme: "The Peshmerga" with its determiner, a pronoun as an Organisation.
        entities = [{"documentId": "a2", "begin": 0, "end": 13, "type": "Organisation",
                     "confidence": 1}, {"documentId": "a2", "begin": 19, "end": 24,
                     "type": "Location", "confidence": 1}] if folder == "centcom" else []
        mongo_lines(root / folder / "entities.json", entities)
    return root


@pytest.fixture()
def annotations(tmp_path: Path) -> Path:
    path = tmp_path / "re3d.jsonl"
    mongo_lines(path, [
        {"document_id": i, "folder": folder,
         "spans": [{"start": s, "end": e, "label": label, "surface": text[s:e]}
                   for s, e, label in spans]}
        for i, (folder, text, spans) in TEXTS.items()
    ])  # fmt: skip
    return path


def test_tasks_join_our_spans_with_the_text(dataset: Path, annotations: Path) -> None:
    tasks = re3d.tasks(annotations, dataset)
    first = tasks[0]
    assert first["meta"]["article_id"] == "a1" and first["meta"]["origin"] == "re3d"
    assert [first["text"][s["start"]:s["end"]] for s in first["spans"]] == ["ISIL", "Mosul"]
    assert all("tokens" in t and "_input_hash" in t for t in tasks)


def test_a_surface_that_no_longer_matches_is_refused_with_file_and_line(
    dataset: Path, annotations: Path
) -> None:
    lines = annotations.read_text().splitlines()
    record = json.loads(lines[1])
    record["spans"][0]["surface"] = "Kurds"
    lines[1] = json.dumps(record)
    annotations.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInput) as err:
        re3d.tasks(annotations, dataset)
    assert f"{annotations}:2:" in str(err.value.problems[0])
    assert "Kurds" in str(err.value.problems[0])


def test_a_bad_record_is_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"document_id": "x", "folder": "f", "spans": [{"start": 3, "end": 1}]}\n')
    with pytest.raises(InvalidInput) as err:
        re3d.read_annotations(path)
    assert str(err.value.problems[0]).startswith(f"{path}:1:")


def test_split_is_seeded_whole_documents_and_holds_every_folder(annotations: Path) -> None:
    halves = re3d.split(re3d.read_annotations(annotations))
    assert sorted(halves["real_dev"] + halves["real_test"]) == sorted(TEXTS)
    assert not set(halves["real_dev"]) & set(halves["real_test"])
    for half in halves.values():
        assert {TEXTS[i][0] for i in half} == {"centcom", "wikipedia"}
    assert halves == re3d.split(re3d.read_annotations(annotations))


def test_agreement_with_re3d_labels(dataset: Path, annotations: Path) -> None:
    by_label = {a.label: a for a in re3d.agreement(annotations, dataset)}
    # Erbil matches re3d's Location exactly; "Peshmerga" only overlaps "The Peshmerga".
    assert (by_label["PLACE"].exact, by_label["PLACE"].theirs) == (1, 1)
    assert (by_label["FACTION"].exact, by_label["FACTION"].overlapping) == (0, 1)
    assert by_label["PLACE"].ours == 4


def test_real_halves_join_dev_but_never_train(
    dataset: Path, annotations: Path, tmp_path: Path, seed_splits: Path
) -> None:
    real = re3d.split_docs(annotations, dataset)
    paths = make_docbins(ROOT / "corpus" / "gold.jsonl", seed_splits, tmp_path / "out", real=real)
    assert set(paths) == {"train", "dev", "test", "real_dev", "real_test"}

    def ids(name: str) -> set[str]:
        import spacy

        vocab = spacy.blank("en").vocab
        return {d.user_data["article_id"] for d in DocBin().from_disk(paths[name]).get_docs(vocab)}

    assert ids("real_dev") <= ids("dev")
    assert not (ids("real_dev") | ids("real_test")) & ids("train")


def test_cli_data_writes_the_real_halves(
    dataset: Path, annotations: Path, tmp_path: Path, seed_splits: Path
) -> None:
    from typer.testing import CliRunner

    from conflict_ner.cli import app

    out = tmp_path / "corpus"
    args = ["data", "--gold", str(ROOT / "corpus" / "gold.jsonl"), "--splits", str(seed_splits),
            "--out-dir", str(out), "--real", str(annotations), "--re3d", str(dataset)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.glob("*.spacy")} == {
        "train.spacy", "dev.spacy", "test.spacy", "real_dev.spacy", "real_test.spacy"}


def test_without_the_data_set_nothing_is_written(tmp_path: Path, annotations: Path) -> None:
    assert not re3d.available(tmp_path / "absent")
    assert re3d.split_docs(annotations, tmp_path / "absent") == {}


@pytest.mark.skipif(not re3d.available(SHARED_RE3D), reason="../shared/datasets/re3d is absent")
def test_the_committed_annotation_matches_the_data_set() -> None:
    annotations = re3d.read_annotations(ROOT / re3d.DEFAULT_ANNOTATIONS)
    documents = re3d.read_documents(SHARED_RE3D)
    assert {a.document_id for a in annotations} == set(documents)
    tasks = re3d.tasks(ROOT / re3d.DEFAULT_ANNOTATIONS, SHARED_RE3D)  # surfaces checked
    assert sum(len(t["spans"]) for t in tasks) > 500
