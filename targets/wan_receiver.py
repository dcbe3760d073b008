"""A live WAN source: an HTTP receiver taking DUIS responses and alerts as POSTs.

Why: the DCC (and DCC Boxed, set up with a "Receive Response Service" address) pushes
each DUIS Response (device alerts, device responses, DCC alerts) to the supplier's
endpoint as an HTTP POST of ``application/xml``. Listening there puts the GBCS side of a
live run beside the HAN frames, so the WAN rules (VER-2, VER-3, VER-4, VER-6, CONC-2)
can be judged live.

Nothing a client sends stops the receiver or loses what it already accepted. A request
is refused with a 4xx and a logged reason when its path is not ours (404), its method is
not POST (405), its content type is not XML (415), it has no length (411) or a body over
``max_body`` (413), its XML is malformed or not DUIS (400), or a GBCSPayload is not a
GBCS message (422). A document is taken whole or not at all. Accepted: 204, as DCC
Boxed's own receive nodes answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from hanota.layers.duis import DuisError, parse_duis
from hanota.layers.gbcs_apdu import (
    TAG_GENERAL_CIPHERING,
    decode_general_ciphering,
    decode_general_signing,
)
from hanota.layers.model import DecodeError
from hanota.layers.wan_text import WanInput

LOG = logging.getLogger("hanota.wan")
MAX_BODY = 1 << 20
XML_TYPES = ("application/xml", "text/xml")
REQUEST_TIMEOUT_S = 10.0  # a client that sends nothing is dropped, not waited on forever
NOTES_KEPT = 1000
DRAIN_LIMIT = 64 << 20  # an oversized body up to this is read and dropped, not reset
DRAIN_CHUNK = 64 << 10


@dataclass(frozen=True)
class WanSourceSpec:
    """A parsed ``--wan-source http://HOST:PORT/PATH`` (port 0: any free port)."""

    host: str
    port: int
    path: str


def parse_wan_source(text: str) -> WanSourceSpec:
    parts = urlsplit(text)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"WAN source {text!r}: expected http://HOST:PORT/PATH")
    try:
        port = parts.port if parts.port is not None else 80
    except ValueError as error:
        raise ValueError(f"WAN source {text!r}: {error}") from None
    return WanSourceSpec(parts.hostname, port, parts.path or "/")


@dataclass
class WanStats:
    """What the receiver took and refused; ``rejected`` keeps the reasons (bounded)."""

    accepted_documents: int = 0
    messages: int = 0
    refused: int = 0
    rejected: list[str] = field(default_factory=list)

    def refuse(self, reason: str) -> None:
        self.refused += 1
        if len(self.rejected) < NOTES_KEPT:
            self.rejected.append(reason)
        LOG.warning("DUIS POST refused: %s", reason)


class WanBuffer:
    """The growing, thread-safe list of DUIS messages received, in arrival order."""

    def __init__(self) -> None:
        self._items: list[WanInput] = []
        self._changed = threading.Condition()

    def add(self, items: list[WanInput]) -> None:
        with self._changed:
            self._items.extend(items)
            self._changed.notify_all()

    def __len__(self) -> int:
        return len(self._items)

    def since(self, have: int, deadline: float | None = None) -> list[WanInput]:
        """Items after the first ``have``; with a ``deadline`` (``time.monotonic``)
        waits for at least one until then. Empty: none came."""
        with self._changed:
            while deadline is not None and len(self._items) <= have:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self._items[have:]


class _Refusal(Exception):
    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _drain(read: Callable[[int], bytes], size: int) -> None:
    """Read and drop a refused body, chunk by chunk."""
    while size > 0:
        chunk = read(min(size, DRAIN_CHUNK))
        if not chunk:
            return
        size -= len(chunk)


def _gbcs_framing(data: bytes) -> None:
    """Raise DecodeError unless ``data`` is a GBCS APDU (0xDF) or wrapper (0xDD).

    Only the framing: a CHF's malformed use-case payload is still GBCS, and evidence."""
    if data[:1] == bytes([TAG_GENERAL_CIPHERING]):
        decode_general_ciphering(data)
    else:
        decode_general_signing(data)


