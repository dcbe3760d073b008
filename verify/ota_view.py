"""The OTA conversation of one device, cut out of a trace: queries, block transfers, ends.

Why a view: most rules talk about "the download" (the requests and responses between one
device and its server until the Upgrade End Request), not about single frames. Sessions
are cut at each Upgrade End Request, so the parts of a large image are separate sessions
and a download resumed after a reset stays one session. Built from the trace's per-node
OTA index once per trace (``Trace.memo``), so every check shares one walk.

An Image Block Request is answered by one Image Block Response; an Image Page Request by a
page of them (each at its own offset within the page), so an exchange holds a list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hanota.layers import ota
from hanota.layers.otafile import FIXED_HEADER_SIZE
from hanota.verify.trace import Frame, Trace

OTA_COMMANDS = tuple(spec.name for spec in ota.COMMANDS)
REQUESTS = ("image_block_request", "image_page_request")
_STARTERS = ("query_next_image_request", *REQUESTS)


@dataclass
class BlockExchange:
    """An Image Block (or Page) Request and the Image Block Responses to it."""

    request: Frame
    responses: list[Frame] = field(default_factory=list)

    @property
    def offset(self) -> int:
        return self.request.fields["file_offset"]

    @property
    def page(self) -> bool:
        return self.request.command == "image_page_request"

    @property
    def end(self) -> int:
        """The first offset past what the request asks for."""
        asked = self.request.fields.get("page_size") if self.page else \
            self.request.fields.get("maximum_data_size")
        return self.offset + (asked or 0)

    @property
    def response(self) -> Frame | None:
        """The (first) response; a page's responses are in ``responses``."""
        return self.responses[0] if self.responses else None

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.fields.get("status")

    def data(self) -> list[Frame]:
        """The SUCCESS responses carrying data."""
        return [r for r in self.responses if r.fields.get("status") == ota.SUCCESS]

    def wants(self, response: Frame) -> bool:
        """Whether ``response`` answers this request (its offset or, for a page, inside
        the page)."""
        offset = response.fields.get("file_offset")
        if response.fields.get("status") != ota.SUCCESS or offset is None:
            return not self.responses
        if self.page:
            return self.offset <= offset < self.end
        return offset == self.offset and not self.responses


@dataclass
class Session:
    """One OTA file transfer of a device: from its query to its Upgrade End Request."""

    node: str
    queries: list[tuple[Frame, Frame | None]] = field(default_factory=list)
    blocks: list[BlockExchange] = field(default_factory=list)
    end_request: Frame | None = None
    end_response: Frame | None = None
    orphans: list[Frame] = field(default_factory=list)
    """Block responses whose request the capture does not hold (the sniffer missed it):
    their bytes count, but which offset was asked cannot be judged."""

    @property
    def offer(self) -> Frame | None:
        """The last SUCCESS Query Next Image Response of the session."""
        offers = [resp for _, resp in self.queries
                  if resp is not None and resp.fields.get("status") == ota.SUCCESS]
        return offers[-1] if offers else None

    @property
    def image_size(self) -> int | None:
        offer = self.offer
        return None if offer is None else offer.fields.get("image_size")

    @property
    def file_version(self) -> int | None:
        if self.offer is not None:
            return self.offer.fields.get("file_version")
        if self.blocks:
            return self.blocks[0].request.fields.get("file_version")
        return None

    @property
    def responses(self) -> list[Frame]:
        """Every block response of the session, in trace order."""
        return [response for block in self.blocks for response in block.responses]

    def received(self) -> dict[int, bytes]:
        """Data the device received, by offset (the last response per offset wins)."""
        data: dict[int, bytes] = {}
        responses = [r for block in self.blocks for r in block.data()]
        for response in sorted(responses + self.orphans, key=lambda f: f.index):
            if response.fields.get("status") == ota.SUCCESS:
                data[response.fields["file_offset"]] = response.fields.get("data", b"")
        return data

    def assembled(self) -> bytes | None:
        """The file as received, when the data is contiguous from 0 (else None)."""
        data = self.received()
        out = bytearray()
        while len(out) in data and data[len(out)]:
            out += data[len(out)]
        size = self.image_size
        if size is not None and len(out) < size:
            return None
        return bytes(out) if len(out) >= FIXED_HEADER_SIZE else None

    @property
    def frames(self) -> list[Frame]:
        found: list[Frame] = []
        for request, response in self.queries:
            found += [f for f in (request, response) if f is not None]
        for block in self.blocks:
            found += [block.request, *block.responses]
        found += [f for f in (self.end_request, self.end_response) if f is not None]
        return sorted(found, key=lambda f: f.index)


def ota_frames(trace: Trace, node: str) -> list[Frame]:
    """Every OTA cluster command from or to ``node``, in order (retries left out)."""
    return [frame for frame in trace.ota_frames(node) if frame.duplicate_of is None
            and frame.command in OTA_COMMANDS]


def sessions(trace: Trace, node: str, server: str | None = None) -> list[Session]:
    """The OTA sessions of ``node`` with ``server`` (default: the CHF)."""
    server = server or trace.dut.chf.name
    return trace.memo(("sessions", node, server), lambda: _cut(trace, node, server))


def _cut(trace: Trace, node: str, server: str) -> list[Session]:
    result: list[Session] = []
    current = Session(node)
    pending_query: Frame | None = None
    for frame in ota_frames(trace, node):
        outgoing = frame.src == node
        if (frame.dst if outgoing else frame.src) != server:
            continue
        name = frame.command
        if current.end_request is not None and outgoing and name in _STARTERS:
            result.append(current)  # an end request the server never answered
            current, pending_query = Session(node), None
        if name == "query_next_image_request" and outgoing:
            current.queries.append((frame, None))
            pending_query = frame
        elif name == "query_next_image_response" and not outgoing:
            if pending_query is not None:
                current.queries[-1] = (pending_query, frame)
                pending_query = None
        elif name in REQUESTS and outgoing:
            current.blocks.append(BlockExchange(frame))
        elif name == "image_block_response" and not outgoing:
            if not _attach(current.blocks, frame):
                current.orphans.append(frame)
        elif name == "upgrade_end_request" and outgoing:
            current.end_request = frame
        elif name == "upgrade_end_response" and not outgoing:
            current.end_response = frame
            result.append(current)
            current, pending_query = Session(node), None
    if current.queries or current.blocks or current.end_request:
        result.append(current)
    return result


_LOOKBACK = 8
"""Open requests an Image Block Response is matched against, newest first: a response
answers one of the last few requests (retries, a page in progress), never an old one."""


def _attach(blocks: list[BlockExchange], response: Frame) -> bool:
    """Give ``response`` to the request it answers; False when none in the capture does.

    A response echoes its request's ZCL sequence number, which pairs them even when the
    sniffer missed frames; a page's responses fall inside its page. Without a sequence
    match, the newest unanswered request at the response's offset (or, for a
    WAIT_FOR_DATA or ABORT, the newest unanswered one) takes it; a response matching no
    request is the answer to one the sniffer missed, never pinned on another."""
    recent = blocks[-_LOOKBACK:]
    for block in reversed(recent):
        if block.page and block.wants(response):
            block.responses.append(response)
            return True
        if not block.page and block.request.seq == response.seq and not block.responses:
            block.responses.append(response)
            return True
    for block in reversed(recent):
        if not block.page and block.wants(response):
            block.responses.append(response)
            return True
    return False


def downloads(trace: Trace, node: str, server: str | None = None) -> list[Session]:
    """Sessions in which the device asked for at least one block."""
    return [s for s in sessions(trace, node, server) if s.blocks]
