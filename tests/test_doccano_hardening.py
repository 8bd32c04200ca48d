"""The bridge under stress, against a real doccano: silent servers, wrong URLs, a missing
pre-annotation source, two pushes at once, what annotators see, all-or-nothing pulls."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conflict_ner.cli import app
from conflict_ner.doccano import pull as doccano_pull
from conflict_ner.doccano import push as doccano_push
from conflict_ner.doccano.client import Connection, DoccanoAPI
from conflict_ner.doccano.errors import DoccanoError, DoccanoNotFound, DoccanoUnreachable
from conflict_ner.files import InvalidInput, write_jsonl
from conflict_ner.tasks import make_task, read_tasks

pytestmark = pytest.mark.doccano


@pytest.fixture(scope="module")
def gold(root: Path) -> list[dict[str, Any]]:
    return read_tasks(root / "corpus" / "gold.jsonl")


def _articles(path: Path, tasks: list[dict[str, Any]]) -> Path:
    write_jsonl(path, [{"id": t["meta"]["article_id"], "text": t["text"]} for t in tasks])
    return path


@pytest.fixture()
def silent_server() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)  # the kernel completes the handshakes; nobody ever reads
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_server_that_never_answers_times_out_naming_url_and_timeout(silent_server: str) -> None:
    with pytest.raises(DoccanoUnreachable) as caught:
        DoccanoAPI(Connection(silent_server, "admin", "pw"), timeouts=(2, 1.5))
    message = str(caught.value)
    assert f"no answer from {silent_server}/v1/auth/login/ within 1.5 s" in message


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server with this handler on a free loopback port, in a thread."""
    httpd = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture()
def not_found_server() -> Iterator[str]:
    """A real HTTP server that answers 404 to everything."""
    yield from _serve(_NotFound)


def test_a_404_is_a_wrong_url_not_a_wrong_password(not_found_server: str) -> None:
    with pytest.raises(DoccanoNotFound, match=r"HTTP 404 to log in.*check the doccano URL"):
        DoccanoAPI(Connection(not_found_server, "admin", "pw"))


class _WebPage(http.server.BaseHTTPRequestHandler):
    """Answers everything 200 with an HTML page, as a proxy or a login portal does."""

    def _page(self) -> None:
        body = b"<html><body>Welcome</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _page

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture()
def web_page_server() -> Iterator[str]:
    yield from _serve(_WebPage)


def test_a_server_answering_html_is_named_as_not_doccano(
    web_page_server: str, no_doccano_env: None, monkeypatch: pytest.MonkeyPatch, root: Path,
) -> None:  # fmt: skip
    monkeypatch.setenv("CONFLICT_NER_DOCCANO_URL", web_page_server)
    monkeypatch.setenv("CONFLICT_NER_DOCCANO_USERNAME", "admin")
    monkeypatch.setenv("CONFLICT_NER_DOCCANO_PASSWORD", "pw")
    gold = str(root / "corpus" / "gold.jsonl")
    result = CliRunner().invoke(app, ["push", gold, "--project", "p", "--pre-annotate", "none"])
    assert result.exit_code == 1, result.output
    assert f"{web_page_server} is not doccano's API" in result.output
    assert "is not JSON" in result.output and "Traceback" not in result.output
    assert "Expecting value" not in result.output