def _documents(body: bytes, source: str) -> list[WanInput]:
    """The DUIS messages of one POST body, every GBCSPayload's framing checked."""
    try:
        messages = parse_duis(body)
    except DuisError as error:
        raise _Refusal(HTTPStatus.BAD_REQUEST, str(error)) from None
    for message in messages:
        if message.gbcs is None:
            continue
        try:
            _gbcs_framing(message.gbcs)
        except DecodeError as error:
            raise _Refusal(HTTPStatus.UNPROCESSABLE_ENTITY,
                           f"Response {message.position}: GBCSPayload is not GBCS: {error}"
                           ) from None
    return [WanInput(message.gbcs, message.time, f"{source}: Response {message.position}",
                     message) for message in messages]


class WanReceiver:
    """The HTTP receiver of one live run, listening on ``spec``; use as a context
    manager or ``start()`` / ``stop()``. ``url`` is where it really listens."""

    def __init__(self, source: str, *, max_body: int = MAX_BODY) -> None:
        self.spec = parse_wan_source(source)
        self.max_body = max_body
        self.stats = WanStats()
        self.buffer = WanBuffer()
        self._posts = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((self.spec.host, self.spec.port), self._handler())
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        self.url = f"http://{shown}:{port}{self.spec.path}"
        self._thread: threading.Thread | None = None

    def start(self) -> WanReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="live-wan-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> WanReceiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def summary(self) -> str:
        s = self.stats
        return (f"{self.url}: {s.accepted_documents} DUIS documents, {s.messages} messages, "
                f"{s.refused} refused")

    def receive(self, path: str, content_type: str | None, length: str | None,
                read: Callable[[int], bytes]) -> tuple[HTTPStatus, str]:
        """One POST, judged and (when good) kept; returns the status and why.

        The body is read (``read(n)``) only when it is to be used, or drained when
        refused, so the client sees the answer rather than a reset connection."""
        with self._lock:
            self._posts += 1
            number = self._posts
        size = int(length) if length is not None and length.strip().isdigit() else None
        body: bytes | None = None
        try:
            if size is None:
                raise _Refusal(HTTPStatus.LENGTH_REQUIRED, "no Content-Length")
            if size > self.max_body:
                raise _Refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"body of {size} bytes, the limit is {self.max_body}")
            body = read(size)
            if urlsplit(path).path != self.spec.path:
                raise _Refusal(HTTPStatus.NOT_FOUND, f"path {path!r} is not {self.spec.path}")
            media = (content_type or "").split(";")[0].strip().lower()
            if media not in XML_TYPES:
                raise _Refusal(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                               f"content type {content_type!r}, expected application/xml")
            items = _documents(body, f"POST {number}")
        except _Refusal as refusal:
            if body is None and size is not None and size <= DRAIN_LIMIT:
                _drain(read, size)
            self.stats.refuse(f"POST {number}: {refusal.reason}")
            return refusal.status, refusal.reason
        with self._lock:
            self.stats.accepted_documents += 1
            self.stats.messages += len(items)
        self.buffer.add(items)
        return HTTPStatus.NO_CONTENT, f"{len(items)} DUIS messages"

    def refuse_method(self, method: str) -> tuple[HTTPStatus, str]:
        reason = f"method {method}: only POST"
        self.stats.refuse(reason)
        return HTTPStatus.METHOD_NOT_ALLOWED, reason

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class DuisHandler(BaseHTTPRequestHandler):
            timeout = REQUEST_TIMEOUT_S
            server_version = "hanota-wan"

            def do_POST(self) -> None:
                try:
                    status, reason = receiver.receive(
                        self.path, self.headers.get("Content-Type"),
                        self.headers.get("Content-Length"), self.rfile.read)
                except Exception as error:  # a defect of ours must not end the receiver
                    LOG.exception("DUIS receiver failed")
                    status, reason = HTTPStatus.INTERNAL_SERVER_ERROR, str(error)
                self._answer(status, reason)

            def _refuse_method(self) -> None:
                self._answer(*receiver.refuse_method(self.command))

            do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _refuse_method

            def _answer(self, status: HTTPStatus, reason: str) -> None:
                body = b"" if status == HTTPStatus.NO_CONTENT else \
                    (reason + "\n").encode("utf-8", "replace")
                self.send_response(status)
                if status != HTTPStatus.NO_CONTENT:
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                if status >= HTTPStatus.BAD_REQUEST:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if body and self.command != "HEAD":
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                LOG.debug("%s " + format, self.client_address[0], *args)

        return DuisHandler
