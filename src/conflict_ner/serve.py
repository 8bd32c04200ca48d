"""A trained model as a small HTTP service: text in, FACTION/PLACE spans out.

doccano's auto-labelling ("Custom REST Request") posts each example's text to
the service and maps the answer onto span annotations of the annotator who
asked; `conflict-ner doccano autolabel` configures that mapping
(``conflict_ner.doccano.autolabel``).

    POST /predict   {"text": "..."}
        200 {"model": "...", "spans": [{"start_offset", "end_offset", "label", "text"}]}
    GET  /health
        200 {"status": "ok", "model": "...", "labels": [...], "max_chars": N}

Errors are JSON too (``{"error": "..."}`` with 400, 404, 405, 411, 413 or
500), never a traceback. The pipeline is loaded once and shared.

The server is the standard library's ``ThreadingHTTPServer``. Two JSON
endpoints need no framework: recent FastAPI needs pydantic 2, which the
pydantic 1 pin (doccano-client) rules out, and an ASGI or WSGI server plus a
framework would add two dependencies to route two paths. doccano calls it
once per example an annotator opens, so its throughput is not the limit; a
lock keeps one prediction at a time, as a spaCy pipeline is not documented
as safe to call from several threads at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from spacy.language import Language

from conflict_ner.scheme import LABELS

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
DEFAULT_MAX_CHARS = 100_000  # a long article is ~10,000 characters
PREDICT_PATH = "/predict"
HEALTH_PATH = "/health"
# UTF-8 takes at most 4 bytes a character; JSON escapes (\uXXXX) up to 6.
BYTES_PER_CHAR = 6
ENVELOPE_BYTES = 1024

Answer = tuple[int, dict[str, Any]]


class RequestError(Exception):
    """A request the service refuses, with the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class SpanService:
    """One loaded pipeline answering texts with our labels' entities, one call at a time."""

    nlp: Language
    name: str
    max_chars: int = DEFAULT_MAX_CHARS
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def max_body_bytes(self) -> int:
        """The largest request body worth reading for a text of max_chars."""
        return self.max_chars * BYTES_PER_CHAR + ENVELOPE_BYTES

    def spans(self, text: str) -> list[dict[str, Any]]:
        """The entities with our labels, as doccano span fields (character offsets)."""
        with self._lock:
            doc = self.nlp(text)
        return [
            {
                "start_offset": ent.start_char,
                "end_offset": ent.end_char,
                "label": ent.label_,
                "text": ent.text,
            }
            for ent in doc.ents
            if ent.label_ in LABELS
        ]

    def health(self) -> dict[str, Any]:
        """What /health answers."""
        return {
            "status": "ok",
            "model": self.name,
            "labels": list(LABELS),
            "max_chars": self.max_chars,
        }


def model_name(nlp: Language, given: str) -> str:
    """``name-version`` from the pipeline's meta, else what the user passed."""
    name, version = nlp.meta.get("name"), nlp.meta.get("version")
    return f"{name}-{version}" if name and version else given


def load_service(model: str, max_chars: int = DEFAULT_MAX_CHARS) -> SpanService:
    """Load a pipeline (path or package name) once; raise OSError if it cannot load."""
    import spacy

    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")
    nlp = spacy.load(model)
    nlp.max_length = max(nlp.max_length, max_chars)
    return SpanService(nlp, model_name(nlp, model), max_chars)


def parse_text(body: bytes, max_chars: int) -> str:
    """The text of a ``{"text": "..."}`` body; RequestError says what is wrong."""
    try:
        payload = json.loads(body.decode("utf8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"the body is not UTF-8 JSON: {err}") from None
    if not isinstance(payload, dict) or "text" not in payload:
        raise RequestError(HTTPStatus.BAD_REQUEST, 'send a JSON object {"text": "..."}')
    text = payload["text"]
    if not isinstance(text, str):
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f'"text" must be a string, not {type(text).__name__}'
        )
    if not text.strip():
        raise RequestError(HTTPStatus.BAD_REQUEST, '"text" is empty')
    if len(text) > max_chars:
        raise RequestError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f'"text" has {len(text)} characters; this service takes at most {max_chars}',
        )
    return text


def answer(service: SpanService, method: str, path: str, read_body: Callable[[], bytes]) -> Answer:
    """The status and JSON payload for one request (read_body may raise RequestError)."""
    route = path.split("?", 1)[0].rstrip("/") or "/"
    routes = {HEALTH_PATH: "GET", PREDICT_PATH: "POST"}
    if route not in routes:
        raise RequestError(
            HTTPStatus.NOT_FOUND,
            f"no such endpoint {route}: use POST {PREDICT_PATH} or GET {HEALTH_PATH}",
        )
    if method != routes[route]:
        raise RequestError(HTTPStatus.METHOD_NOT_ALLOWED, f"{route} takes {routes[route]}")
    if route == HEALTH_PATH:
        return HTTPStatus.OK, service.health()
    text = parse_text(read_body(), service.max_chars)
    return HTTPStatus.OK, {"model": service.name, "spans": service.spans(text)}


class Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into ``answer`` calls and its results (or errors) into JSON."""

    server: SpanServer
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a client may stall mid-request before the socket is closed

    def do_GET(self) -> None:
        self._respond("GET")

    def do_POST(self) -> None:
        self._respond("POST")

    def do_PUT(self) -> None:
        self._respond("PUT")

    def do_DELETE(self) -> None:
        self._respond("DELETE")

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length header")
        try:
            size = int(length)
        except ValueError:
            size = -1
        if size < 0:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"Content-Length {length!r} is not a size")
        limit = self.server.service.max_body_bytes
        if size > limit:
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body has {size} bytes; at most {limit} are read",
            )
        try:
            return self.rfile.read(size)
        except TimeoutError:
            raise RequestError(
                HTTPStatus.REQUEST_TIMEOUT, "the body did not arrive in time"
            ) from None

    def _respond(self, method: str) -> None:
        try:
            status, payload = answer(self.server.service, method, self.path, self._read_body)
        except RequestError as err:
            status, payload = err.status, {"error": str(err)}
            # An unread body would be taken for the next request on this connection.
            self.close_connection = True
        except Exception:  # the client gets a message, the log gets the traceback
            log.exception("prediction failed for %s %s", method, self.path)
            status, payload = (
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": "the model failed on this text; see the service's log"},
            )
            self.close_connection = True
        self._send_json(status, payload)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, unknown method) as JSON too."""
        self.close_connection = True
        self._send_json(code, {"error": message or HTTPStatus(code).phrase})

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class SpanServer(ThreadingHTTPServer):
    """A threading HTTP server holding the one SpanService its handlers share."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: SpanService) -> None:
        super().__init__(address, Handler)
        self.service = service

    @property
    def url(self) -> str:
        """The base URL the server listens on."""
        host, port = self.server_address[:2]
        host = str(host)
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def make_server(
    service: SpanService, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> SpanServer:
    """Bind the service (port 0 picks a free port); serve with ``serve_forever``.

    A failed bind is an OSError naming the address (as its ``filename``), so the
    CLI's one line says which address is taken or refused."""
    try:
        return SpanServer((host, port), service)
    except OSError as err:
        raise OSError(err.errno, err.strerror, f"{host}:{port}") from err
