"""push and pull against a real doccano: round trip, idempotency, two annotators, failures."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from conflict_ner.cli import app
from conflict_ner.doccano import pull as doccano_pull
from conflict_ner.doccano import push as doccano_push
from conflict_ner.doccano import server
from conflict_ner.doccano.client import Connection, DoccanoAPI, Export
from conflict_ner.doccano.errors import DoccanoAuthError, DoccanoUnreachable
from conflict_ner.files import write_jsonl
from conflict_ner.tasks import make_tokens, read_tasks

pytestmark = pytest.mark.doccano


def cli() -> typer.Typer:
    """The real `conflict-ner` app."""
    return app


@pytest.fixture(scope="module")
def gold(root: Path) -> list[dict[str, Any]]:
    return read_tasks(root / "corpus" / "gold.jsonl")


def _spans(task: dict[str, Any]) -> list[tuple[int, int, str]]:
    return [(s["start"], s["end"], s["label"]) for s in task["spans"]]


def _articles(tmp_path: Path, tasks: list[dict[str, Any]], name: str = "articles.jsonl") -> Path:
    """An articles file (the shape of corpus/articles.jsonl) for some gold tasks."""
    path = tmp_path / name
    write_jsonl(path, [{"id": t["meta"]["article_id"], "text": t["text"]} for t in tasks])
    return path


def test_round_trip_gold_pre_annotations(
    doccano_api: DoccanoAPI, project_name: str, gold: list, root: Path, tmp_path: Path
) -> None:
    # Every committed article, seeds and composed, with the spans of every gold file and folder.
    gold_files = [root / "corpus" / "gold.jsonl", root / "corpus" / "composed"]
    everything = [t for path in gold_files for t in read_tasks(path)]
    report = doccano_push.push(
        root / "corpus" / "articles.jsonl", project_name, gold_paths=gold_files, api=doccano_api
    )
    assert report.added == len(everything)
    assert report.spans == sum(len(t["spans"]) for t in everything)
    result = doccano_pull.pull(project_name, tmp_path / "out", api=doccano_api)
    merged = {t["meta"]["article_id"]: t for t in read_tasks(tmp_path / "out" / "merged.jsonl")}
    assert len(merged) == len(everything)
    for task in everything:
        back = merged[task["meta"]["article_id"]]
        assert _spans(back) == _spans(task)
        # Annotators see only title, date, outlet, theatre, url and article id (those it has).
        assert set(back["meta"]) <= {*doccano_push.META_FIELDS, "doccano_example_id", "annotators"}
        assert back["meta"].get("title") == task["meta"].get("title")
        if task["meta"].get("origin") == "composed":
            assert back["meta"]["outlet"] == task["meta"]["source"]
            # `evaluate --by theatre` on pulled annotations needs it.
            assert back["meta"]["theatre"] == task["meta"]["theatre"]
        assert None not in back["meta"].values()
        assert (back["_input_hash"], back["_task_hash"]) == (
            task["_input_hash"],
            task["_task_hash"],
        )
    assert result.conflicts == 0
    assert (tmp_path / "out" / "raw" / "export_all.zip").is_file()
    annotated = read_tasks(tmp_path / "out" / "annotators" / "admin.jsonl")
    assert {s["annotator"] for t in annotated for s in t["spans"]} == {"admin"}


def test_push_is_idempotent_and_adds_only_new(
    doccano_api: DoccanoAPI, project_name: str, gold: list, tmp_path: Path
) -> None:
    first = doccano_push.push(_articles(tmp_path, gold[:2]), project_name, api=doccano_api)
    again = doccano_push.push(_articles(tmp_path, gold[:2]), project_name, api=doccano_api)
    grown_file = _articles(tmp_path, gold[:4], "grown.jsonl")
    grown = doccano_push.push(grown_file, project_name, api=doccano_api)
    assert (first.added, again.added, again.already) == (2, 0, 2)
    assert (grown.added, grown.already) == (2, 2)
    project_id = doccano_api.find_project(project_name)
    examples = doccano_api.list_examples(project_id)
    assert sorted(e["meta"]["article_id"] for e in examples) == sorted(
        t["meta"]["article_id"] for t in gold[:4]
    )


def _free_token(task: dict[str, Any]) -> tuple[int, int, str]:
    """A capitalised word no gold span touches: an 'extra' span one annotator adds."""
    taken = [(s["start"], s["end"]) for s in task["spans"]]
    for tok in make_tokens(task["text"]):
        free = all(tok["end"] <= s or tok["start"] >= e for s, e in taken)
        if free and tok["text"].istitle() and len(tok["text"]) > 3:
            return tok["start"], tok["end"], "FACTION"
    raise AssertionError("no free token")


def _annotator(admin: DoccanoAPI, url: str, project_id: int, role: str) -> DoccanoAPI:
    """A new doccano user, member of the project, logged in."""
    name, password = f"ann-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.create_user(name, password)
    admin.add_member(project_id, name, role)
    return DoccanoAPI(Connection(url, name, password))


def test_annotators_merge_and_conflicts(
    doccano_api: DoccanoAPI, doccano_connection: Connection, project_name: str, gold: list,
    tmp_path: Path,
) -> None:  # fmt: skip
    one, two = sorted(gold[:3], key=lambda t: len(t["spans"]))[:2]
    doccano_push.push(_articles(tmp_path, [one, two]), project_name, api=doccano_api)
    pid = doccano_api.find_project(project_name)
    ids = {e["meta"]["article_id"]: e["id"] for e in doccano_api.list_examples(pid)}
    ann = _annotator(doccano_api, doccano_connection.url, pid, "annotator")
    ann2 = _annotator(doccano_api, doccano_connection.url, pid, "annotator")
    extra_one, extra_two = _free_token(one), _free_token(two)
    # Example one: admin has gold (pushed), ann has 3 of its spans plus an extra;
    # admin (project admin) confirms it, so admin's version settles the ties.
    ann.add_spans(pid, ids[one["meta"]["article_id"]], [*_spans(one)[:3], extra_one])
    doccano_api.confirm(pid, ids[one["meta"]["article_id"]])
    # Example two: ann2 agrees with gold, ann adds only an extra: a 2/3 majority.
    ann2.add_spans(pid, ids[two["meta"]["article_id"]], _spans(two))
    ann.add_spans(pid, ids[two["meta"]["article_id"]], [extra_two])

    out = tmp_path / "pulled"
    report = doccano_pull.pull(project_name, out, api=doccano_api)

    merged = {t["meta"]["article_id"]: t for t in read_tasks(out / "merged.jsonl")}
    assert _spans(merged[one["meta"]["article_id"]]) == _spans(one)
    assert _spans(merged[two["meta"]["article_id"]]) == _spans(two)
    conflicts = [json.loads(line) for line in (out / "conflicts.jsonl").read_text().splitlines()]
    reasons = {(c["start"], c["end"]): c["reason"] for c in conflicts}
    assert reasons == {
        extra_one[:2]: "tie 1/2, rejected by approver admin",
        extra_two[:2]: "minority 1/3",
    }
    assert report.conflicts == 2 and "minority 1/3" in (out / "conflicts.md").read_text()
    users = {p.stem for p in (out / "annotators").glob("*.jsonl")}
    assert users == {"admin", ann.connection.username, ann2.connection.username}
    pairs = {(p.a, p.b): p for p in report.agreement.pairs}
    admin_ann2 = pairs[tuple(sorted(["admin", ann2.connection.username]))]
    assert admin_ann2.span_f1 == 1.0 and admin_ann2.token_kappa == 1.0
    saved = doccano_pull.PullSummary.from_json(json.loads((out / "agreement.json").read_text()))
    assert saved.agreement == report.agreement
    assert saved.conflicts == {"tie": 1, "minority": 1} and saved.merged_examples == 2

    # Without the pushing account's pre-annotations, example one is ann's alone.
    doccano_pull.pull(project_name, tmp_path / "humans", api=doccano_api, ignore_users=["admin"])
    humans = {t["meta"]["article_id"]: t for t in read_tasks(tmp_path / "humans" / "merged.jsonl")}
    assert _spans(humans[one["meta"]["article_id"]]) == sorted([*_spans(one)[:3], extra_one])
    assert not (tmp_path / "humans" / "annotators" / "admin.jsonl").exists()


def test_wrong_credentials_are_a_clear_error(
    doccano_connection: Connection, doccano_server: server.ServerInfo, no_doccano_env: None,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    with pytest.raises(DoccanoAuthError, match="refused the login for user 'admin'"):
        DoccanoAPI(Connection(doccano_connection.url, "admin", "not-the-password"))
    monkeypatch.setenv("CONFLICT_NER_DOCCANO_URL", doccano_connection.url)
    monkeypatch.setenv("CONFLICT_NER_DOCCANO_USERNAME", "admin")
    monkeypatch.setenv("CONFLICT_NER_DOCCANO_PASSWORD", "not-the-password")
    result = CliRunner().invoke(cli(), ["pull", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "wrong username or password" in result.output
    assert not (tmp_path / "out").exists()


class StopsServerBeforeExport(DoccanoAPI):
    """A real session whose server is shut down (for real) just before the export."""

    data_dir: Path

    def export(self, project_id: int, confirmed_only: bool = False) -> Export:
        server.down(self.data_dir, quiet=True)
        return super().export(project_id, confirmed_only)


def test_server_dying_mid_pull_writes_nothing(
    doccano_venv: Path, gold: list, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
    no_doccano_env: None,
) -> None:  # fmt: skip
    data_dir = tmp_path_factory.mktemp("doomed")
    info = server.up(data_dir, port=server.free_port(), venv=doccano_venv, timeout=180)
    try:
        runner = CliRunner()
        args = ["--data-dir", str(data_dir)]
        pushed = runner.invoke(cli(), ["push", str(_articles(tmp_path, gold[:1])), *args])
        assert pushed.exit_code == 0, pushed.output
        api = StopsServerBeforeExport(Connection(info.url, "admin", _password(data_dir)))
        api.data_dir = data_dir
        out = tmp_path / "out"
        with pytest.raises(DoccanoUnreachable, match=info.url):
            doccano_pull.pull("conflict-ner", out, api=api)
        assert not out.exists()
        result = runner.invoke(cli(), ["pull", "--out", str(out), *args])
        assert result.exit_code == 2, result.output
        assert "unreachable" in result.output and info.url in result.output
        assert not out.exists()
    finally:
        server.down(data_dir, quiet=True)


def _password(data_dir: Path) -> str:
    return server.read_credentials(data_dir)["password"]


def test_push_with_pattern_pre_annotations(
    doccano_api: DoccanoAPI, project_name: str, gold: list, tmp_path: Path
) -> None:
    from conflict_ner.patterns import pre_annotate

    report = doccano_push.push(
        _articles(tmp_path, gold[:1]), project_name, pre_annotate="patterns", api=doccano_api
    )
    expected = pre_annotate([gold[0]["text"]])[0]
    assert report.spans == len(expected) > 0
    doccano_pull.pull(project_name, tmp_path / "out", api=doccano_api)
    [task] = read_tasks(tmp_path / "out" / "merged.jsonl")
    assert _spans(task) == sorted(expected)


def test_push_with_a_model_path(doccano_api: DoccanoAPI, project_name: str, tmp_path: Path) -> None:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "FACTION", "pattern": "YPG"}, {"label": "PLACE", "pattern": "Raqqa"}]
    )
    nlp.to_disk(tmp_path / "model")
    articles = tmp_path / "a.jsonl"
    write_jsonl(articles, [{"id": "x1", "text": "The YPG entered Raqqa on Monday."}])
    report = doccano_push.push(
        articles, project_name, pre_annotate=str(tmp_path / "model"), api=doccano_api
    )
    assert report.spans == 2
    doccano_pull.pull(project_name, tmp_path / "out", api=doccano_api)
    [task] = read_tasks(tmp_path / "out" / "merged.jsonl")
    assert _spans(task) == [(4, 7, "FACTION"), (16, 21, "PLACE")]


def test_import_errors_inside_doccano_are_shown(doccano_api: DoccanoAPI, project_name: str) -> None:
    from conflict_ner.doccano.errors import DoccanoImportError

    project_id = doccano_api.ensure_project(project_name)
    with pytest.raises(DoccanoImportError, match=r"bad\.jsonl line 1: Invalid data in line 1"):
        doccano_api.import_rows(project_id, [{"text": "", "label": []}], "bad.jsonl")
