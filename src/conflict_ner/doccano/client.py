"""The one adapter around doccano's REST API (doccano-client 1.2.8 underneath).

Nothing outside this module knows doccano's URLs, payloads or file formats.
doccano-client's public repositories and use cases do the requests, over one
session whose every request has a connect and a read timeout. Every call goes
through ``_guard``: transient failures (connection refused or reset, connect
timeouts, 5xx) are retried with backoff, then turned into
``DoccanoUnreachable``; a read timeout is not retried (a server that takes a
request and never answers would only hang longer); a 404 becomes
``DoccanoNotFound`` (at login: a wrong URL); a refused login becomes
``DoccanoAuthError``.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import requests
from doccano_client.exceptions import DoccanoAPIError
from doccano_client.models.data_download import Option as ExportOption
from doccano_client.models.data_upload import Task as ImportTask
from doccano_client.models.label import Span
from doccano_client.repositories.base import BaseRepository
from doccano_client.repositories.data_download import DataDownloadRepository
from doccano_client.repositories.data_upload import DataUploadRepository
from doccano_client.repositories.example import ExampleRepository
from doccano_client.repositories.label import SpanRepository
from doccano_client.repositories.label_type import SpanTypeRepository
from doccano_client.repositories.member import MemberRepository
from doccano_client.repositories.project import ProjectRepository
from doccano_client.repositories.role import RoleRepository
from doccano_client.repositories.task_status import TaskStatusRepository
from doccano_client.repositories.user import UserRepository
from doccano_client.services.label_type import LabelTypeService
from doccano_client.usecase.label_type import LabelTypeUseCase
from doccano_client.usecase.member import MemberUseCase
from doccano_client.usecase.project import ProjectUseCase
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from conflict_ner.doccano import server
from conflict_ner.doccano.errors import (
    ConfigError,
    DoccanoAuthError,
    DoccanoError,
    DoccanoImportError,
    DoccanoNotFound,
    DoccanoUnreachable,
)
from conflict_ner.scheme import SCHEME, Label

T = TypeVar("T")

ENV_URL = "CONFLICT_NER_DOCCANO_URL"
ENV_USERNAME = "CONFLICT_NER_DOCCANO_USERNAME"
ENV_PASSWORD = "CONFLICT_NER_DOCCANO_PASSWORD"
ENV_PASSWORD_FILE = "CONFLICT_NER_DOCCANO_PASSWORD_FILE"

PROJECT_TYPE = "SequenceLabeling"
EXPORT_FORMAT = "JSONL"
PAGE = 200  # examples per listing request (doccano's own page size is 5)
ATTEMPTS = 4  # first try + 3 retries, backoff 0.5 s, 1 s, 2 s
# Seconds to connect, and to wait for each answer. doccano answers every call
# we make in well under a second on loopback; slow work (imports, exports) runs
# in its Celery worker and is polled (wait_task), so no answer takes minutes.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0
Timeouts = tuple[float, float]


@dataclass(frozen=True)
class Connection:
    """Where doccano is and who we log in as; the password never shows in repr."""

    url: str
    username: str
    password: str = field(repr=False)


def resolve_connection(data_dir: Path = Path(".doccano")) -> Connection:
    """URL and credentials from CONFLICT_NER_DOCCANO_* env vars, else the local server's file."""
    url = os.environ.get(ENV_URL)
    if url:
        username = os.environ.get(ENV_USERNAME)
        password = _env_password()
        if not username or password is None:
            raise ConfigError(
                f"{ENV_URL} is set; also set {ENV_USERNAME} and {ENV_PASSWORD} "
                f"(or {ENV_PASSWORD_FILE}, a file of mode 0600)"
            )
        return Connection(url.rstrip("/"), username, password)
    path = server.credentials_path(data_dir)
    if not path.exists():
        raise ConfigError(
            f"no doccano configured: run `conflict-ner doccano up` (writes {path}) "
            f"or set {ENV_URL}, {ENV_USERNAME} and {ENV_PASSWORD} or {ENV_PASSWORD_FILE}"
        )
    creds = server.read_credentials(data_dir)
    if "url" not in creds:
        raise ConfigError(f"{path} names no URL: start the server with `conflict-ner doccano up`")
    return Connection(creds["url"], creds["username"], creds["password"])


