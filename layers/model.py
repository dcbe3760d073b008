"""The decoded HAN frame: the one data model shared by layers, emulators, targets and verify.

Conventions (fixed here so every folder agrees):
- short addresses, PAN ids, clusters, profiles, counters: ``int``;
- EUI-64s: 16 upper-case hex digits, big-endian as written in text (``"00DB1234567890A2"``);
  the codecs reverse them to air order;
- ZCL command payloads: ``dict`` keyed by the snake_case field names of
  ``shared/domain/zigbee-ota.md`` (``file_offset``, ``maximum_data_size`` ...); ``data``
  is ``bytes``; status values are ``int`` (names in ``hanota.layers.ota.STATUS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hanota.layers.security import KeyRing
    from scapy.packet import Packet


class DecodeError(ValueError):
    """Bytes that do not decode: says which layer, which field and at which offset.

    Equal when type, layer, field, offset and reason are: a partial ``HanFrame`` carries
    its error, and two decodes of the same bytes must compare equal.
    """

    def __init__(self, layer: str, field_name: str, offset: int, reason: str) -> None:
        self.layer = layer
        self.field = field_name
        self.offset = offset
        self.reason = reason
        super().__init__(f"{layer}.{field_name} at offset {offset}: {reason}")

    def _key(self) -> tuple[type, str, str, int, str]:
        return type(self), self.layer, self.field, self.offset, self.reason

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DecodeError) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class MicFailure(DecodeError):
    """CCM* authentication failed: wrong key, wrong nonce or a corrupted frame."""

    def __init__(self, layer: str, offset: int, reason: str = "MIC failure") -> None:
        super().__init__(layer, "mic", offset, reason)


class Unsupported(DecodeError):
    """Well-formed bytes this decoder does not read further: a MAC-encrypted payload,
    802.15.4-2015 information elements. Not a malformed frame, but like a MIC failure the
    sniffer's view stops there: what is above is unknown, not absent."""


@dataclass(frozen=True, slots=True)
class MacSecurity:
    """802.15.4 auxiliary security header (802.15.4-2015 section 9.4.2).

    ZigBee PRO never secures at the MAC layer; a frame that does carries a payload this
    decoder cannot read (``HanFrame.error`` is an ``Unsupported``). ``frame_counter`` is
    None when suppressed (2015 frames); ``key_source`` (4 or 8 bytes) and ``key_index``
    are present as the key identifier mode (0..3) says. An 802.15.4-2003 frame has no
    auxiliary header (its security fields are in the payload): ``level`` is None there.
    """

    level: int | None
    key_id_mode: int
    frame_counter: int | None = None
    key_source: bytes | None = None
    key_index: int | None = None


@dataclass(frozen=True, slots=True)
class Mac:
    """IEEE 802.15.4 MAC header. frame_type: 0 beacon, 1 data, 2 ack, 3 command (4..7 are
    802.15.4-2015 types whose header is not decoded beyond the frame control).

    ``seq`` is None when an 802.15.4-2015 frame suppresses it. ``frame_version``: 0 (2003),
    1 (2006), 2 (2015). ``security`` is set when the MAC itself secured the frame.
    ``ies`` lists a 2015 frame's information elements as (``"header"``, element id) and
    (``"payload"``, group id) pairs, in order; their contents are skipped.
    """

    frame_type: int
    seq: int | None
    pan_id: int | None = None
    dst16: int | None = None
    src16: int | None = None
    ack_request: bool = False
    dst64: str | None = None
    src64: str | None = None
    frame_version: int = 0
    security: MacSecurity | None = None
    ies: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Security:
    """Auxiliary security header of a secured NWK or APS frame (values as on the air)."""

    key_id: int
    frame_counter: int
    source64: str | None = None
    key_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Multicast:
    """NWK multicast control (ZigBee R22 3.3.1.7): mode 0 non-member, 1 member."""

    mode: int
    nonmember_radius: int
    max_nonmember_radius: int


