"""A real doccano for the tests: started once per session with our own up(), stopped after.

Building doccano's venv takes minutes, so the fixture reuses the venv named by
$CONFLICT_NER_DOCCANO_VENV (the Makefile/CI prebuild it), else the repository's
.doccano/venv, building it there the first time.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conflict_ner.doccano import server
from conflict_ner.doccano.client import Connection, DoccanoAPI, resolve_connection

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def doccano_venv() -> Path:
    """doccano's venv: $CONFLICT_NER_DOCCANO_VENV, else <repo>/.doccano/venv (built if missing)."""
    path = Path(os.environ.get(server.VENV_ENV) or ROOT / ".doccano" / "venv")
    return server.ensure_venv(path.absolute())


@pytest.fixture(scope="session")
def doccano_server(
    tmp_path_factory: pytest.TempPathFactory, doccano_venv: Path
) -> Iterator[server.ServerInfo]:
    """A local doccano on a free loopback port in a temporary data folder."""
    data_dir = tmp_path_factory.mktemp("doccano")
    info = server.up(data_dir, port=server.free_port(), venv=doccano_venv, timeout=180)
    try:
        yield info
    finally:
        server.down(data_dir, quiet=True)


@pytest.fixture(scope="session")
def doccano_connection(doccano_server: server.ServerInfo) -> Connection:
    """The admin connection of the test server (read from its 0600 credentials file)."""
    return resolve_connection(doccano_server.data_dir)


@pytest.fixture()
def doccano_api(doccano_connection: Connection) -> DoccanoAPI:
    """A fresh admin session."""
    return DoccanoAPI(doccano_connection)


@pytest.fixture()
def project_name() -> str:
    """A project name no other test uses."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def no_doccano_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's CONFLICT_NER_DOCCANO_* settings out of the test."""
    for key in list(os.environ):
        if key.startswith("CONFLICT_NER_DOCCANO_") and key != server.VENV_ENV:
            monkeypatch.delenv(key)