def _env_password() -> str | None:
    """The password from the env var, or from a 0600 file the env names."""
    if os.environ.get(ENV_PASSWORD) is not None:
        return os.environ[ENV_PASSWORD]
    file = os.environ.get(ENV_PASSWORD_FILE)
    if not file:
        return None
    path = Path(file)
    if not path.is_file():
        raise ConfigError(f"{ENV_PASSWORD_FILE} names {path}, which is not a file")
    server.check_private(path)
    return path.read_text(encoding="utf8").strip()


def _transient(err: BaseException) -> bool:
    """Worth retrying: no connection, reset, connect timeout, or a 5xx answer.

    A read timeout is not: the server took the request and did not answer in
    time, and asking again would multiply the wait.
    """
    if isinstance(err, DoccanoAPIError):
        return err.response is not None and err.response.status_code >= 500
    return isinstance(err, requests.ConnectionError) and not isinstance(err, requests.ReadTimeout)


def _refused(err: BaseException) -> bool:
    """Safe to retry even a POST: the request never reached the server."""
    return isinstance(err, requests.ConnectionError) and "refused" in str(err).lower()


def _api_message(err: DoccanoAPIError) -> str:
    """doccano's own error text from a failed response."""
    response = err.response
    if response is None:
        return str(err)
    try:
        return json.dumps(response.json(), ensure_ascii=False)
    except ValueError:
        return f"{response.status_code} {response.reason}: {response.text[:300]}"


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request that names no timeout of its own the (connect, read) timeouts."""

    def __init__(self, timeouts: Timeouts) -> None:
        super().__init__()
        self.timeouts = timeouts

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeouts
        return super().send(request, **kwargs)


class _Repository(BaseRepository):
    """doccano-client's base repository (one logged-in session) with timeouts on every call."""

    def __init__(self, base_url: str, timeouts: Timeouts) -> None:
        super().__init__(base_url)
        adapter = _TimeoutAdapter(timeouts)
        for scheme in ("http://", "https://"):
            self._session.mount(scheme, adapter)


@dataclass
class ImportReport:
    """What one bulk import did."""

    rows: int
    task_id: str


@dataclass
class Export:
    """Per-user rows of a doccano JSONL export, plus the raw zip bytes."""

    raw: bytes
    rows_by_user: dict[str, list[dict[str, Any]]]


