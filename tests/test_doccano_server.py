"""The local server's lifecycle against a real doccano (session fixture)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from rich.console import Console
from typer.testing import CliRunner

from conflict_ner.cli import app
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


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_fresh_server_keeps_its_state_private_inside_a_folder_named_with_hash(
    tmp_path: Path, doccano_venv: Path
) -> None:
    # Unquoted in DATABASE_URL, "#" began a URL fragment: the database landed
    # beside the data folder, as a file named "a ".
    data_dir = tmp_path / "a #b %20"
    info = server.up(data_dir, port=server.free_port(), venv=doccano_venv, timeout=180)
    try:
        assert list(tmp_path.iterdir()) == [data_dir]
        assert _mode(data_dir) == 0o700
        for name in ("db.sqlite3", "pids.json", "credentials.json"):
            assert _mode(data_dir / name) == 0o600, name
        web = info.pids["web"]
        members = server._group_members(web)
        assert len(members) == 1 + server.WEB_WORKERS
        # The master killed (as by the OOM killer): its workers live on and hold the port.
        os.kill(web, signal.SIGKILL)
        server._CHILDREN[web].wait()
        assert server._group_members(web) == members[1:]
        assert server.down(data_dir, quiet=True) == ["web", "worker"]
        assert server._group_members(web) == []
        assert server._group_members(info.pids["worker"]) == []
        assert server._port_free("127.0.0.1", int(info.url.rsplit(":", 1)[1]))
    finally:
        server.down(data_dir, quiet=True)


def _stranger(venv: Path) -> subprocess.Popen[bytes]:
    """A process of someone else, whose command line names a path that starts like our venv's."""
    return subprocess.Popen(
        ["/bin/sh", "-c", "exec sleep 60", f"{venv}2/bin/python"], start_new_session=True
    )


@pytest.mark.parametrize("with_start_time", [True, False])
def test_down_leaves_a_process_that_reused_a_recorded_pid_alone(
    tmp_path: Path, with_start_time: bool
) -> None:
    venv = tmp_path / "venv"
    stranger = _stranger(venv)
    try:
        record: dict[str, object] = {"url": "http://127.0.0.1:9", "venv": str(venv),
                                     "pids": {"web": stranger.pid}}  # fmt: skip
        if with_start_time:  # the recorded web server started before this process
            record["started"] = {"web": (server.start_ticks(stranger.pid) or 1) - 1}
        server.write_secret_json(tmp_path / "pids.json", record)
        assert server.down(tmp_path, quiet=True) == []
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def _sh_group(tmp_path: Path) -> subprocess.Popen[bytes]:
    """A process group like gunicorn's: a leader and two children."""
    return server._spawn(
        _sh("sleep 60 & sleep 60 & wait"), dict(os.environ), tmp_path / "g.log", tmp_path
    )


def test_down_stops_the_children_of_a_dead_leader(tmp_path: Path) -> None:
    leader = _sh_group(tmp_path)
    deadline = time.monotonic() + 10
    while len(server._group_members(leader.pid)) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = {"web": server.start_ticks(leader.pid)}
    record = {"url": "http://127.0.0.1:9", "venv": str(tmp_path / "venv"),
              "pids": {"web": leader.pid}, "started": started}  # fmt: skip
    server.write_secret_json(tmp_path / "pids.json", record)
    leader.kill()
    leader.wait()
    assert len(server._group_members(leader.pid)) == 2
    assert server.down(tmp_path, quiet=True) == ["web"]
    assert server._group_members(leader.pid) == []


@pytest.mark.parametrize(
    "content", ["{not json", "[]", '{"url": "x", "venv": "v", "pids": {"web": "12"}}']
)
@pytest.mark.parametrize("command", ["down", "status", "up"])
def test_a_corrupt_pids_file_is_a_clean_error(tmp_path: Path, content: str, command: str) -> None:
    (tmp_path / "pids.json").write_text(content)
    result = CliRunner().invoke(app, ["doccano", command, "--data-dir", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "pids.json" in result.output and "Traceback" not in result.output


def test_a_port_out_of_range_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["doccano", "up", "--port", "70000", "--data-dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 1, result.output
    assert "port 70000 is not a TCP port" in result.output
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("host", "warned"),
    [("127.0.0.1", False), ("127.0.0.2", False), ("localhost", False), ("::1", False),
     ("0.0.0.0", True), ("192.168.1.20", True), ("doccano.example.org", True)],
)  # fmt: skip
def test_only_addresses_beyond_loopback_warn(tmp_path: Path, host: str, warned: bool) -> None:
    console = Console(record=True, width=200)
    with pytest.raises(server.DoccanoError, match="not a TCP port"):
        server.up(tmp_path, host=host, port=0, console=console)
    assert ("warning" in console.export_text()) == warned