@dataclass(frozen=True, slots=True)
class SourceRoute:
    """NWK source-route subframe (ZigBee R22 3.3.1.8).

    ``relays`` in air order: the relay nearest the destination first, the one nearest
    the originator last. ``relay_index`` points at the next relay on the way: the
    originator sets it to ``len(relays) - 1`` and each relay decrements it, so it tells
    how far the frame has travelled. The relay count is ``len(relays)``.
    """

    relay_index: int
    relays: tuple[int, ...]


BROADCAST_NAMES: dict[int, str] = {
    0xFFFF: "all devices",
    0xFFFD: "rx-on-when-idle devices",
    0xFFFC: "routers and coordinator",
    0xFFFB: "low-power routers",
}


@dataclass(frozen=True, slots=True)
class Nwk:
    """ZigBee NWK header. frame_type: 0 data, 1 command, 3 inter-PAN.

    ``src16`` is the originator, ``dst16`` the final destination (end to end, unlike
    the MAC addresses, which are those of one hop). ``src64``/``dst64`` are the header's
    extended source/destination fields, present only when the sender set them. An
    inter-PAN frame has only the stub header: addresses and seq are None there (the MAC
    header holds the addresses). ``security`` is None also on a frame cut inside its aux
    header (the frame's ``error`` says so).
    """

    dst16: int | None
    src16: int | None
    seq: int | None
    radius: int = 30
    frame_type: int = 0
    dst64: str | None = None
    src64: str | None = None
    security: Security | None = None
    multicast: Multicast | None = None
    source_route: SourceRoute | None = None

    @property
    def broadcast(self) -> str | None:
        """The broadcast group ``dst16`` names (R22 3.6.5), None for a unicast."""
        return BROADCAST_NAMES.get(self.dst16) if self.dst16 is not None else None


@dataclass(frozen=True, slots=True)
class Fragment:
    """APS extended header (ZigBee R22 2.2.5.1.8): one block of a fragmented APS frame.

    ``fragmentation`` as on the air: 0 not fragmented, 1 first block (then
    ``block_number`` is the total number of blocks), 2 a later block (its index).
    ``ack_bitfield`` is present on APS acks only. ``data`` is the block's payload,
    decrypted: the capture decoder reassembles the blocks from it.
    """

    fragmentation: int
    block_number: int | None = None
    ack_bitfield: int | None = None
    data: bytes = b""

    @property
    def index(self) -> int | None:
        """Position of this block in the frame (0 for the first), None when unfragmented."""
        if self.fragmentation == 1:
            return 0
        return self.block_number if self.fragmentation == 2 else None

    @property
    def total(self) -> int | None:
        """Number of blocks: said by the first block only."""
        return self.block_number if self.fragmentation == 1 else None