class DoccanoAPI:
    """A logged-in session with one doccano server."""

    def __init__(
        self,
        connection: Connection,
        task_timeout: float = 300.0,
        timeouts: Timeouts = (CONNECT_TIMEOUT, READ_TIMEOUT),
    ) -> None:
        """Log in; raise DoccanoUnreachable, DoccanoNotFound or DoccanoAuthError, clearly."""
        self.connection = connection
        self.task_timeout = task_timeout
        self.timeouts = timeouts
        self._base = _Repository(connection.url, timeouts)
        self._projects = ProjectUseCase(ProjectRepository(self._base))
        span_types = SpanTypeRepository(self._base)
        self._span_types = LabelTypeUseCase(span_types, LabelTypeService(span_types))
        self._users = UserRepository(self._base)
        self._members = MemberUseCase(
            MemberRepository(self._base), self._users, RoleRepository(self._base)
        )
        self._examples = ExampleRepository(self._base)
        self._spans = SpanRepository(self._base)
        self._tasks = TaskStatusRepository(self._base)
        self._uploads = DataUploadRepository(self._base)
        self._exports = DataDownloadRepository(self._base)
        self._login()

    # -- plumbing -------------------------------------------------------------
    def _guard(self, call: Callable[[], T], what: str, idempotent: bool = True) -> T:
        """Run one API call with retries; translate failures into our errors."""
        retry_on = _transient if idempotent else _refused
        retrying = Retrying(
            retry=retry_if_exception(retry_on),
            stop=stop_after_attempt(ATTEMPTS),
            wait=wait_exponential(multiplier=0.5, max=4),
            reraise=True,
        )
        try:
            return retrying(call)
        except requests.Timeout as err:
            raise DoccanoUnreachable(self.connection.url, self._timed_out(err, what)) from err
        except requests.ConnectionError as err:
            raise DoccanoUnreachable(self.connection.url, f"{what}: {_short(err)}") from err
        except requests.JSONDecodeError as err:
            # A web page (a proxy, a login portal, another app) answers 200 with HTML.
            raise DoccanoNotFound(self.connection.url, f"its answer to {what} is not JSON") from err
        except DoccanoAPIError as err:
            status = err.response.status_code if err.response is not None else 0
            if status == 404:
                url = err.response.url if err.response is not None else self.connection.url
                raise DoccanoNotFound(url, f"HTTP 404 to {what}") from err
            if status >= 500:
                raise DoccanoUnreachable(
                    self.connection.url, f"{what}: server error {_api_message(err)}"
                ) from err
            if status in (401, 403):
                raise DoccanoAuthError(
                    f"doccano user {self.connection.username!r} may not {what} "
                    f"(HTTP {status}: {_api_message(err)})"
                ) from err
            raise DoccanoError(f"doccano refused to {what}: {_api_message(err)}") from err
        except RetryError as err:  # pragma: no cover - reraise=True makes this unreachable
            raise DoccanoUnreachable(self.connection.url, what) from err

    def _timed_out(self, err: requests.Timeout, what: str) -> str:
        """Which URL did not answer, and within which timeout."""
        request = err.request
        url = str(request.url) if request is not None else self.connection.url
        if isinstance(err, requests.ConnectTimeout):
            return f"{what}: could not connect to {url} within {self.timeouts[0]:g} s"
        return f"{what}: no answer from {url} within {self.timeouts[1]:g} s (read timeout)"

    def _login(self) -> None:
        user = self.connection.username

        def call() -> None:
            self._base.login(user, self.connection.password)

        try:
            self._guard(call, "log in", idempotent=True)
        except (DoccanoUnreachable, DoccanoNotFound):
            raise
        except DoccanoError as err:
            response = getattr(err.__cause__, "response", None)
            if response is None or "json" not in response.headers.get("content-type", ""):
                # doccano answers a refused login in JSON; an HTML 403 (Django's CSRF
                # page) comes from posting to a path that is not doccano's API.
                status = response.status_code if response is not None else "no"
                url = response.url if response is not None else self.connection.url
                raise DoccanoNotFound(url, f"HTTP {status} answer to a login") from None
            raise DoccanoAuthError(
                f"doccano at {self.connection.url} refused the login for user {user!r}: "
                "wrong username or password (check the credentials file or "
                f"{ENV_USERNAME}/{ENV_PASSWORD})"
            ) from None

    def _get_json(self, resource: str, what: str, **params: Any) -> Any:
        return self._guard(lambda: self._base.get(resource, params=params).json(), what)

    # -- projects and labels --------------------------------------------------
    def find_project(self, name: str) -> int | None:
        """The id of the project with this name, or None."""
        projects = self._guard(lambda: list(self._projects.list()), "list projects")
        matches = [p.id for p in projects if p.name == name]
        if len(matches) > 1:
            raise DoccanoError(f"doccano has {len(matches)} projects named {name!r}; rename one")
        return matches[0] if matches else None

    def ensure_project(
        self, name: str, guideline: str = "", labels: Iterable[Label] = SCHEME
    ) -> int:
        """The id of a SequenceLabeling project with our labels, created if missing."""
        project_id = self.find_project(name)
        if project_id is None:
            project = self._guard(
                lambda: self._projects.create(
                    name=name,
                    project_type=PROJECT_TYPE,
                    description="FACTION and PLACE mentions in conflict news (conflict-ner)",
                    guideline=guideline,
                    # Off: each annotator labels independently, so doccano exports
                    # one file per user and we can measure agreement and merge.
                    collaborative_annotation=False,
                    allow_overlapping=False,
                ),
                f"create project {name!r}",
                idempotent=False,
            )
            project_id = project.id
        self.ensure_labels(project_id, labels)
        return int(project_id)

    def ensure_labels(self, project_id: int, labels: Iterable[Label] = SCHEME) -> None:
        """Create the span labels (colour, shortcut key) that the project lacks."""
        existing = {
            t.text
            for t in self._guard(lambda: self._span_types.list(project_id), "list labels")
        }
        for label in labels:
            if label.name in existing:
                continue
            self._guard(
                partial(
                    self._span_types.create,
                    project_id, text=label.name, color=label.color, suffix_key=label.shortcut,
                ),
                f"create label {label.name}",
                idempotent=False,
            )

    def label_names(self, project_id: int) -> dict[int, str]:
        """Span label ids to names."""
        types = self._guard(lambda: self._span_types.list(project_id), "list labels")
        return {t.id: t.text for t in types}

    # -- examples ----------------------------------------------------------------
    def iter_examples(self, project_id: int, offset: int = 0) -> Iterator[dict[str, Any]]:
        """Every example from ``offset`` on, in upload order: id, text, meta, is_confirmed
        (by us), annotation_approver."""
        # doccano-client's ExampleRepository.list pages by doccano's default of 5
        # examples a request; we ask for PAGE at a time on the same endpoint.
        while True:
            page = self._get_json(
                f"projects/{project_id}/examples", "list examples", limit=PAGE, offset=offset
            )
            yield from page["results"]
            offset += len(page["results"])
            if not page.get("next") or not page["results"]:
                return

    def list_examples(self, project_id: int, offset: int = 0) -> list[dict[str, Any]]:
        """All examples of a project (from ``offset`` on), in upload order."""
        return list(self.iter_examples(project_id, offset))

    def count_examples(self, project_id: int) -> int:
        """How many examples the project holds (one small request)."""
        page = self._get_json(f"projects/{project_id}/examples", "count examples", limit=1)
        return int(page["count"])

    def newest_example(self, project_id: int) -> dict[str, Any] | None:
        """The example uploaded last (one small request), or None in an empty project."""
        page = self._get_json(
            f"projects/{project_id}/examples", "find the newest example",
            limit=1, ordering="-created_at",
        )  # fmt: skip
        return page["results"][0] if page["results"] else None

    # -- bulk import ----------------------------------------------------------------
    def import_rows(self, project_id: int, rows: list[dict[str, Any]], name: str) -> ImportReport:
        """Import rows (text, label [[start, end, label]...], meta fields), in order.

        Spans land as the logged-in user's annotations. doccano reads an import
        in pandas frames of 1,000 rows and gives a row without a field that
        another row of its frame has the meta value NaN (which then breaks its
        web page); so each run of rows with the same fields is one upload and
        import of its own. doccano reports row problems inside its task
        result; those raise DoccanoImportError with doccano's own messages.
        """
        task_ids = [self._import_run(project_id, run, name) for run in _runs_by_fields(rows)]
        return ImportReport(len(rows), ",".join(task_ids))

    def _import_run(self, project_id: int, rows: list[dict[str, Any]], name: str) -> str:
        """One upload and import task; return the task id."""
        with tempfile.TemporaryDirectory(prefix="conflict-ner-push-") as tmp:
            path = Path(tmp) / name
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf8")
            upload_id = self._guard(
                lambda: self._uploads.upload(str(path)), "upload the file", idempotent=False
            )
        task_id = self._guard(
            lambda: self._uploads.ingest(
                project_id,
                [upload_id],
                ImportTask.SEQUENCE_LABELING,
                "JSONL",
                column_data="text",
                column_label="label",
            ),
            "start the import",
            idempotent=False,
        )
        result = self.wait_task(task_id, "import")
        errors = (result or {}).get("error") or []
        if errors:
            raise DoccanoImportError(
                [
                    f"{e.get('filename', name)} line {e.get('line')}: {e.get('message')}"
                    for e in errors
                ]
            )
        return str(task_id)

    def wait_task(self, task_id: str, what: str) -> Any:
        """Wait (bounded) for a Celery task; return its result or raise doccano's error."""
        deadline = time.monotonic() + self.task_timeout
        while True:
            try:
                status = self._guard(partial(self._tasks.get, task_id), f"check the {what} task")
            except DoccanoUnreachable as err:
                # A 5xx while the task writes (a locked database) is worth waiting out.
                if not isinstance(err.__cause__, DoccanoAPIError) or time.monotonic() > deadline:
                    raise
                continue
            if status.ready:
                if status.error:
                    raise DoccanoError(f"doccano's {what} task failed: {status.error}")
                return status.result
            if time.monotonic() > deadline:
                raise DoccanoError(
                    f"doccano's {what} task did not finish in {self.task_timeout:.0f}s: "
                    "is its worker (`doccano task`) running?"
                )
            time.sleep(0.3)

    # -- export ----------------------------------------------------------------------
    def export(self, project_id: int, confirmed_only: bool = False) -> Export:
        """Every member's annotations (doccano's per-user JSONL export, all in memory)."""
        what = "export confirmed examples" if confirmed_only else "export annotations"
        task_id = self._guard(
            lambda: self._exports.schedule_download(
                project_id, ExportOption(name=EXPORT_FORMAT), confirmed_only
            ),
            what,
            idempotent=False,
        )
        self.wait_task(task_id, "export")
        with tempfile.TemporaryDirectory(prefix="conflict-ner-export-") as tmp:
            path = self._guard(
                lambda: self._exports.download(project_id, task_id, tmp), "download the export"
            )
            raw = Path(path).read_bytes()
        return Export(raw, parse_export_zip(raw))

    def members(self, project_id: int) -> list[dict[str, Any]]:
        """Project members: username and role name."""
        members = self._guard(lambda: self._members.list(project_id), "list members")
        return [{"username": m.username, "role": m.rolename, "user_id": m.user} for m in members]

    # -- administration and annotating (used by tests and by team set-up) --------------
    def create_user(self, username: str, password: str) -> None:
        """Create a doccano user (needs a staff account)."""
        self._guard(
            lambda: self._users.create_user(username, password),
            f"create user {username!r}",
            idempotent=False,
        )

    def add_member(self, project_id: int, username: str, role: str = "annotator") -> None:
        """Add a user to a project: role is annotator, annotation_approver or project_admin."""
        self._guard(
            lambda: self._members.add(project_id, username, role),
            f"add {username!r} to project {project_id}",
            idempotent=False,
        )

    def add_spans(
        self, project_id: int, example_id: int, spans: Iterable[tuple[int, int, str]]
    ) -> None:
        """Annotate one example as the logged-in user (what an annotator does in the UI)."""
        ids = {name: i for i, name in self.label_names(project_id).items()}
        for start, end, label in spans:
            span = Span(example=example_id, start_offset=start, end_offset=end, label=ids[label])
            self._guard(
                partial(self._spans.create, project_id, span),
                f"add a span to example {example_id}",
                idempotent=False,
            )

    def delete_example(self, project_id: int, example_id: int) -> None:
        """Delete one example and its annotations (needs a project admin)."""
        self._guard(
            lambda: self._examples.delete(project_id, example_id),
            f"delete example {example_id}",
            idempotent=False,
        )

    def confirm(self, project_id: int, example_id: int) -> None:
        """Mark an example as done by the logged-in user (doccano's checkmark; it toggles)."""
        self._guard(
            lambda: self._examples.update_state(project_id, example_id),
            f"confirm example {example_id}",
            idempotent=False,
        )

    # -- auto-labelling (doccano/autolabel.py builds the configs) -------------------
    def auto_labeling_configs(self, project_id: int) -> list[dict[str, Any]]:
        """The project's auto-labelling configs (needs a project admin)."""
        configs: list[dict[str, Any]] = self._get_json(
            f"projects/{project_id}/auto-labeling/configs", "list auto-labelling configs"
        )
        return configs

    def save_auto_labeling_config(
        self, project_id: int, config: dict[str, Any], config_id: int | None = None
    ) -> int:
        """Create an auto-labelling config, or replace config_id's; return its id."""
        resource = f"projects/{project_id}/auto-labeling/configs"
        if config_id is None:
            call = partial(self._base.post, resource, json=config)
        else:
            call = partial(self._base.put, f"{resource}/{config_id}", json=config)
        what = "save the auto-labelling config"
        saved = self._guard(call, what, idempotent=config_id is not None)
        return int(saved.json()["id"])

    def delete_auto_labeling_config(self, project_id: int, config_id: int) -> None:
        """Delete one auto-labelling config."""
        self._guard(
            lambda: self._base.delete(f"projects/{project_id}/auto-labeling/configs/{config_id}"),
            f"delete auto-labelling config {config_id}",
        )

    def try_auto_labeling_request(
        self, project_id: int, model_name: str, model_attrs: dict[str, Any], text: str
    ) -> Any:
        """doccano's own trial call of a request model on a text: the service's JSON answer."""
        payload = {"model_name": model_name, "model_attrs": model_attrs, "text": text}
        return self._guard(
            lambda: self._base.post(
                f"projects/{project_id}/auto-labeling/request-testing", json=payload
            ).json(),
            "call the model service from doccano",
        )

    def try_auto_labeling_template(
        self, project_id: int, response: Any, template: str, task_type: str
    ) -> list[dict[str, Any]]:
        """doccano's own rendering of a service answer through a response template."""
        payload = {"response": response, "template": template, "task_type": task_type}
        labels: list[dict[str, Any]] = self._guard(
            lambda: self._base.post(
                f"projects/{project_id}/auto-labeling/label-extractor-testing", json=payload
            ).json(),
            "map the model service's answer",
        )
        return labels

    def auto_label(self, project_id: int, example_id: int) -> None:
        """Run the project's auto-labelling on one example as the logged-in user (the UI's
        auto-labelling switch does this for each example an annotator opens)."""
        self._guard(
            lambda: self._base.post(
                f"projects/{project_id}/auto-labeling", params={"example": example_id}, json={}
            ),
            f"auto-label example {example_id}",
            idempotent=False,
        )

    def example_spans(self, project_id: int, example_id: int) -> list[dict[str, Any]]:
        """The logged-in user's spans on one example: start, end, label name, user id."""
        names = self.label_names(project_id)
        spans = self._get_json(
            f"projects/{project_id}/examples/{example_id}/spans", f"list spans of {example_id}"
        )
        return [
            {"start": s["start_offset"], "end": s["end_offset"], "label": names.get(s["label"]),
             "user": s["user"]}
            for s in spans
        ]  # fmt: skip


def _runs_by_fields(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive rows with the same set of fields, as runs (order kept)."""
    runs: list[list[dict[str, Any]]] = []
    for row in rows:
        if runs and runs[-1][0].keys() == row.keys():
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def parse_export_zip(raw: bytes) -> dict[str, list[dict[str, Any]]]:
    """{username: rows} from doccano's export zip (one <username>.jsonl per member)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for name in archive.namelist():
            if not name.endswith(".jsonl"):
                continue
            user = Path(name).stem
            lines = archive.read(name).decode("utf8").splitlines()
            rows[user] = [json.loads(line) for line in lines if line.strip()]
    return rows


def _short(err: BaseException) -> str:
    """A one-line reason from a requests error (refused, reset, timed out)."""
    text = str(err)
    for key in ("Connection refused", "Connection reset", "timed out", "Connection aborted"):
        if key.lower() in text.lower():
            return key.lower()
    return text.splitlines()[0][:200]
