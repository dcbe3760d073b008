"""The trace a scenario is judged on: decoded HAN frames and GBCS messages, in order.

Why one type for every target: a scenario is written once and judged the same way on an
emulated HAN, a replayed capture or (later) a live sniffer. The trace is built from bytes
(capture records and GBCS hex), never from emulator objects, so a verdict rests on what a
sniffer and a supplier would see.

A live target lets the trace grow while a scenario waits: ``Trace.more()`` asks the
source for more and returns False once nothing more will come (the source applies the
PIXIT ``evidence_timeout_s``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hanota.dut.description import Dut, Image
from hanota.layers import ota
from hanota.layers.duis import DuisMessage
from hanota.layers.gbcs import (
    CRA_ALERT,
    CRA_COMMAND,
    CRA_RESPONSE,
    Ccs08Alert,
    Cs08Alert,
    Cs08Command,
    Cs08Response,
    decode_gbcs,
    verify_apdu,
)
from hanota.layers.model import FrameRecord, HanFrame
from hanota.verify.coverage import Coverage
from hanota.verify.identity import Directory, is_known, origin_of

CLUSTER_NAMES = {ota.CLUSTER_ID: "OTA", 0x0702: "Metering", 0x0705: "Prepayment"}
BROADCAST_MIN = 0xFFF8
KINDS = {CRA_COMMAND: "command", CRA_RESPONSE: "response", CRA_ALERT: "alert"}
DUIS_ONLY = "duis"
_DATA_SHOWN = 8
EVIDENCED = "evidenced"
HELD_EVIDENCE = ("image_notify", "query_next_image_response", "image_block_response",
                 "upgrade_end_response")
DUPLICATE_WINDOW_S = 1.0
"""A frame repeating an earlier one (same sender, APS counter, ZCL sequence number and
command) within this time is a MAC/APS retransmission, not a new command."""
MAC_ACK = 2


def _hex16(value: int | None) -> str:
    return "-" if value is None else f"0x{value:04X}"


def _endpoint(name: str | None, short: int | None) -> str:
    return f"{name}({_hex16(short)})" if name else _hex16(short)


def _field_text(name: str, value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        shown = value[:_DATA_SHOWN].hex()
        return f"{name}={shown}{'…' if len(value) > _DATA_SHOWN else ''}({len(value)}B)"
    if name == "status" and isinstance(value, int):
        return f"status={ota.STATUS.get(value, f'0x{value:02X}')}"
    if name in ("file_version", "manufacturer_code", "image_type", "hardware_version"):
        return f"{name}=0x{value:X}" if isinstance(value, int) else f"{name}={value}"
    return f"{name}={value}"


@dataclass(slots=True)
class Frame:
    """One decoded 802.15.4 frame as the checks see it.

    ``src``/``dst`` name the ORIGINATOR and the final addressee (``hanota.verify.identity``):
    a DUT node's name, ``unknown:<address>`` for a node the DUT description does not
    list, None for a broadcast or a frame without addresses. ``src16``/``dst16`` are the
    NWK addresses (MAC ones without NWK). ``src64`` is the originator's EUI-64 where the
    frame proves it or the DUT description knows it; ``hop64`` the EUI-64 that secured
    this hop (NWK auxiliary header) and ``mac_src16`` the MAC source (the last hop): on a
    routed frame they are the router's, never the originator's.
    ``command`` is the ZCL command's snake_case name, ``fields`` its decoded payload;
    ``stack_command`` a NWK command, APS command or ZDO message's name (``device_annce``).
    ``time_suspect``: the timestamp is out of line with the frame before (see coverage).
    """

    index: int
    number: int
    time: float
    src16: int | None = None
    dst16: int | None = None
    src: str | None = None
    dst: str | None = None
    src64: str | None = None
    hop64: str | None = None
    mac_src16: int | None = None
    cluster: int | None = None
    profile: int | None = None
    command: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    direction: int | None = None
    seq: int | None = None
    manufacturer_specific: bool = False
    layers: tuple[str, ...] = ()
    error: str | None = None
    record: FrameRecord | None = None
    duplicate_of: int | None = None
    time_suspect: bool = False
    stack_command: str | None = None

    @property
    def broadcast(self) -> bool:
        return self.dst16 is not None and self.dst16 >= BROADCAST_MIN

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def scapy(self, keys: Any = None) -> Any:
        """The frame as a scapy packet (NWK/APS security removed with ``keys``)."""
        if self.record is None:
            raise ValueError(f"frame {self.number} has no captured bytes")
        return self.record.scapy(keys)

    def describe(self) -> str:
        """One line: time, who to whom, layers, command and fields."""
        head = f"t={self.time:.3f} {_endpoint(self.src, self.src16)}→" \
               f"{_endpoint(self.dst, self.dst16)}"
        if self.mac_src16 is not None and self.mac_src16 != self.src16:
            head += f" via 0x{self.mac_src16:04X}"
        if self.error:
            return f"{head} DECODE ERROR {self.error}"
        if self.duplicate_of is not None:
            head += f" (retransmission of frame {self.duplicate_of})"
        if self.command is None:
            return f"{head} [{'/'.join(self.layers) or 'mac'}]"
        cluster = CLUSTER_NAMES.get(self.cluster or 0, _hex16(self.cluster))
        fields = " ".join(_field_text(k, v) for k, v in self.fields.items())
        return f"{head} {cluster} {self.command} {fields}".rstrip()

    @classmethod
    def from_record(cls, index: int, record: FrameRecord, names: Directory) -> Frame:
        """The frame the checks see; ``names`` resolves (and learns) node names."""
        frame = cls(index=index, number=record.number, time=record.time, error=record.error,
                    record=record)
        han = record.han
        if han is None:
            return frame
        layers = ["mac"]
        frame.mac_src16 = han.mac.src16
        frame.dst16 = han.mac.dst16
        if han.nwk is not None:
            layers.append("nwk")
            frame.dst16 = han.nwk.dst16
        origin = origin_of(han)
        frame.src16, frame.src64, frame.hop64 = origin.short, origin.eui64, origin.hop64
        if han.mac.frame_type != MAC_ACK and record.fcs_ok is not False:
            # (a frame with a bad FCS teaches no names: its addresses may be corrupt)
            if han.zdo is not None and han.zdo.name == "device_annce":
                names.announce(han.zdo.fields["nwk_address"], han.zdo.fields["ieee_address"])
            frame.src = names.source(origin)
            frame.dst = names.destination(frame.dst16)
            if frame.src64 is None and is_known(frame.src):
                frame.src64 = names.dut.nodes[frame.src].eui64
        stack = han.zdo or han.aps_command or han.nwk_command
        if stack is not None:
            frame.stack_command = stack.name
        if han.aps is not None:
            layers.append("aps")
            frame.cluster, frame.profile = han.aps.cluster, han.aps.profile
        if han.zcl is not None:
            layers.append("zcl")
            frame.command = han.zcl.command
            frame.fields = han.zcl.fields
            frame.direction = han.zcl.direction
            frame.seq = han.zcl.seq
            frame.manufacturer_specific = han.zcl.manufacturer_code is not None
        frame.layers = tuple(layers)
        return frame


@dataclass(slots=True)
class WanRecord:
    """One GBCS message on the WAN side (supplier ↔ CHF), decoded.

    ``fields`` holds the use-case payload in snake_case (alert_code, execution_date_time,
    entity_id, firmware_version as an int, response_code, activate_image).
    ``signature_valid`` is None when no certificate was given to check it with.
    ``transaction_id`` is the originator counter of the transaction id: a response echoes
    its command's, which pairs them (VER-4). ``time`` None: the message came without a
    time and takes part in no time-bounded rule.
    ``duis`` is the DUIS envelope the message came in (None for bare GBCS); a DUIS
    message without GBCS (a DCC alert) is kept with kind ``"duis"`` and no message code.
    """

    index: int
    time: float | None
    raw: bytes
    sender: str | None = None
    recipient: str | None = None
    kind: str | None = None
    message_code: int | None = None
    transaction_id: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    signed: bool = False
    signature_valid: bool | None = None
    error: str | None = None
    duis: DuisMessage | None = None

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    @property
    def alert_code(self) -> int | None:
        return self.fields.get("alert_code")

    def describe(self) -> str:
        when = "t=?" if self.time is None else f"t={self.time:.3f}"
        envelope = f" via {self.duis.describe()}" if self.duis is not None else ""
        if self.error:
            return f"{when} GBCS DECODE ERROR {self.error}{envelope}"
        if self.kind == DUIS_ONLY and self.duis is not None:
            return f"{when} {self.duis.describe()} (no GBCS)"
        code = f"0x{self.message_code:04X}" if self.message_code is not None else "?"
        shown = []
        for name, value in self.fields.items():
            if name in ("alert_code", "firmware_version") and isinstance(value, int):
                shown.append(f"{name}=0x{value:X}")
            else:
                shown.append(f"{name}={value}")
        signature = {None: "signature unchecked", True: "signature valid",
                     False: "signature INVALID" if self.signed else "UNSIGNED"}[
            self.signature_valid]
        return (f"{when} {self.kind} {code} {self.sender}→{self.recipient} "
                f"{' '.join(shown)} [{signature}]{envelope}")


def _payload_fields(payload: Any) -> dict[str, Any]:
    if isinstance(payload, Ccs08Alert):
        return {"alert_code": payload.alert_code,
                "execution_date_time": payload.execution_date_time.isoformat(),
                "entity_id": payload.entity_id,
                "firmware_version": int.from_bytes(payload.firmware_version, "big"),
                "response_code": payload.response_code}
    if isinstance(payload, Cs08Alert):
        return {"alert_code": payload.alert_code,
                "execution_date_time": payload.execution_date_time.isoformat(),
                "firmware_version": int.from_bytes(payload.firmware_version, "big"),
                "activate_image": payload.activate_image}
    if isinstance(payload, Cs08Response):
        return {"firmware_version": int.from_bytes(payload.firmware_version, "big")
                if payload.firmware_version else None,
                "response_code": payload.response_code}
    if isinstance(payload, Cs08Command):
        return {"request": "read firmware version"}
    return {}


def wan_record(index: int, time: float | None, data: bytes, certificate: Any = None,
               duis: DuisMessage | None = None) -> WanRecord:
    """Decode one GBCS message (0xDF or 0xDD) and check its signature when given a
    certificate. A message that does not decode is kept with ``error`` set; a DUIS
    message that carries no GBCS is kept as kind ``"duis"``."""
    record = WanRecord(index=index, time=time, raw=bytes(data), duis=duis)
    if duis is not None and duis.gbcs is None:
        record.kind = DUIS_ONLY
        return record
    try:
        message = decode_gbcs(record.raw)
    except ValueError as error:  # DecodeError is a ValueError
        record.error = str(error)
        return record
    apdu = message.apdu
    record.sender, record.recipient = apdu.originator, apdu.recipient
    record.kind = KINDS.get(apdu.cra_flag)
    record.message_code = apdu.message_code
    record.transaction_id = apdu.originator_counter
    record.fields = _payload_fields(message.payload)
    record.signed = apdu.signature is not None
    if certificate is not None:
        record.signature_valid = verify_apdu(record.raw, certificate)
    return record


MoreHook = Callable[["Trace"], bool]


class Trace:
    """Frames and GBCS messages of one exchange, with the DUT description that names them.

    ``held_images`` are the images the supplier delivered to the CHF for this trace: the
    emulator target states them per exchange; ``EVIDENCED`` means the DUT description's
    images the trace shows evidence of (a replay not told ``--images``); None means every
    image of the DUT description.
    ``source`` says where the trace comes from, for reports. Frames that did not decode
    stay in ``frames`` with ``error`` set (and are blind places of ``coverage``);
    records that carry no frame at all (a malformed ZEP datagram) go to ``rejects`` and
    never enter the time-ordered frames.

    Built in one pass: names (``hanota.verify.identity``), the sniffer's blind places
    (``coverage``), frames by capture number and the OTA frames of each node are indexed
    as frames are added, so checks never rescan the trace.
    """

    def __init__(
        self,
        dut: Dut,
        frames: Iterable[FrameRecord] = (),
        wan: Iterable[WanRecord] = (),
        *,
        source: str = "",
        held_images: Iterable[Image] | str | None = None,
        more: MoreHook | None = None,
    ) -> None:
        self.dut = dut
        self.source = source
        self.frames: list[Frame] = []
        self.rejects: list[FrameRecord] = []
        self.wan: list[WanRecord] = list(wan)
        self.names = Directory(dut)
        self.coverage = Coverage()
        self._held = held_images if held_images in (None, EVIDENCED) else list(held_images)
        self._more = more
        self._by_number: dict[int, Frame] = {}
        self._ota: dict[str, list[Frame]] = {}
        self._recent: dict[tuple, Frame] = {}
        self._recent_order: deque[tuple[float, tuple]] = deque()
        self._shows_han = False
        self._memo: dict[Any, tuple[int, Any]] = {}
        self.span: tuple[float, float] | None = None
        """When the capture says it listened (pcapng statistics): silence inside it was
        heard. None: only the frames' own times bound the capture."""
        self.extend(frames)

    def extend(self, records: Iterable[FrameRecord]) -> int:
        """Append decoded frames (a live source calls this from its ``more`` hook)."""
        before = len(self.frames)
        for record in records:
            if record.extra.get("malformed"):
                self.rejects.append(record)
                continue
            frame = Frame.from_record(len(self.frames), record, self.names)
            self.frames.append(frame)
            self._by_number.setdefault(frame.number, frame)
            self._index(frame, record.han)
        return len(self.frames) - before

    def _index(self, frame: Frame, han: HanFrame | None) -> None:
        """Coverage, retransmissions and the per-node OTA index for one new frame."""
        coverage = self.coverage
        frame.time_suspect = coverage.note_frame(frame.index, frame.number, frame.time)
        bad_fcs = frame.record is not None and frame.record.fcs_ok is False
        if frame.error:  # a bad FCS makes even the addresses untrustworthy: blind for all
            trusted = han is not None and han.nwk is not None and not bad_fcs
            coverage.note_undecoded(frame.index, frame.number,
                                    frame.src if trusted else None, frame.error)
        if han is None or han.mac.frame_type == MAC_ACK or bad_fcs:
            return
        mac = han.mac
        transmitter = mac.src16 if mac.src16 is not None else mac.src64
        if transmitter is not None and mac.seq is not None:
            hop = (self.names.destination(mac.src16) if mac.src16 is not None
                   else frame.src) or str(transmitter)
            coverage.note_mac_sequence(transmitter, hop, mac.seq, frame.index, frame.number)
        if han.nwk is not None and han.nwk.seq is not None and frame.src is not None:
            self._shows_han = self._shows_han or frame.error is None
            coverage.note_nwk_sequence(frame.src, han.nwk.seq, frame.index, frame.number)
        if frame.command is None:
            return
        if frame.record is not None and frame.record.retransmission_of is not None:
            frame.duplicate_of = frame.record.retransmission_of  # a MAC retry, byte for byte
        else:
            self._mark_retransmission(frame, han)
        if frame.cluster == ota.CLUSTER_ID:
            for name in {frame.src, frame.dst}:
                if name is not None:
                    self._ota.setdefault(name, []).append(frame)

    def _mark_retransmission(self, frame: Frame, han: HanFrame) -> None:
        """A MAC or APS retry repeats sender, APS counter, ZCL sequence and command: mark
        it (``duplicate_of``) so it is not counted as a new command. The memory is a
        window of ``DUPLICATE_WINDOW_S``, so it stays bounded on any capture length."""
        recent, order = self._recent, self._recent_order
        while order and (frame.time - order[0][0] > DUPLICATE_WINDOW_S
                         or len(order) > _RECENT_LIMIT):
            when, old = order.popleft()
            if old in recent and recent[old].time == when:
                del recent[old]
        aps = han.aps
        key = (frame.src, frame.dst16, frame.cluster, aps.counter if aps else None,
               frame.seq, frame.command)
        earlier = recent.get(key)
        if earlier is not None and 0 <= frame.time - earlier.time <= DUPLICATE_WINDOW_S:
            frame.duplicate_of = earlier.number
            return
        recent[key] = frame
        order.append((frame.time, key))

    def add_wan(self, data: bytes, time: float | None, certificate: Any = None,
                duis: DuisMessage | None = None) -> WanRecord:
        record = wan_record(len(self.wan), time, data, certificate, duis)
        self.wan.append(record)
        return record

    @property
    def held_images(self) -> list[Image]:
        if self._held == EVIDENCED:
            return self.evidenced_images()
        return list(self.dut.images.values()) if self._held is None else self._held

    def evidenced_images(self) -> list[Image]:
        """Images of the DUT description that the trace shows the CHF holding: offered,
        notified or served to their target on the HAN, or reported in a GBCS alert."""
        chf = self.dut.chf.name
        seen: set[tuple[str, int]] = set()
        for frame in self.ota_frames(chf):
            version = frame.fields.get("file_version")
            if frame.src == chf and frame.dst and version is not None \
                    and frame.command in HELD_EVIDENCE and frame.duplicate_of is None:
                seen.add((frame.dst, version))
        for message in self.wan:
            version, entity = message.get("firmware_version"), message.get("entity_id")
            node = self.dut.node_by_eui64(entity) if entity else None
            if node is not None and version is not None:
                seen.add((node.name, version))
        return [image for image in self.dut.images.values()
                if (image.target, image.file_version) in seen]

    def more(self) -> bool:
        """Ask the source for more frames; False when nothing more will come."""
        return self._more(self) if self._more is not None else False

    def frames_from(self, start: int = 0) -> Iterator[Frame]:
        """Frames from position ``start`` on, growing the trace when a live source can."""
        position = start
        while True:
            while position < len(self.frames):
                yield self.frames[position]
                position += 1
            if not self.more():
                return

    def memo(self, key: Any, build: Callable[[], Any]) -> Any:
        """``build()``, computed once per trace length: views several checks share
        (a device's OTA sessions) are built once, and again only when a live trace grew."""
        entry = self._memo.get(key)
        if entry is None or entry[0] != len(self.frames):
            entry = self._memo[key] = (len(self.frames), build())
        return entry[1]

    def ota_frames(self, node: str) -> list[Frame]:
        """Every OTA cluster command from or to ``node``, in trace order (retransmissions
        included); indexed as the trace is built."""
        return self._ota.get(node, [])

    @property
    def start_time(self) -> float | None:
        times = [f.time for f in self.frames[:1]] + self._wan_times()
        times += [self.span[0]] if self.span else []
        return min(times) if times else None

    @property
    def end_time(self) -> float | None:
        times = [f.time for f in self.frames[-1:]] + self._wan_times()
        times += [self.span[1]] if self.span else []
        return max(times) if times else None

    def _wan_times(self) -> list[float]:
        return [m.time for m in self.wan if m.time is not None]

    @property
    def decode_errors(self) -> list[Frame]:
        return [frame for frame in self.frames if frame.error]

    @property
    def shows_han(self) -> bool:
        """Whether at least one frame decoded beyond its MAC header: HAN absence rules
        need a trace that shows the HAN (a capture of the wrong link type does not)."""
        return self._shows_han

    def frame(self, number: int) -> Frame | None:
        """The frame with capture number ``number``."""
        return self._by_number.get(number)

    def image_for(self, node: str) -> Image | None:
        """The held image targeting ``node`` (the first if several)."""
        return next((image for image in self.held_images if image.target == node), None)

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        return f"Trace({self.source!r}, {len(self.frames)} frames, {len(self.wan)} WAN messages)"


_RECENT_LIMIT = 4096
"""Retransmission candidates kept at most (a flood of distinct frames within one window
cannot grow the memory)."""
