"""The local server's lifecycle against a real doccano (session fixture)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import requests

from conflict_ner.doccano import server

pytestmark = pytest.mark.doccano


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp writes them) listening on a port."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def test_up_is_healthy_on_loopback_only(doccano_server: server.ServerInfo) -> None:
    response = requests.get(doccano_server.url + "/v1/health/", timeout=10)
    assert response.status_code == 200
    port = int(doccano_server.url.rsplit(":", 1)[1])
    assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, not 0.0.0.0


def test_second_up_reuses_the_running_server(
    doccano_server: server.ServerInfo, doccano_venv: Path
) -> None:
    port = int(doccano_server.url.rsplit(":", 1)[1])
    again = server.up(doccano_server.data_dir, port=port, venv=doccano_venv)
    assert again.reused and again.pids == doccano_server.pids
    state = server.status(doccano_server.data_dir)
    assert state["running"] and all(p["alive"] for p in state["processes"].values())


def test_credentials_are_private_and_never_logged(
    doccano_server: server.ServerInfo, capfd: pytest.CaptureFixture[str]
) -> None:
    path = doccano_server.credentials_path
    assert path.stat().st_mode & 0o777 == 0o600
    password = json.loads(path.read_text())["password"]
    logs = "".join(p.read_text(errors="replace") for p in (path.parent / "logs").glob("*.log"))
    assert password not in logs
    assert password not in capfd.readouterr().err


def test_a_password_starting_with_a_dash_is_accepted(
    tmp_path: Path, doccano_venv: Path
) -> None:
    # One generated password in 64 starts with "-"; argparse read it as an option.
    data_dir = tmp_path / "dash"
    (data_dir / "logs").mkdir(parents=True)
    creds = {"username": "admin", "password": "-dash-first", "secret_key": "k" * 48}
    server.write_secret_json(server.credentials_path(data_dir), creds)
    assert server._init_database(data_dir, doccano_venv, server._console()) == creds
    assert (data_dir / "db.sqlite3").exists()


def _sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def test_web_server_starts_only_once_the_worker_is_ready(tmp_path: Path) -> None:
    # Started together on a new database both insert Celery's queue and one dies.
    commands = {
        "worker": _sh('sleep 1; echo "celery@host ready."; exec sleep 60'),
        "web": _sh('grep -q " ready." worker.log && touch web-saw-ready; exec sleep 60'),
    }
    procs = server._start_processes(commands, dict(os.environ), tmp_path, tmp_path, 30)
    try:
        deadline = time.monotonic() + 30
        while procs["web"].poll() is None and not (tmp_path / "web-saw-ready").exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert (tmp_path / "web-saw-ready").exists()
    finally:
        server._kill_groups([p.pid for p in procs.values()])


def test_a_worker_that_dies_at_start_is_reported_and_no_web_server_starts(
    tmp_path: Path,
) -> None:
    commands = {"worker": _sh("exit 3"), "web": _sh("touch web-started")}
    with pytest.raises(server.DoccanoError, match="worker exited during start-up"):
        server._start_processes(commands, dict(os.environ), tmp_path, tmp_path, 30)
    assert not (tmp_path / "web-started").exists()
