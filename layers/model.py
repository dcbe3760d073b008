"""The decoded HAN frame: the one data model shared by layers, emulators, targets and verify.

Conventions (fixed here so every folder agrees):
- short addresses, PAN ids, clusters, profiles, counters: ``int``;
- EUI-64s: 16 upper-case hex digits, big-endian as written in text (``"00DB1234567890A2"``);
  the codecs reverse them to air order;
- ZCL command payloads: ``dict`` keyed by the snake_case field names of
  ``shared/domain/zigbee-ota.md`` (``file_offset``, ``maximum_data_size`` ...); ``data``
  is ``bytes``; status values are ``int`` (names in ``layers.ota.STATUS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scapy.packet import Packet

    from layers.security import KeyRing


class DecodeError(ValueError):
    """Bytes that do not decode: says which layer, which field and at which offset."""

    def __init__(self, layer: str, field_name: str, offset: int, reason: str) -> None:
        self.layer = layer
        self.field = field_name
        self.offset = offset
        self.reason = reason
        super().__init__(f"{layer}.{field_name} at offset {offset}: {reason}")


class MicFailure(DecodeError):
    """CCM* authentication failed: wrong key, wrong nonce or a corrupted frame."""

    def __init__(self, layer: str, offset: int, reason: str = "MIC failure") -> None:
        super().__init__(layer, "mic", offset, reason)


@dataclass(frozen=True, slots=True)
class Mac:
    """IEEE 802.15.4 MAC header. frame_type: 0 beacon, 1 data, 2 ack, 3 command."""

    frame_type: int
    seq: int
    pan_id: int | None = None
    dst16: int | None = None
    src16: int | None = None
    ack_request: bool = False
    dst64: str | None = None
    src64: str | None = None


@dataclass(frozen=True, slots=True)
class Security:
    """Auxiliary security header of a secured NWK or APS frame (values as on the air)."""

    key_id: int
    frame_counter: int
    source64: str | None = None
    key_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Nwk:
    """ZigBee NWK header. frame_type: 0 data, 1 command."""

    dst16: int
    src16: int
    seq: int
    radius: int = 30
    frame_type: int = 0
    dst64: str | None = None
    src64: str | None = None
    security: Security | None = None


@dataclass(frozen=True, slots=True)
class Aps:
    """ZigBee APS header. frame_type: 0 data, 1 command, 2 ack."""

    cluster: int
    profile: int
    dst_ep: int
    src_ep: int
    counter: int
    frame_type: int = 0
    ack_request: bool = False
    security: Security | None = None


@dataclass(frozen=True, slots=True)
class Zcl:
    """ZCL frame. direction 1 = server to client. command is the snake_case name."""

    command: str
    fields: dict[str, Any]
    seq: int
    command_id: int
    cluster_specific: bool
    direction: int
    disable_default_response: bool = True
    manufacturer_code: int | None = None


@dataclass(frozen=True, slots=True)
class HanFrame:
    """Everything a sniffer sees in one 802.15.4 frame, decrypted. Absent layers are None."""

    mac: Mac
    nwk: Nwk | None = None
    aps: Aps | None = None
    zcl: Zcl | None = None


@dataclass(slots=True)
class FrameRecord:
    """One frame of a capture as the suite knows it: where it was, what it decoded to.

    ``error`` is set (and ``han`` may be None or partial) when the frame could not be
    decoded; such a frame is reported and skipped, never fatal. ``fcs`` says whether
    ``raw`` ends with the 802.15.4 FCS (link type 195, ZEP CRC mode) or not (230, LQI
    mode), as the capture said: whoever writes the frame out again needs to know.

    Flags of what the capture says about the frame (``error`` says them in words too, so
    no check takes such a frame as evidence; its headers are still decoded):
    ``fcs_ok`` False for a bad FCS or a sniffer's CRC-OK bit clear, True when the FCS was
    checked and holds, None when the capture holds no FCS; ``original_length`` is the
    PSDU's length on the air when the capture kept only part of it (``raw`` is the part).
    """

    number: int
    time: float
    raw: bytes
    han: HanFrame | None = None
    error: str | None = None
    channel: int | None = None
    fcs: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    fcs_ok: bool | None = None
    original_length: int | None = None

    def scapy(self, keys: KeyRing | None = None) -> Packet:
        """This frame as a scapy packet, NWK/APS security removed with ``keys``.

        Imported here: scapy costs about a second to load and the decoding hot path never
        needs it. Raises ``MicFailure`` when the frame is secured and no key verifies it.
        """
        from layers.scapy_ota import dissect

        return dissect(self.raw, keys, fcs=self.fcs)