def test_a_path_after_doccanos_address_is_a_wrong_url(
    doccano_connection: Connection, no_doccano_env: None, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    # doccano answers a POST outside its API with Django's HTML CSRF page (403).
    wrong = doccano_connection.url + "/doccano"
    with pytest.raises(DoccanoNotFound, match="check the doccano URL"):
        DoccanoAPI(Connection(wrong, "admin", doccano_connection.password))
    monkeypatch.setenv("CONFLICT_NER_DOCCANO_URL", wrong)
    monkeypatch.setenv("CONFLICT_NER_DOCCANO_USERNAME", "admin")
    monkeypatch.setenv("CONFLICT_NER_DOCCANO_PASSWORD", doccano_connection.password)
    result = CliRunner().invoke(app, ["pull", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "not doccano's API" in result.output and "password" not in result.output


def test_a_missing_gold_file_stops_the_push_before_doccano_is_touched(
    doccano_api: DoccanoAPI, project_name: str, gold: list, tmp_path: Path
) -> None:
    articles = _articles(tmp_path / "a.jsonl", gold[:1])
    with pytest.raises(InvalidInput, match="no such gold file"):
        doccano_push.push(articles, project_name, "gold", [tmp_path / "nope.jsonl"], doccano_api)
    assert doccano_api.find_project(project_name) is None
    # The push with the right file then brings the spans.
    gold_file = tmp_path / "gold.jsonl"
    write_jsonl(gold_file, gold[:1])
    report = doccano_push.push(articles, project_name, "gold", [gold_file], doccano_api)
    assert report.spans == len(gold[0]["spans"]) > 0


def test_only_the_gold_of_new_articles_is_validated(
    doccano_api: DoccanoAPI, project_name: str, gold: list, tmp_path: Path
) -> None:
    gold_file = tmp_path / "gold.jsonl"
    write_jsonl(gold_file, gold[:1])
    first = _articles(tmp_path / "a.jsonl", gold[:1])
    doccano_push.push(first, project_name, "gold", [gold_file], doccano_api)
    # The pushed article's gold goes bad: a re-push, which has nothing new, does not care.
    broken = dict(gold[0], spans=[{"start": 0, "end": 3, "label": "NOT-A-LABEL"}])
    write_jsonl(gold_file, [broken, gold[1]])
    assert doccano_push.push(first, project_name, "gold", [gold_file], doccano_api).already == 1
    grown = _articles(tmp_path / "b.jsonl", gold[:2])
    assert doccano_push.push(grown, project_name, "gold", [gold_file], doccano_api).added == 1
    # A bad gold task of a new article is named by file and line, before any import.
    write_jsonl(gold_file, [gold[0], gold[1], dict(gold[2], spans=broken["spans"])])
    with pytest.raises(InvalidInput, match=rf"{gold_file.name}:3|{gold_file.name} line 3"):
        doccano_push.push(
            _articles(tmp_path / "c.jsonl", gold[:3]), project_name, "gold", [gold_file],
            doccano_api,
        )  # fmt: skip
    assert doccano_api.count_examples(doccano_api.find_project(project_name) or 0) == 2


def test_two_pushes_at_once_give_one_project_and_no_duplicates(
    doccano_connection: Connection, project_name: str, gold: list, tmp_path: Path
) -> None:
    articles = _articles(tmp_path / "a.jsonl", gold[:3])
    start = threading.Barrier(2)
    reports: list[doccano_push.PushReport] = []
    errors: list[BaseException] = []

    def one_push() -> None:
        api = DoccanoAPI(doccano_connection)
        start.wait()
        try:
            reports.append(doccano_push.push(articles, project_name, "none", api=api))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=one_push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(r.added for r in reports) == [0, 3]
    api = DoccanoAPI(doccano_connection)
    project_id = api.find_project(project_name)  # raises if there are two
    assert project_id is not None
    texts = [e["text"] for e in api.list_examples(project_id)]
    assert sorted(texts) == sorted(t["text"] for t in gold[:3])


def test_annotators_see_only_title_date_outlet_theatre_url_and_article_id(
    doccano_api: DoccanoAPI, project_name: str, tmp_path: Path
) -> None:
    rows = [
        {"id": "a1", "text": "The YPG entered Raqqa.", "title": "Raqqa", "date": "2017-06-06",
         "url": "https://www.example-news.com/a1", "source": "000_a1.txt", "theatre": "Syria",
         "origin": "seed"},
        {"id": "a2", "text": "The SDF held Manbij.", "source": "Steppe Wire"},
        {"id": "a3", "text": "Clashes in Hasakah.", "source": "003_a3.txt", "title": "Hasakah"},
    ]  # fmt: skip
    write_jsonl(tmp_path / "a.jsonl", rows)
    doccano_push.push(tmp_path / "a.jsonl", project_name, "none", api=doccano_api)
    examples = doccano_api.list_examples(doccano_api.find_project(project_name) or 0)
    metas = {e["meta"]["article_id"]: e["meta"] for e in examples}
    assert metas == {
        "a1": {"title": "Raqqa", "date": "2017-06-06", "outlet": "example-news.com",
               "theatre": "Syria", "url": "https://www.example-news.com/a1", "article_id": "a1"},
        "a2": {"outlet": "Steppe Wire", "article_id": "a2"},
        "a3": {"title": "Hasakah", "article_id": "a3"},
    }  # fmt: skip
    # Examples are known by their text: the same file again adds nothing.
    again = doccano_push.push(tmp_path / "a.jsonl", project_name, "none", api=doccano_api)
    assert (again.added, again.already) == (0, 3)


def test_pull_swaps_in_a_whole_new_folder(
    doccano_api: DoccanoAPI, project_name: str, gold: list, tmp_path: Path
) -> None:
    doccano_push.push(_articles(tmp_path / "a.jsonl", gold[:1]), project_name, api=doccano_api)
    out = tmp_path / "pulled"
    doccano_pull.pull(project_name, out, api=doccano_api)
    # Something in the way of one output (once, this left raw/ new and merged.jsonl old).
    (out / "merged.jsonl").unlink()
    (out / "merged.jsonl").mkdir()
    (out / "annotators" / "someone-gone.jsonl").write_text("{}\n")
    doccano_push.push(_articles(tmp_path / "b.jsonl", gold[:2]), project_name, api=doccano_api)
    doccano_pull.pull(project_name, out, api=doccano_api)
    assert len(read_tasks(out / "merged.jsonl")) == 2
    assert not (out / "annotators" / "someone-gone.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl", "pulled"]


def test_pull_refuses_a_folder_holding_other_files(
    doccano_api: DoccanoAPI, project_name: str, gold: list, tmp_path: Path
) -> None:
    doccano_push.push(_articles(tmp_path / "a.jsonl", gold[:1]), project_name, api=doccano_api)
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "articles.jsonl").write_text("{}\n")
    with pytest.raises(InvalidInput, match=r"holds articles\.jsonl, which pull did not write"):
        doccano_pull.pull(project_name, out, api=doccano_api)
    assert [p.name for p in out.iterdir()] == ["articles.jsonl"]


def test_a_task_made_for_the_gold_matches_by_text_when_ids_differ(
    doccano_api: DoccanoAPI, project_name: str, tmp_path: Path
) -> None:
    text = "The YPG entered Raqqa on Monday."
    write_jsonl(tmp_path / "gold.jsonl", [make_task(text, [(4, 7, "FACTION")], {})])
    write_jsonl(tmp_path / "a.jsonl", [{"id": "other-id", "text": text}])
    report = doccano_push.push(
        tmp_path / "a.jsonl", project_name, "gold", [tmp_path / "gold.jsonl"], doccano_api
    )
    assert report.spans == 1


@pytest.mark.parametrize("which", [0, -1])
def test_a_push_after_examples_were_deleted_in_doccano_adds_them_again(
    doccano_api: DoccanoAPI, project_name: str, gold: list, tmp_path: Path, which: int
) -> None:
    # The second push trusts what the first one saw only while the project is unchanged.
    articles = _articles(tmp_path / "a.jsonl", gold[:3])
    doccano_push.push(articles, project_name, api=doccano_api)
    project_id = doccano_api.find_project(project_name) or 0
    doccano_api.delete_example(project_id, doccano_api.list_examples(project_id)[which]["id"])
    again = doccano_push.push(articles, project_name, api=doccano_api)
    assert (again.added, again.already) == (1, 2)
    assert doccano_push.push(articles, project_name, api=doccano_api).added == 0


def test_doccano_refuses_a_span_the_annotator_already_has(
    doccano_api: DoccanoAPI, project_name: str, tmp_path: Path
) -> None:
    # On a long article doccano draws spans a moment after a scroll, so an annotator
    # can select a name again that already carries their span. The project disallows
    # overlaps, so doccano refuses the second one and the annotation stays single.
    write_jsonl(tmp_path / "a.jsonl", [{"id": "lag", "text": "The YPG entered Raqqa."}])
    doccano_push.push(tmp_path / "a.jsonl", project_name, "none", api=doccano_api)
    project = doccano_api.find_project(project_name) or 0
    (example,) = doccano_api.list_examples(project)
    doccano_api.add_spans(project, example["id"], [(4, 7, "FACTION")])
    with pytest.raises(DoccanoError, match="refused to add a span"):
        doccano_api.add_spans(project, example["id"], [(4, 7, "FACTION")])
    with pytest.raises(DoccanoError, match="refused to add a span"):
        doccano_api.add_spans(project, example["id"], [(4, 15, "PLACE")])
    spans = doccano_api.example_spans(project, example["id"])
    assert [(s["start"], s["end"], s["label"]) for s in spans] == [(4, 7, "FACTION")]
