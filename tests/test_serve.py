"""`conflict-ner serve`: a real trained pipeline behind a real HTTP server on loopback."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import spacy

from conflict_ner.doccano.server import free_port
from conflict_ner.net import is_loopback
from conflict_ner.scheme import LABELS
from conflict_ner.serve import SpanServer, load_service, make_server

TEXT = "The YGP attacked the NDF in Hassakeh, northeastern Syria, on Monday."
MAX_CHARS = 400


@pytest.fixture(scope="module")
def server(cnn_model: Path) -> Iterator[SpanServer]:
    """The service on a free loopback port, in a thread of this process."""
    httpd = make_server(load_service(str(cnn_model), max_chars=MAX_CHARS), "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def raw_request(
    server: SpanServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict]:
    """One request through http.client, so headers are exactly what the test sends."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), port, timeout=30)
    conn.putrequest(method, path)
    for key, value in (headers or {}).items():
        conn.putheader(key, value)
    conn.endheaders(body)
    response = conn.getresponse()
    payload = json.loads(response.read().decode("utf8"))
    conn.close()
    return response.status, payload


def test_health_names_the_model_and_labels(server: SpanServer, cnn_model: Path) -> None:
    response = requests.get(f"{server.url}/health", timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["labels"] == list(LABELS)
    meta = spacy.load(cnn_model).meta
    assert body["model"] == f"{meta['name']}-{meta['version']}"
    assert body["max_chars"] == MAX_CHARS


def test_predict_answers_the_pipelines_own_entities(server: SpanServer, cnn_model: Path) -> None:
    response = requests.post(f"{server.url}/predict", json={"text": TEXT}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    spans = response.json()["spans"]
    expected = [(e.start_char, e.end_char, e.label_) for e in spacy.load(cnn_model)(TEXT).ents]
    assert expected, "the test model should find something in TEXT"
    assert [(s["start_offset"], s["end_offset"], s["label"]) for s in spans] == expected
    assert all(TEXT[s["start_offset"] : s["end_offset"]] == s["text"] for s in spans)


def test_keep_alive_connection_serves_several_requests(server: SpanServer) -> None:
    with requests.Session() as session:
        answers = [
            session.post(f"{server.url}/predict", json={"text": TEXT}, timeout=30) for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len({json.dumps(a.json()) for a in answers}) == 1


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b'{"text": ""}', 400, "empty"),
        (b'{"text": "   \\n "}', 400, "empty"),
        (b'{"txt": "YPG"}', 400, '{"text": "..."}'),
        (b'["YPG"]', 400, '{"text": "..."}'),
        (b'{"text": 42}', 400, "must be a string"),
        (b'{"text": "YPG"', 400, "not UTF-8 JSON"),
        (b"\xff\xfe", 400, "not UTF-8 JSON"),
        (json.dumps({"text": "a" * (MAX_CHARS + 1)}).encode(), 413, f"at most {MAX_CHARS}"),
    ],
)
def test_bad_bodies_get_a_json_error(
    server: SpanServer, body: bytes, status: int, says: str
) -> None:
    got, payload = raw_request(
        server,
        "POST",
        "/predict",
        body,
        {"Content-Type": "application/json", "Content-Length": str(len(body))},
    )
    assert got == status
    assert says in payload["error"]
    assert "Traceback" not in payload["error"]


def test_oversized_body_is_refused_before_it_is_read(server: SpanServer) -> None:
    limit = server.service.max_body_bytes
    got, payload = raw_request(
        server, "POST", "/predict", b"{}", {"Content-Length": str(limit + 1)}
    )
    assert got == 413 and str(limit) in payload["error"]


def test_missing_content_length_is_refused(server: SpanServer) -> None:
    got, payload = raw_request(server, "POST", "/predict")
    assert got == 411 and "Content-Length" in payload["error"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/predict", 405),
        ("POST", "/health", 405),
        ("GET", "/", 404),
        ("DELETE", "/predict", 405),
        ("GET", "/admin", 404),
    ],
)
def test_wrong_routes_get_a_json_error(
    server: SpanServer, method: str, path: str, status: int
) -> None:
    got, payload = raw_request(
        server,
        method,
        path,
        b"" if method != "GET" else None,
        {"Content-Length": "0"} if method != "GET" else {},
    )
    assert got == status and payload["error"]


def test_negative_content_length_is_refused(server: SpanServer) -> None:
    got, payload = raw_request(server, "POST", "/predict", b"", {"Content-Length": "-5"})
    assert got == 400 and "not a size" in payload["error"]


def test_http_servers_own_refusals_are_json(server: SpanServer) -> None:
    got, payload = raw_request(server, "PATCH", "/predict", b"", {"Content-Length": "0"})
    assert got == 501 and payload["error"]
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), port), timeout=30) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        reply = sock.makefile("rb").read().decode("utf8")
    # No version in the request line means HTTP/0.9: a bare body, no status line.
    assert "Bad request syntax" in json.loads(reply)["error"]


def test_the_service_still_answers_after_bad_requests(server: SpanServer) -> None:
    raw_request(server, "POST", "/predict", b"not json", {"Content-Length": "8"})
    assert requests.post(f"{server.url}/predict", json={"text": TEXT}, timeout=30).ok


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_only_loopback_addresses_count_as_private(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_cli_serves_until_stopped(cnn_model: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "conflict_ner", "serve", str(cnn_model), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        body = wait_for_health(f"http://127.0.0.1:{port}", process)
        assert body["status"] == "ok"
        answer = requests.post(f"http://127.0.0.1:{port}/predict", json={"text": TEXT}, timeout=30)
        assert answer.ok and "spans" in answer.json()
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/predict" in stderr
    assert "exposed" not in stderr


def test_cli_refuses_a_model_that_does_not_load(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "conflict_ner", "serve", str(tmp_path / "nothing")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "error" in result.stderr and "Traceback" not in result.stderr


def wait_for_health(url: str, process: subprocess.Popen, timeout: float = 120) -> dict:
    """Poll /health until the served model answers (it loads the pipeline first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {process.communicate()[1]}")
        try:
            return requests.get(f"{url}/health", timeout=5).json()
        except requests.ConnectionError:
            time.sleep(0.3)
    raise AssertionError("serve did not answer /health in time")


def test_a_taken_port_is_one_line_naming_the_address(cnn_model: Path) -> None:
    from typer.testing import CliRunner

    from conflict_ner.cli import app

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", str(cnn_model), "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert f"127.0.0.1:{port}" in result.output
    assert "the port is taken" in result.output and "Traceback" not in result.output
