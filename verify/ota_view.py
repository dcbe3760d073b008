"""The OTA conversation of one device, cut out of a trace: queries, block transfers, ends.

Why a view: most rules talk about "the download" (the requests and responses between one
device and its server until the Upgrade End Request), not about single frames. Sessions
are cut at each Upgrade End Request, so the parts of a large image are separate sessions
and a download resumed after a reset stays one session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from layers import ota
from layers.otafile import FIXED_HEADER_SIZE
from verify.api import Match, Verifier
from verify.trace import Frame, Trace

OTA_COMMANDS = tuple(spec.name for spec in ota.COMMANDS)
_STARTERS = ("query_next_image_request", "image_block_request", "image_page_request")


@dataclass
class BlockExchange:
    """An Image Block Request and the response to it (None when unanswered)."""

    request: Frame
    response: Frame | None = None

    @property
    def offset(self) -> int:
        return self.request.fields["file_offset"]

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.fields.get("status")


@dataclass
class Session:
    """One OTA file transfer of a device: from its query to its Upgrade End Request."""

    node: str
    queries: list[tuple[Frame, Frame | None]] = field(default_factory=list)
    blocks: list[BlockExchange] = field(default_factory=list)
    end_request: Frame | None = None
    end_response: Frame | None = None

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

    def received(self) -> dict[int, bytes]:
        """Data the device received, by offset (the last response per offset wins)."""
        data: dict[int, bytes] = {}
        for block in self.blocks:
            response = block.response
            if response is not None and response.fields.get("status") == ota.SUCCESS:
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
            found += [f for f in (block.request, block.response) if f is not None]
        found += [f for f in (self.end_request, self.end_response) if f is not None]
        return sorted(found, key=lambda f: f.index)


def ota_frames(trace: Trace, node: str) -> list[Frame]:
    """Every OTA cluster command from or to ``node``, in order."""
    return Verifier(trace).all(Match(command=OTA_COMMANDS, cluster=ota.CLUSTER_ID,
                                     where=lambda f: node in (f.src, f.dst)))


def sessions(trace: Trace, node: str, server: str | None = None) -> list[Session]:
    """The OTA sessions of ``node`` with ``server`` (default: the CHF)."""
    server = server or trace.dut.chf.name
    result: list[Session] = []
    current = Session(node)
    pending_query: Frame | None = None
    for frame in ota_frames(trace, node):
        peer = frame.dst if frame.src == node else frame.src
        if peer != server:
            continue
        name = frame.command
        if current.end_request is not None and frame.src == node and name in _STARTERS:
            result.append(current)  # an end request the server never answered
            current, pending_query = Session(node), None
        if name == "query_next_image_request" and frame.src == node:
            current.queries.append((frame, None))
            pending_query = frame
        elif name == "query_next_image_response" and frame.dst == node:
            if pending_query is not None:
                current.queries[-1] = (pending_query, frame)
                pending_query = None
        elif name in ("image_block_request", "image_page_request") and frame.src == node:
            current.blocks.append(BlockExchange(frame))
        elif name == "image_block_response" and frame.dst == node:
            open_blocks = [b for b in current.blocks if b.response is None]
            same = [b for b in open_blocks if b.offset == frame.fields.get("file_offset")]
            if same or open_blocks:
                (same or open_blocks)[-1].response = frame
        elif name == "upgrade_end_request" and frame.src == node:
            current.end_request = frame
        elif name == "upgrade_end_response" and frame.dst == node:
            current.end_response = frame
            result.append(current)
            current, pending_query = Session(node), None
    if current.queries or current.blocks or current.end_request:
        result.append(current)
    return result


def downloads(trace: Trace, node: str, server: str | None = None) -> list[Session]:
    """Sessions in which the device asked for at least one block."""
    return [s for s in sessions(trace, node, server) if s.blocks]
