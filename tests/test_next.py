"""`conflict-ner next` and `push --order`: articles ranked by a real trained NER's beam."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy
from typer.testing import CliRunner

from conflict_ner import active
from conflict_ner.cli import app
from conflict_ner.doccano.client import DoccanoAPI
from conflict_ner.doccano.push import load_push_items
from conflict_ner.doccano.server import ServerInfo
from conflict_ner.files import write_jsonl
from conflict_ner.tasks import read_tasks

ROOT = Path(__file__).resolve().parents[1]
POOL_SIZE = 12


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve composed articles (Prodigy tasks, as a pool file may be)."""
    tasks = read_tasks(ROOT / "corpus" / "composed" / "north-east-syria.jsonl")[:POOL_SIZE]
    path = tmp_path_factory.mktemp("pool") / "pool.jsonl"
    write_jsonl(path, tasks)
    return path


def test_ranking_is_deterministic_given_model_and_pool(cnn_model: Path, pool: Path) -> None:
    items = load_push_items(pool)
    first = [r.to_json() for r in active.rank(spacy.load(cnn_model), items)]
    again = [r.to_json() for r in active.rank(spacy.load(cnn_model), items)]
    assert first == again
    shuffled = [r.to_json() for r in active.rank(spacy.load(cnn_model), items[::-1])]
    assert [r["article_id"] for r in shuffled] == [r["article_id"] for r in first]


def test_ranking_is_best_first_and_scores_are_the_beams_expected_errors(
    cnn_model: Path, pool: Path
) -> None:
    nlp = spacy.load(cnn_model)
    items = load_push_items(pool)
    ranked = active.rank(nlp, items, n=5)
    assert [r.rank for r in ranked] == [1, 2, 3, 4, 5]
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) > 1, "the test model should hesitate more over some articles"
    everything = {r.article_id: r.score for r in active.rank(nlp, items)}
    assert sorted(everything.values(), reverse=True)[:5] == scores
    # One article alone scores what it scored in the batch.
    top = next(i for i in items if i["article_id"] == ranked[0].article_id)
    alone = active.beam_candidates(nlp, [top["text"]])[0]
    assert active.article_score(alone) == pytest.approx(ranked[0].score, abs=1e-6)
    for candidate in alone:
        assert 0.0 < candidate.p <= 1.0 + 1e-9
        assert top["text"][candidate.start : candidate.end] == candidate.text


def test_expected_errors_of_certain_and_unsure_candidates() -> None:
    sure = active.Candidate(0, 3, "FACTION", "YPG", 1.0)
    unsure = active.Candidate(4, 9, "PLACE", "Rmeil", 0.5)
    likely = active.Candidate(4, 9, "FACTION", "Rmeil", 0.8)
    assert active.article_score([sure]) == 0.0
    assert active.article_score([sure, unsure, likely]) == pytest.approx(0.7)


def test_cli_next_leaves_out_annotated_articles_and_writes_the_ranking(
    cnn_model: Path, pool: Path, tmp_path: Path
) -> None:
    tasks = read_tasks(pool)
    done = tmp_path / "annotated"  # a folder of annotated files
    write_jsonl(done / "first.jsonl", tasks[:1])
    write_jsonl(done / "more.jsonl", tasks[1:4])
    out = tmp_path / "ranking.jsonl"
    args = ["next", "--model", str(cnn_model), "--articles", str(pool), "--n", "20",
            "--exclude", str(done), "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == POOL_SIZE - 4
    annotated = {t["meta"]["article_id"] for t in tasks[:4]}
    assert not annotated & {r["article_id"] for r in rows}
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert all({"score", "title", "candidates"} <= r.keys() for r in rows)
    assert f"--order {out}" in result.output


@pytest.mark.parametrize(
    ("extra", "says"),
    [(["--n", "0"], "at least 1"), (["--model", "/no/such/model"], "error")],
)
def test_cli_next_refuses_bad_arguments(
    cnn_model: Path, pool: Path, tmp_path: Path, extra: list[str], says: str
) -> None:
    args = ["next", "--model", str(cnn_model), "--articles", str(pool),
            "--out", str(tmp_path / "r.jsonl"), *extra]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and says in result.output
    assert not (tmp_path / "r.jsonl").exists()


def test_cli_next_names_the_bad_line_of_the_pool(cnn_model: Path, tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"text": "YPG fighters entered Rmeilan."}\n{"title": "no text"}\n')
    args = ["next", "--model", str(cnn_model), "--articles", str(pool),
            "--out", str(tmp_path / "r.jsonl")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "pool.jsonl:2" in result.output.replace("\n", "")


# -- with a real doccano ---------------------------------------------------------------


@pytest.mark.doccano
def test_push_order_pushes_only_the_ranked_articles_in_order(
    doccano_server: ServerInfo, doccano_api: DoccanoAPI, project_name: str, pool: Path,
    cnn_model: Path, tmp_path: Path, no_doccano_env: None,
) -> None:  # fmt: skip
    ranking = tmp_path / "ranking.jsonl"
    items = load_push_items(pool)
    active.write_ranking(ranking, active.rank(spacy.load(cnn_model), items, n=5))
    order = active.read_ranking(ranking)
    result = CliRunner().invoke(app, [
        "push", str(pool), "--project", project_name, "--pre-annotate", "none",
        "--order", str(ranking), "--data-dir", str(doccano_server.data_dir),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    project_id = doccano_api.find_project(project_name)
    assert project_id is not None
    pushed = [ex["meta"]["article_id"] for ex in doccano_api.list_examples(project_id)]
    assert pushed == order


@pytest.mark.doccano
def test_push_order_refuses_an_article_the_file_lacks(
    doccano_server: ServerInfo, project_name: str, pool: Path, tmp_path: Path,
    no_doccano_env: None,
) -> None:  # fmt: skip
    ranking = tmp_path / "ranking.jsonl"
    known = load_push_items(pool)[0]["article_id"]
    write_jsonl(ranking, [{"article_id": known}, {"article_id": "0000000000000000"}])
    result = CliRunner().invoke(app, [
        "push", str(pool), "--project", project_name, "--pre-annotate", "none",
        "--order", str(ranking), "--data-dir", str(doccano_server.data_dir),
    ])  # fmt: skip
    assert result.exit_code == 1
    assert "ranking.jsonl:2" in result.output and "not in the articles file" in result.output


@pytest.mark.doccano
def test_next_leaves_out_articles_confirmed_in_doccano(
    doccano_server: ServerInfo, doccano_api: DoccanoAPI, project_name: str, pool: Path,
    cnn_model: Path, tmp_path: Path, no_doccano_env: None,
) -> None:  # fmt: skip
    from conflict_ner.doccano.push import push

    push(pool, project_name, pre_annotate="none", api=doccano_api, guidelines=None)
    project_id = doccano_api.find_project(project_name)
    assert project_id is not None
    examples = doccano_api.list_examples(project_id)
    for ex in examples[:3]:
        doccano_api.confirm(project_id, ex["id"])
    confirmed = {ex["meta"]["article_id"] for ex in examples[:3]}
    out = tmp_path / "ranking.jsonl"
    result = CliRunner().invoke(app, [
        "next", "--model", str(cnn_model), "--articles", str(pool), "--n", "50",
        "--project", project_name, "--out", str(out),
        "--data-dir", str(doccano_server.data_dir),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    ranked = {json.loads(line)["article_id"] for line in out.read_text().splitlines()}
    assert ranked == {i["article_id"] for i in load_push_items(pool)} - confirmed
