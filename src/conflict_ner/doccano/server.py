"""A local doccano 1.8.4 server: its own venv, SQLite database, admin user and processes.

doccano runs in a virtual environment of its own because its pins clash with
ours (it needs pydantic 2; doccano-client and spaCy 3.8.11 here need pydantic 1).
Everything lives in one data folder (default ``.doccano/``)::

    venv/              doccano's venv (or CONFLICT_NER_DOCCANO_VENV)
    db.sqlite3         database, also the Celery broker (sqla+sqlite)
    media/             uploads and exports
    credentials.json   url, admin username/password, Django secret key (mode 0600)
    pids.json          the process groups we started, with their start times
    logs/              web.log, worker.log, setup.log

The folder is created 0700 and doccano runs with umask 077, so its database
(which holds session keys: read, they give a superuser's access) and uploads
are its owner's alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import time
import venv as venv_mod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from rich.console import Console
from rich.text import Text

from conflict_ner.doccano.errors import ConfigError, DoccanoError
from conflict_ner.net import check_port, is_loopback

# The pins doccano 1.8.4 needs to start at all, with the reason for each.
DOCCANO_PINS: tuple[str, ...] = (
    "doccano==1.8.4",
    # doccano pins environs 9.5, which reads marshmallow.__version_info__: gone in
    # marshmallow 4 ("AttributeError ... __version_info__" at `doccano init`).
    "marshmallow<4",
    # doccano pins pandas 1.5.3, built against the numpy 1 ABI: with numpy 2 its
    # import fails ("numpy.dtype size changed"), which breaks import and export.
    "numpy<2",
)
ADMIN_USERNAME = "admin"
HEALTH_PATH = "/v1/health/"
VENV_ENV = "CONFLICT_NER_DOCCANO_VENV"
# Two gunicorn workers and one Celery process: enough for a few annotators on
# SQLite, and light on a 2-core machine (doccano's default is 2*cores+1).
WEB_WORKERS = 2
WORKER_CONCURRENCY = 1
# Files doccano creates (database, uploads, exports) are for their owner only.
PRIVATE_UMASK = 0o077
# What `celery worker` logs once it has declared its queues and listens.
WORKER_READY = b" ready."
# Processes started by up() in this interpreter: held so that they are reaped
# (and not reported as still running) when down() runs in the same process.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass
class ServerInfo:
    """Where a local doccano answers and where its credentials are."""

    url: str
    data_dir: Path
    credentials_path: Path
    pids: dict[str, int] = field(default_factory=dict)
    reused: bool = False


def _console() -> Console:
    return Console(stderr=True)


def venv_path(data_dir: Path, venv: Path | None = None) -> Path:
    """The doccano venv to use: argument, else $CONFLICT_NER_DOCCANO_VENV, else data_dir/venv."""
    if venv is not None:
        return Path(venv).absolute()
    if os.environ.get(VENV_ENV):
        return Path(os.environ[VENV_ENV]).absolute()
    return Path(data_dir).absolute() / "venv"


def _bin(venv: Path, name: str) -> Path:
    return venv / "bin" / name


def _venv_ready(venv: Path) -> bool:
    """True when the venv has doccano installed (its console script exists)."""
    return _bin(venv, "doccano").is_file() and _bin(venv, "gunicorn").is_file()


def ensure_venv(venv: Path, console: Console | None = None) -> Path:
    """Create doccano's venv and pip-install the pinned doccano unless it is there already."""
    console = console or _console()
    if _venv_ready(venv):
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with console.status(Text(f"creating doccano venv at {venv} (a few minutes, once)")):
        venv_mod.EnvBuilder(with_pip=True, clear=venv.exists()).create(venv)
        log = venv.parent / "venv-install.log"
        with log.open("wb") as out:
            result = subprocess.run(
                [str(_bin(venv, "python")), "-m", "pip", "install", *DOCCANO_PINS],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
    if result.returncode != 0 or not _venv_ready(venv):
        raise DoccanoError(f"installing doccano into {venv} failed; see {log}")
    console.print(f"doccano venv ready at {venv}", markup=False)
    return venv


def backend_dir(venv: Path) -> Path:
    """doccano's Django project folder inside the venv (gunicorn's --chdir)."""
    found = sorted(venv.glob("lib/python*/site-packages/backend/config/wsgi.py"))
    if not found:
        raise DoccanoError(f"no doccano backend in {venv}")
    return found[0].parent.parent


def credentials_path(data_dir: Path) -> Path:
    """Where the local server's credentials file lives."""
    return Path(data_dir) / "credentials.json"


def write_secret_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON readable by its owner only (0600 from creation on), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # os.open with mode 0600: the file is never world-readable, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf8") as handle:
            json.dump(payload, handle, indent=2)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_private(path: Path) -> None:
    """Raise ConfigError unless a secrets file is readable by its owner only."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"{path} has mode {mode:o}; a file holding a password must be 0600 (chmod 600 {path})"
        )


def read_credentials(data_dir: Path) -> dict[str, Any]:
    """The local credentials (checked to be mode 0600)."""
    path = credentials_path(data_dir)
    check_private(path)
    return _read_json(path)


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from one of our state files; ConfigError naming the file if it is not."""
    try:
        value = json.loads(path.read_text(encoding="utf8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path} is unreadable or not JSON ({err}); delete it and retry") from err
    if not isinstance(value, dict):
        raise ConfigError(f"{path} does not hold a JSON object; delete it and retry")
    return value


def database_url(data_dir: Path) -> str:
    """doccano's DATABASE_URL for data_dir/db.sqlite3, the path quoted.

    Unquoted, a "#" or "?" in the path would end it (the rest read as a URL
    fragment or query) and the database would land outside the data folder.
    """
    return "sqlite:///" + quote(str(Path(data_dir).absolute() / "db.sqlite3"))


def use_wal(data_dir: Path) -> None:
    """Put the database in write-ahead-log mode (kept in the file): readers, such as the
    task-status polls, then go on while an import writes (in the default mode they
    waited for the lock, and after 5 s answered 500: "database is locked")."""
    with contextlib.closing(sqlite3.connect(Path(data_dir) / "db.sqlite3")) as db:
        db.execute("PRAGMA journal_mode=WAL")


def _server_env(data_dir: Path, secret_key: str) -> dict[str, str]:
    """Environment for every doccano process: all state inside data_dir."""
    data_dir = data_dir.absolute()
    env = dict(os.environ)
    for key in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", VENV_ENV):
        env.pop(key, None)
    env.update(
        {
            "DOCCANO_HOME": str(data_dir),
            "DATABASE_URL": database_url(data_dir),
            # doccano would derive the broker from DATABASE_URL, but SQLAlchemy does
            # not unquote a path: the broker gets the plain path ("?" is refused in up).
            "CELERY_BROKER_URL": f"sqla+sqlite:///{data_dir / 'db.sqlite3'}",
            "MEDIA_ROOT": str(data_dir / "media"),
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            # STANDALONE makes doccano serve its bundled web UI (as `doccano webserver` does).
            "STANDALONE": "True",
            "DEBUG": "False",
            # Unbuffered, so that the logs hold everything even after a kill.
            "PYTHONUNBUFFERED": "1",
            # doccano's settings fall back to a secret key published in its source.
            "SECRET_KEY": secret_key,
        }
    )
    return env


def _run_setup(
    venv: Path, env: dict[str, str], args: list[str], log: Path, stdin: str = ""
) -> None:
    """Run a doccano CLI command to completion (output to log); raise on failure."""
    # The command goes through python -c so that a password can come on stdin:
    # on the command line it would show in `ps` to every local user.
    script = (
        "import sys; pw = sys.stdin.read(); "
        "sys.argv = ['doccano'] + [a.replace('=@stdin', '=' + pw) for a in sys.argv[1:]]; "
        "from backend.cli import main; main()"
    )
    with log.open("ab") as out:
        result = subprocess.run(
            [str(_bin(venv, "python")), "-c", script, *args],
            input=stdin.encode(),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
            timeout=300,
            umask=PRIVATE_UMASK,
        )
    if result.returncode != 0:
        raise DoccanoError(f"`doccano {args[0]}` failed; see {log}")


def _init_database(data_dir: Path, venv: Path, console: Console) -> dict[str, Any]:
    """Migrate the SQLite DB and create the admin once; return the credentials."""
    path = credentials_path(data_dir)
    if path.exists():
        creds = read_credentials(data_dir)
        if (data_dir / "db.sqlite3").exists():
            return creds
    else:
        creds = {
            "username": ADMIN_USERNAME,
            "password": secrets.token_urlsafe(18),
            "secret_key": secrets.token_urlsafe(48),
        }
    env = _server_env(data_dir, creds["secret_key"])
    log = data_dir / "logs" / "setup.log"
    with console.status("initialising doccano's database"):
        _run_setup(venv, env, ["init"], log)
        _run_setup(
            venv,
            env,
            # "--password=VALUE": argparse would read a password that starts
            # with "-" given as a separate argument as an option of its own.
            ["createuser", "--username", creds["username"], "--password=@stdin"],
            log,
            stdin=creds["password"],
        )
    # Written only once the user exists, so a crash above is simply retried.
    write_secret_json(path, creds)
    return creds


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on, or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()  # after "(comm)", which may hold spaces


def start_ticks(pid: int) -> int | None:
    """When a process started (clock ticks since boot), or None if it does not exist."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _group_members(pgid: int) -> list[int]:
    """Every live (not zombie) process of the process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _in_venv(pid: int, venv: Path) -> bool:
    """True if the process runs a program of ``venv`` (its python, or one of its scripts)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2]
    except OSError:
        return False
    return any(Path(os.fsdecode(arg)).is_relative_to(venv) for arg in argv if arg)


def _group_alive(pgid: int, started: int | None, venv: Path) -> bool:
    """True while any process of a group we started runs, even when its leader has died.

    Linux never gives a pid to a new process while a process group of that
    number exists, so with the leader gone every member of group ``pgid`` is
    ours; a live process ``pgid`` that started at another time is a stranger
    (our group is gone and the number reused). Records without a start time
    (older pids.json) fall back on the leader running a program of our venv.
    """
    leader = start_ticks(pgid)
    if leader is not None:
        stranger = leader != started if started is not None else not _in_venv(pgid, venv)
        if stranger:
            return False
    return bool(_group_members(pgid))


def _read_pids(data_dir: Path) -> dict[str, Any]:
    """The pids.json record (empty when there is none); ConfigError if it is corrupt."""
    path = Path(data_dir) / "pids.json"
    if not path.exists():
        return {}
    record = _read_json(path)
    pids, started = record.get("pids"), record.get("started", {})
    valid = (
        isinstance(record.get("url"), str)
        and isinstance(record.get("venv"), str)
        and isinstance(pids, dict)
        and all(isinstance(v, int) and v > 1 for v in pids.values())
        and isinstance(started, dict)
        and all(v is None or isinstance(v, int) for v in started.values())
    )
    if not valid:
        raise ConfigError(
            f"{path} is not a record of doccano processes (url, venv, pids); stop any doccano "
            "processes left running by hand, delete the file and retry"
        )
    return record


def _groups(record: dict[str, Any]) -> dict[str, bool]:
    """For each recorded process group, whether it still runs."""
    venv, started = Path(record["venv"]), record.get("started", {})
    return {
        name: _group_alive(pid, started.get(name), venv) for name, pid in record["pids"].items()
    }


def healthy(url: str, timeout: float = 5.0) -> bool:
    """True if doccano's /v1/health/ answers 200 (web, DB, Celery worker all fine)."""
    try:
        response = requests.get(
            url.rstrip("/") + HEALTH_PATH, headers={"Accept": "application/json"}, timeout=timeout
        )
    except requests.RequestException:
        return False
    return response.status_code == 200


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _spawn(cmd: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start a detached process in its own session (so its group can be killed as one)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            umask=PRIVATE_UMASK,
        )


def _commands(venv: Path, host: str, port: int) -> dict[str, list[str]]:
    """The web server and worker command lines."""
    # `doccano webserver` hard-codes gunicorn's bind to 0.0.0.0 (backend/cli.py),
    # which would expose the server to the network; we run the same gunicorn app
    # with the same options but bound to the host we are given (loopback by default).
    web = [
        str(_bin(venv, "gunicorn")),
        "--bind", f"{host}:{port}",
        "--workers", str(WEB_WORKERS),
        "--chdir", str(backend_dir(venv)),
        "--capture-output",
        "--log-level", "info",
        "--timeout", "300",
        "config.wsgi",
    ]  # fmt: skip
    worker = [str(_bin(venv, "doccano")), "task", "--concurrency", str(WORKER_CONCURRENCY)]
    return {"web": web, "worker": worker}


def _wait_healthy(
    url: str, procs: dict[str, subprocess.Popen[bytes]], logs: Path, timeout: float
) -> None:
    """Wait until /v1/health/ is 200; fail early if a process died, or after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy(url, timeout=3):
            return
        # poll() on our own children: exact, unlike a look at /proc.
        dead = {name: p.returncode for name, p in procs.items() if p.poll() is not None}
        if dead:
            name, code = next(iter(dead.items()))
            raise DoccanoError(
                f"doccano {name} exited during start-up (exit code {code}); see {logs}/{name}.log"
            )
        time.sleep(0.5)
    raise DoccanoError(f"doccano did not become healthy at {url} within {timeout:.0f}s; see {logs}")


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, offset: int, timeout: float) -> None:
    """Wait until the Celery worker logs that it is ready; fail if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with log.open("rb") as handle:
            handle.seek(offset)
            if WORKER_READY in handle.read():
                return
        if proc.poll() is not None:
            raise DoccanoError(
                f"doccano worker exited during start-up (exit code {proc.returncode}); see {log}"
            )
        time.sleep(0.2)
    raise DoccanoError(f"doccano worker was not ready within {timeout:.0f}s; see {log}")


def _start_processes(
    commands: dict[str, list[str]], env: dict[str, str], logs: Path, cwd: Path, timeout: float
) -> dict[str, subprocess.Popen[bytes]]:
    """Start the worker, wait until it is ready, then the web server.

    Both declare Celery's queue in the SQLite broker on start; started together
    on a new database they race to insert it and one dies on
    "UNIQUE constraint failed: kombu_queue.name" (about one fresh start in ten).
    """
    worker_log = logs / "worker.log"
    offset = worker_log.stat().st_size if worker_log.exists() else 0
    worker = _spawn(commands["worker"], env, worker_log, cwd)
    _CHILDREN[worker.pid] = worker
    try:
        _wait_ready(worker, worker_log, offset, timeout)
    except DoccanoError:
        _kill_groups([worker.pid])
        raise
    web = _spawn(commands["web"], env, logs / "web.log", cwd)
    _CHILDREN[web.pid] = web
    return {"web": web, "worker": worker}


def up(
    data_dir: Path = Path(".doccano"),
    host: str = "127.0.0.1",
    port: int = 8000,
    venv: Path | None = None,
    timeout: float = 120.0,
    console: Console | None = None,
) -> ServerInfo:
    """Start (or reuse) a local doccano; return its URL and the credentials file path."""
    console = console or _console()
    data_dir = Path(data_dir).absolute()
    if not is_loopback(host):
        console.print(
            Text.assemble(
                ("warning", "yellow"),
                f" binding {host}: doccano will be reachable from other machines; "
                "use a strong password and TLS in front of it",
            )
        )
    _check_up_arguments(data_dir, port)
    running = _running(data_dir)
    if running is not None:
        console.print(f"doccano already running at {running.url}", markup=False)
        return running
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(mode=0o700, exist_ok=True)
    _make_private(data_dir)
    env_venv = ensure_venv(venv_path(data_dir, venv), console)
    down(data_dir, quiet=True)  # clear stale records of half-dead servers
    creds = _init_database(data_dir, env_venv, console)
    use_wal(data_dir)
    url = f"http://{host}:{port}"
    if not _port_free(host, port):
        raise DoccanoError(f"port {port} on {host} is taken; choose another with --port")
    env = _server_env(data_dir, creds["secret_key"])
    logs = data_dir / "logs"
    procs = _start_processes(_commands(env_venv, host, port), env, logs, data_dir, timeout)
    pids = {name: p.pid for name, p in procs.items()}
    started = {name: start_ticks(pid) for name, pid in pids.items()}
    record = {"url": url, "venv": str(env_venv), "pids": pids, "started": started}
    write_secret_json(data_dir / "pids.json", record)
    with console.status(Text(f"waiting for doccano at {url}")):
        try:
            _wait_healthy(url, procs, logs, timeout)
        except DoccanoError:
            down(data_dir, quiet=True)
            raise
    # The URL goes with the credentials so that clients find the server.
    write_secret_json(credentials_path(data_dir), {**creds, "url": url})
    console.print(
        f"doccano is up at {url} (login: {creds['username']}, password in "
        f"{credentials_path(data_dir)})",
        markup=False,
    )
    return ServerInfo(url, data_dir, credentials_path(data_dir), pids)


def _check_up_arguments(data_dir: Path, port: int) -> None:
    """Raise DoccanoError for a port or data folder doccano cannot use (before any work)."""
    try:
        check_port(port)
    except ValueError as err:
        raise DoccanoError(str(err)) from None
    if "?" in str(data_dir):
        # The Celery broker's SQLAlchemy URL cannot hold a "?" in its path.
        raise DoccanoError(f"the data folder {data_dir} holds a '?'; choose another --data-dir")


def _make_private(data_dir: Path) -> None:
    """Make the database files of an existing data folder (made before umask 077) 0600."""
    for path in data_dir.glob("db.sqlite3*"):
        path.chmod(0o600)


def _running(data_dir: Path) -> ServerInfo | None:
    """The recorded server if all its processes are alive and it is healthy."""
    record = _read_pids(data_dir)
    if not record:
        return None
    if all(_groups(record).values()) and healthy(record["url"]):
        return ServerInfo(
            record["url"], data_dir, credentials_path(data_dir), record["pids"], reused=True
        )
    return None


def _gone(pid: int) -> bool:
    """True when no process of the group is left."""
    # When up() ran in this very process (tests), the leader is our child: reap
    # it, or as a zombie it would keep the group "alive".
    if pid in _CHILDREN and _CHILDREN[pid].poll() is not None:
        del _CHILDREN[pid]
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _kill_groups(pids: list[int], grace: float = 15.0) -> None:
    """SIGTERM process groups we started, all at once; SIGKILL what lingers after grace."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and not all(_gone(pid) for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def down(data_dir: Path = Path(".doccano"), quiet: bool = False) -> list[str]:
    """Stop exactly the process groups recorded in data_dir/pids.json, whole (also when a
    group's leader has died and its children live on); return what was stopped."""
    data_dir = Path(data_dir).absolute()
    record = _read_pids(data_dir)
    stopped: list[str] = []
    if record:
        alive = _groups(record)
        ours = {name: pid for name, pid in record["pids"].items() if alive[name]}
        _kill_groups(list(ours.values()))
        stopped = list(ours)
        (data_dir / "pids.json").unlink(missing_ok=True)
    if not quiet:
        _console().print(f"stopped: {', '.join(stopped)}" if stopped else "doccano was not running")
    return stopped


def status(data_dir: Path = Path(".doccano")) -> dict[str, Any]:
    """The recorded processes, whether each is alive, and whether the server is healthy."""
    data_dir = Path(data_dir).absolute()
    record = _read_pids(data_dir)
    if not record:
        return {"running": False, "url": None, "processes": {}, "healthy": False}
    alive = _groups(record)
    processes = {name: {"pid": pid, "alive": alive[name]} for name, pid in record["pids"].items()}
    ok = healthy(record["url"])
    running = ok and all(p["alive"] for p in processes.values())
    return {"running": running, "url": record["url"], "processes": processes, "healthy": ok}

