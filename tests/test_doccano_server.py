"""The local server's lifecycle against a real doccano (session fixture)."""

from __future__ import annotations

import json
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
