"""From a capture record to the 802.15.4 frame inside it, whatever carried it.

Sniffers write the PSDU directly (link types 195, 230), behind an 802.15.4 TAP header
(283), or inside ZEP datagrams on UDP port 17754 over Ethernet, raw IP, Linux cooked or
loopback captures. ``han_payload`` hides that: the decoder then sees one PSDU, whether it
ends with an FCS and whether that FCS holds, and the channel when the carrier says it.
Records that carry something else (other UDP, ARP, ...) give ``None``: a lab capture
legitimately holds them.

What follows the MAC frame is decided here and only here, from what the capture says:

- link type 195: a 16-bit FCS (CRC-16, Wireshark's default), or the TI CC24xx/CC26xx
  packet sniffer's two metadata bytes (RSSI, then CRC-OK bit | correlation; Wireshark's
  ``wpan.fcs_format`` "TI CC24xx metadata", packet-ieee802154.c), or nothing; one
  convention per capture (``FcsFormatDetector``), never guessed frame by frame;
- a record whose original length exceeds its captured length by at most the FCS length
  lost only (part of) its FCS: a whole frame with no FCS (a real sniffer writes link type
  195 with the FCS left out and the original length counting it, as packet-ieee802154.c
  also reads it); by more, the capture cut the frame itself (a snapshot length): it is
  decoded as far as it goes and says so (``original_length``);
- 802.15.4 TAP: its FCS-type TLV (https://github.com/jkcko/ieee802.15.4-tap);
- ZEP: CRC mode ends with the FCS, LQI mode with CC24xx metadata (packet-zep.c).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import NamedTuple

from hanota.layers.capture import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IEEE802_15_4_NOFCS,
    LINKTYPE_IEEE802_15_4_TAP,
    LINKTYPE_IEEE802_15_4_WITHFCS,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    CaptureRecord,
)
from hanota.layers.capture_zep import ZEP_PORT, ZEP_PREAMBLE, ZepDatagram, zep_decode
from hanota.layers.codec import crc16_kermit
from hanota.layers.model import DecodeError

_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
_UDP = 17
_IPV6_EXTENSIONS = frozenset((0, 43, 60))  # hop-by-hop, routing, destination options
# 802.15.4 TAP TLV types (the TAP specification, section 3); others are skipped.
_TAP_FCS_TYPE = 0
_TAP_RSS = 1
_TAP_CHANNEL = 3
_TAP_LQI = 10
_TAP_CHANNEL_FREQUENCY = 11
_TAP_FCS_NONE, _TAP_FCS_16, _TAP_FCS_32 = 0, 1, 2
_CC24XX_CRC_OK = 0x80

FCS_AUTO, FCS_CRC16, FCS_CC24XX, FCS_NONE = "auto", "crc16", "cc24xx", "none"
FCS_FORMATS = (FCS_AUTO, FCS_CRC16, FCS_CC24XX, FCS_NONE)
"""What follows the MAC frame in a link-type-195 record (``--fcs-format``)."""
_CRC32 = "crc32"
_TRAILER_LENGTH = {FCS_NONE: 0, FCS_CRC16: 2, FCS_CC24XX: 2, _CRC32: 4}


class HanPayload(NamedTuple):
    """The 802.15.4 PSDU a record carries.

    ``fcs``: ``psdu`` ends with its 16-bit FCS (``body`` is the frame without it).
    ``fcs_ok``: whether that FCS holds, checked here (CRC-16, a TAP CRC-32) or as the
    sniffer reports it (CC24xx CRC-OK bit); None when the capture holds no FCS.
    ``rssi``: dBm from a TAP header; from CC24xx metadata the signed RSSI byte as the
    radio gives it (radio-specific offset not applied).
    ``original_length``: the PSDU's length on the air, FCS included, when the capture kept
    only part of the frame (``psdu`` is then what was kept); None when it is whole.
    ``frequency``: the channel centre frequency in kHz (TAP).
    """

    psdu: bytes
    fcs: bool
    channel: int | None = None
    lqi: int | None = None
    rssi: float | None = None
    fcs_ok: bool | None = None
    original_length: int | None = None
    frequency: float | None = None

    @property
    def body(self) -> bytes:
        """The MAC frame without its FCS: what the MAC decoder reads."""
        return self.psdu[:-2] if self.fcs else self.psdu


def han_payload(record: CaptureRecord, fcs_format: str = FCS_CRC16) -> HanPayload | None:
    """The 802.15.4 frame in ``record``, or None if it carries none.

    ``fcs_format`` (not ``auto``: ``FcsFormatDetector`` decides that) says what ends a
    link-type-195 record. Raises ``DecodeError`` when the record is meant to carry a
    frame (802.15.4 link type, UDP port 17754) but its carrier is malformed.
    """
    _, _, linktype, data, _, original = record
    size = len(data)
    if linktype == LINKTYPE_IEEE802_15_4_WITHFCS and fcs_format == FCS_CRC16 \
            and (original is None or original <= size):  # the hot path: whole, CRC-16
        return HanPayload(data, True, None, None, None, _crc16_ok(data))
    missing = 0 if original is None else original - size
    if linktype == LINKTYPE_IEEE802_15_4_WITHFCS:
        return frame_payload(data, missing, fcs_format)
    if linktype == LINKTYPE_IEEE802_15_4_NOFCS:
        return frame_payload(data, missing, FCS_NONE)
    if linktype == LINKTYPE_IEEE802_15_4_TAP:
        return _tap(data, missing)
    unwrap = _UNWRAPPERS.get(linktype)
    return unwrap(data) if unwrap is not None else None


def _crc16_ok(psdu: bytes) -> bool | None:
    """Whether the last two bytes are the CRC-16 of the rest; None for a frame too short
    to hold a MAC header and an FCS (the MAC decoder then says what is missing)."""
    if len(psdu) < 5:
        return None
    return crc16_kermit(psdu[:-2]) == psdu[-2] | psdu[-1] << 8


def frame_payload(
    psdu: bytes, missing: int, trailer: str, *, channel: int | None = None,
    lqi: int | None = None, rssi: float | None = None, frequency: float | None = None,
) -> HanPayload:
    """The frame ``psdu`` followed by ``trailer`` (``crc16``, ``cc24xx``, ``none`` or
    ``crc32``), of which the capture left out the last ``missing`` bytes.

    Losing no more than the trailer leaves a whole frame without FCS; losing more cuts
    the frame, which keeps ``original_length`` so it is flagged, never dropped.
    """
    length = _TRAILER_LENGTH[trailer]
    if missing > 0:
        if missing <= length:
            return HanPayload(psdu[:len(psdu) + missing - length], False, channel, lqi, rssi,
                              None, None, frequency)
        return HanPayload(psdu, False, channel, lqi, rssi, None, len(psdu) + missing, frequency)
    if trailer == FCS_CRC16:
        return HanPayload(psdu, True, channel, lqi, rssi, _crc16_ok(psdu), None, frequency)
    if trailer == FCS_NONE:
        return HanPayload(psdu, False, channel, lqi, rssi, None, None, frequency)
    if len(psdu) < length:
        raise DecodeError("mac", "fcs", 0, f"{len(psdu)} bytes: shorter than its "
                          f"{length}-byte {'CC24xx metadata' if trailer == FCS_CC24XX else 'FCS'}")
    body = psdu[:-length]
    if trailer == _CRC32:
        fcs_ok = zlib.crc32(body) == int.from_bytes(psdu[-4:], "little")
        return HanPayload(body, False, channel, lqi, rssi, fcs_ok, None, frequency)
    # CC24xx metadata: RSSI (signed), then the CRC-OK bit over 7 bits of correlation.
    signed = psdu[-2] - 256 if psdu[-2] > 127 else psdu[-2]
    return HanPayload(
        body, False, channel, psdu[-1] & 0x7F if lqi is None else lqi,
        float(signed) if rssi is None else rssi, bool(psdu[-1] & _CC24XX_CRC_OK), None,
        frequency,
    )


class FcsFormatDetector:
    """Decides once per capture what ends its link-type-195 records, from its first ones.

    Why per capture: one sniffer writes one convention, and a frame-by-frame guess would
    turn every corrupted frame of a CRC-16 capture into a "CC24xx" frame whose CRC-OK bit
    happens to be set. The rule: a whole record whose last two bytes are the CRC-16 of the
    rest decides CRC-16 at once (a CC24xx trailer does that one time in 65,536); when none
    of the first ``PROBES`` does and (all but at most one of) their CC24xx CRC-OK bits are
    set, it is CC24xx metadata; otherwise, or with fewer than ``MIN_CC24XX_PROBES`` frames
    to judge (one corrupted frame proves nothing), CRC-16 stays (Wireshark's default) and
    its bad FCSs are flagged, frame by frame, for the user to see. Records of other link types
    cannot tell; after ``HELD_MAX`` records the decision is taken with what was seen, so
    a caller holding records until then holds a bounded number.
    """

    PROBES = 8
    MIN_CC24XX_PROBES = 3
    HELD_MAX = 64

    def __init__(self, fcs_format: str = FCS_AUTO) -> None:
        if fcs_format not in FCS_FORMATS:
            raise ValueError(f"FCS format {fcs_format!r}: one of {', '.join(FCS_FORMATS)}")
        self.format: str | None = None if fcs_format == FCS_AUTO else fcs_format
        self.reason = "given" if self.format else ""
        self._seen = 0
        self._probes = 0
        self._crc_ok_bits = 0
        self._without_fcs = 0  # link-type-195 records whose original length counts 2 more

    @property
    def decided(self) -> bool:
        return self.format is not None

    def observe(self, record: CaptureRecord) -> bool:
        """Take one more record into account; True once the format is decided."""
        if self.format is not None:
            return True
        self._seen += 1
        data = record.data
        missing = 0 if record.original_length is None else record.original_length - len(data)
        if record.linktype == LINKTYPE_IEEE802_15_4_WITHFCS and missing == 2:
            self._without_fcs += 1
        if record.linktype == LINKTYPE_IEEE802_15_4_WITHFCS and missing <= 0 and len(data) >= 5:
            self._probes += 1
            if _crc16_ok(data):
                self._decide(FCS_CRC16, f"auto: frame {record.number} passes CRC-16")
                return True
            self._crc_ok_bits += bool(data[-1] & _CC24XX_CRC_OK)
            if self._probes >= self.PROBES:
                self.finish()
        elif self._seen >= self.HELD_MAX:
            self.finish()
        return self.format is not None

    def finish(self) -> str:
        """Decide with what was seen (the capture ended or enough was seen)."""
        if self.format is not None:
            return self.format
        probes, bits = self._probes, self._crc_ok_bits
        if probes == 0:
            self._decide(FCS_CRC16, "auto: no whole link-type-195 frame among the first "
                         f"{self._seen} records; CRC-16, Wireshark's default")
        elif probes >= self.MIN_CC24XX_PROBES and bits >= probes - (probes >= 4):
            self._decide(FCS_CC24XX, f"auto: none of the first {probes} link-type-195 frames "
                         f"passes CRC-16 and {bits} have the CC24xx CRC-OK bit set: TI CC24xx "
                         "metadata (RSSI, CRC-OK bit, correlation) in place of the FCS")
        else:
            self._decide(FCS_CRC16, f"auto: none of the first {probes} link-type-195 frames "
                         f"passes CRC-16 and only {bits} have the CC24xx CRC-OK bit set: kept "
                         "CRC-16, bad FCSs flagged (see --fcs-format cc24xx or none)")
        assert self.format is not None
        return self.format

    def _decide(self, fcs_format: str, reason: str) -> None:
        self.format, self.reason = fcs_format, reason

    @property
    def description(self) -> str:
        """``link type 195 FCS format: cc24xx (auto: ...)`` for the summary, saying too
        when records leave their FCS out; empty when the format was left to detection
        and no link-type-195 frame was seen."""
        without = (
            f"link type 195: {self._without_fcs} of the first {self._seen} records leave "
            "their FCS out (captured length = original length - 2): decoded without FCS"
            if self._without_fcs else ""
        )
        if self.reason != "given" and not self._probes:
            return without
        described = f"link type 195 FCS format: {self.format} ({self.reason})"
        return f"{described}; {without}" if without else described

def _tap(data: bytes, missing: int) -> HanPayload:
    """IEEE 802.15.4 TAP: version, reserved, header length, then TLVs padded to 4 bytes.

    Without an FCS-type TLV the frame is taken to have no FCS, as Wireshark reads it.
    Channel, RSS, LQI and the channel centre frequency are kept; every other TLV (SOF/EOF
    timestamps, bit rate, ASN, ...) is skipped by its length.
    """
    if len(data) < 4:
        raise DecodeError("tap", "header", 0, f"truncated: {len(data)} of 4 bytes present")
    version, _reserved, length = struct.unpack_from("<BBH", data)
    if version != 0:
        raise DecodeError("tap", "version", 0, f"unknown version {version}")
    if length < 4 or length > len(data):
        raise DecodeError("tap", "length", 2, f"{length} outside 4..{len(data)}")
    fcs_type, channel, lqi, rssi, frequency = _TAP_FCS_NONE, None, None, None, None
    position = 4
    while position + 4 <= length:
        tlv_type, size = struct.unpack_from("<HH", data, position)
        value = data[position + 4:position + 4 + size]
        if position + 4 + size > length:
            raise DecodeError("tap", f"tlv {tlv_type}", position, "runs past the header")
        if tlv_type == _TAP_FCS_TYPE and size >= 1:
            fcs_type = value[0]
        elif tlv_type == _TAP_CHANNEL and size >= 2:
            channel = struct.unpack_from("<H", value)[0]
        elif tlv_type == _TAP_LQI and size >= 1:
            lqi = value[0]
        elif tlv_type == _TAP_RSS and size >= 4:
            rssi = struct.unpack_from("<f", value)[0]
        elif tlv_type == _TAP_CHANNEL_FREQUENCY and size >= 4:
            frequency = struct.unpack_from("<f", value)[0]
        position += 4 + size + (-size % 4)
    trailer = {_TAP_FCS_NONE: FCS_NONE, _TAP_FCS_16: FCS_CRC16, _TAP_FCS_32: _CRC32}.get(fcs_type)
    if trailer is None:
        raise DecodeError("tap", "fcs_type", 8, f"unknown FCS type {fcs_type}")
    return frame_payload(data[length:], missing, trailer, channel=channel, lqi=lqi, rssi=rssi,
                         frequency=frequency)


def zep_payload(zep: ZepDatagram, psdu_offset: int) -> HanPayload:
    """The 802.15.4 frame of a ZEP data datagram.

    Why shared: in LQI mode the sniffer replaces the FCS with an RSSI byte and a CRC-OK
    bit (CC24xx metadata, as packet-zep.c hands it to Wireshark's ``wpan_cc24xx``); capture
    unwrapping and the live ZEP source must read that the same way. ``psdu_offset``
    places errors within the datagram.
    """
    if zep.crc_mode:
        return frame_payload(zep.psdu, 0, FCS_CRC16, channel=zep.channel, lqi=zep.lqi)
    if len(zep.psdu) < 2:
        raise DecodeError("zep", "psdu", psdu_offset, "no RSSI/LQI bytes")
    return frame_payload(zep.psdu, 0, FCS_CC24XX, channel=zep.channel, lqi=zep.lqi)


def _zep(datagram: bytes) -> HanPayload | None:
    """ZEP data frame; a ZEP ack carries no 802.15.4 frame and gives None."""
    zep = zep_decode(datagram)
    if zep.kind != "data":
        return None
    return zep_payload(zep, len(datagram) - len(zep.psdu))


def _udp(segment: bytes) -> HanPayload | None:
    """UDP to port 17754 is ZEP; from port 17754 only when it starts like ZEP, since an
    ephemeral source port can be 17754 by chance."""
    if len(segment) < 8:
        return None
    source, destination, length = struct.unpack_from(">HHH", segment)
    if destination != ZEP_PORT and (source != ZEP_PORT or segment[8:10] != ZEP_PREAMBLE):
        return None
    end = length if 8 <= length <= len(segment) else len(segment)
    return _zep(segment[8:end])


def _ipv4(packet: bytes) -> HanPayload | None:
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    header = (packet[0] & 0x0F) * 4
    total, fragment = struct.unpack_from(">H2xH", packet, 2)
    if packet[9] != _UDP or fragment & 0x3FFF or header < 20:
        return None  # not UDP, or a fragment: ZEP datagrams are far smaller than an MTU
    end = total if header <= total <= len(packet) else len(packet)
    return _udp(packet[header:end])


def _ipv6(packet: bytes) -> HanPayload | None:
    if len(packet) < 40 or packet[0] >> 4 != 6:
        return None
    next_header = packet[6]
    position = 40
    while next_header in _IPV6_EXTENSIONS:
        if position + 2 > len(packet):
            return None
        next_header, extension = packet[position], (packet[position + 1] + 1) * 8
        position += extension
    if next_header != _UDP:
        return None  # includes fragments (44): ZEP datagrams are far smaller than an MTU
    return _udp(packet[position:])


def _ip(packet: bytes) -> HanPayload | None:
    """Raw IP: the version nibble says which."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        return _ipv4(packet)
    return _ipv6(packet) if version == 6 else None


def _by_ethertype(ethertype: int, packet: bytes) -> HanPayload | None:
    if ethertype == _ETHERTYPE_IPV4:
        return _ipv4(packet)
    return _ipv6(packet) if ethertype == _ETHERTYPE_IPV6 else None


def _ethernet(frame: bytes) -> HanPayload | None:
    position = 12
    while len(frame) >= position + 2:
        ethertype = struct.unpack_from(">H", frame, position)[0]
        if ethertype not in _VLAN_TAGS:
            return _by_ethertype(ethertype, frame[position + 2:])
        position += 4
    return None


def _linux_cooked(frame: bytes) -> HanPayload | None:
    """SLL: 16-byte header, protocol (an ethertype) at offset 14."""
    if len(frame) < 16:
        return None
    return _by_ethertype(struct.unpack_from(">H", frame, 14)[0], frame[16:])


def _linux_cooked_v2(frame: bytes) -> HanPayload | None:
    """SLL2: 20-byte header, protocol at offset 0."""
    if len(frame) < 20:
        return None
    return _by_ethertype(struct.unpack_from(">H", frame)[0], frame[20:])


def _loopback(frame: bytes) -> HanPayload | None:
    """Null/loop: a 4-byte address family in an order that depends on the capturing host;
    the IP version nibble that follows is unambiguous, so it decides."""
    return _ip(frame[4:]) if len(frame) > 4 else None


_UNWRAPPERS: dict[int, Callable[[bytes], HanPayload | None]] = {
    LINKTYPE_ETHERNET: _ethernet,
    LINKTYPE_RAW: _ip,
    LINKTYPE_IPV4: _ipv4,
    LINKTYPE_IPV6: _ipv6,
    LINKTYPE_LINUX_SLL: _linux_cooked,
    LINKTYPE_LINUX_SLL2: _linux_cooked_v2,
    LINKTYPE_NULL: _loopback,
    LINKTYPE_LOOP: _loopback,
}