@dataclass(frozen=True, slots=True)
class Aps:
    """ZigBee APS header. frame_type: 0 data, 1 command, 2 ack, 3 inter-PAN.

    An APS command has no cluster, profile or endpoints: those are None there (the
    command is in ``HanFrame.aps_command``), never 0. A group-addressed frame (delivery
    mode 3) has ``group`` instead of ``dst_ep``; an inter-PAN frame has no endpoints and
    no counter. ``delivery`` is the delivery mode as on the air (0 unicast, 2 broadcast,
    3 group): a decoded frame always has it; on a frame to build, None means "from the
    NWK destination and ``group``". It takes no part in equality, so a frame built
    without it equals its decoding.
    """

    cluster: int | None
    profile: int | None
    dst_ep: int | None
    src_ep: int | None
    counter: int | None
    frame_type: int = 0
    ack_request: bool = False
    security: Security | None = None
    group: int | None = None
    fragment: Fragment | None = None
    delivery: int | None = field(default=None, compare=False)


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
class StackCommand:
    """A command of the ZigBee stack under ZCL: a NWK command (``layer`` "nwk", R22
    3.4), an APS command ("aps", R22 4.4.11) or a ZDO message ("zdo", R22 2.4: then
    ``command_id`` is the ZDO cluster). ``name`` is snake_case (``transport_key``,
    ``device_annce``, ``route_request``); ``fields`` as decoded, EUI-64s as text, keys
    and unknown payloads as bytes."""

    layer: str
    command_id: int
    name: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HanFrame:
    """Everything a sniffer sees in one 802.15.4 frame, decrypted. Absent layers are None.

    At most one of ``zcl``, ``nwk_command``, ``aps_command`` and ``zdo`` holds the
    frame's payload. ``error`` is set when a layer did not decode: every layer below it
    is kept (layer by layer, like Wireshark), the layer that failed and those above are
    None. A ``MicFailure`` or ``Unsupported`` error means the sniffer could not read
    what is above; any other error means malformed bytes.

    Who sent it (NWK security is applied hop by hop, so these differ on relayed frames):
    ``nwk.src16`` is the originator, ``mac.src16`` the last hop, ``securing64`` the node
    that applied NWK security (the last relaying hop), ``originator64`` the originator's
    EUI-64 where the frame proves it.
    """

    mac: Mac
    nwk: Nwk | None = None
    aps: Aps | None = None
    zcl: Zcl | None = None
    nwk_command: StackCommand | None = None
    aps_command: StackCommand | None = None
    zdo: StackCommand | None = None
    error: DecodeError | None = None

    @property
    def first_hop(self) -> bool | None:
        """True when the MAC sender is the NWK originator (MAC source short address ==
        NWK source), False on a relayed frame, None when either address is missing."""
        nwk = self.nwk
        if nwk is None or nwk.src16 is None or self.mac.src16 is None:
            return None
        return self.mac.src16 == nwk.src16

    @property
    def securing64(self) -> str | None:
        """EUI-64 in the NWK auxiliary header: the node that secured this hop.

        NWK security is applied hop by hop (R22 4.3.1): a router relaying a frame
        decrypts it and secures it again with its own EUI-64 and frame counter. So on a
        relayed frame this is the last relaying node, NOT the originator: never use it to
        identify who sent the frame (``originator64`` does that).
        """
        nwk = self.nwk
        if nwk is None or nwk.security is None:
            return None
        return nwk.security.source64

    @property
    def originator64(self) -> str | None:
        """EUI-64 of the node that originated the frame (the owner of ``nwk.src16``),
        where this frame proves it; None otherwise.

        Sources, in order: the NWK header's extended source field (set by the originator,
        kept end to end); the APS auxiliary header's source (APS security is end to end);
        the NWK auxiliary header's source on a first-hop frame only (MAC source ==
        NWK source, so the securing node is the originator). Not the NWK auxiliary header
        of a relayed frame: that names the last relay (see ``securing64``).
        """
        nwk = self.nwk
        if nwk is None:
            return None
        if nwk.src64 is not None:
            return nwk.src64
        aps = self.aps
        if aps is not None and aps.security is not None and aps.security.source64:
            return aps.security.source64
        if nwk.security is not None and self.first_hop:
            return nwk.security.source64
        return None


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
    Set by the capture's stateful decoder (``hanota.layers.dissector``): ``retransmission_of``
    is the number of the frame this one repeats byte for byte (a MAC retry: same MAC
    source, same sequence number, within the retry window); ``fragments`` is set on the
    record whose APS block completed a fragmented frame: the frame numbers of all its
    blocks in block order (its ``han.zcl`` / ``han.zdo`` is decoded from the
    reassembled payload; the earlier blocks only show ``han.aps.fragment``).
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
        from hanota.layers.scapy_ota import dissect

        return dissect(self.raw, keys, fcs=self.fcs)
    retransmission_of: int | None = None
    fragments: tuple[int, ...] = ()
