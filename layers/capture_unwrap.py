"""From a capture record to the 802.15.4 frame inside it, whatever carried it.

Sniffers write the PSDU directly (link types 195, 230), behind an 802.15.4 TAP header
(283), or inside ZEP datagrams on UDP port 17754 over Ethernet, raw IP, Linux cooked or
loopback captures. ``han_payload`` hides that: the decoder then sees one PSDU, whether it
ends with an FCS, and the channel when the carrier says it. Records that carry something
else (other UDP, ARP, ...) give ``None``: a lab capture legitimately holds them.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import NamedTuple

from layers.capture import (
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
from layers.capture_zep import ZEP_PORT, ZEP_PREAMBLE, ZepDatagram, zep_decode
from layers.model import DecodeError

_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
_UDP = 17
_IPV6_EXTENSIONS = frozenset((0, 43, 60))  # hop-by-hop, routing, destination options
_TAP_FCS_TYPE = 0
_TAP_RSS = 1
_TAP_CHANNEL = 3
_TAP_LQI = 10
_TAP_FCS_NONE, _TAP_FCS_16, _TAP_FCS_32 = 0, 1, 2


class HanPayload(NamedTuple):
    """The 802.15.4 PSDU a record carries.

    ``fcs``: the PSDU ends with a 16-bit FCS the MAC decoder must check.
    ``fcs_ok``: a verdict the carrier already gave (CC24xx CRC-OK bit, 32-bit FCS
    checked here); None when the decoder has to check, or nothing can be.
    ``rssi``: dBm from a TAP header; in ZEP LQI mode the signed RSSI byte as the CC24xx
    metadata gives it (radio-specific offset not applied).
    """

    psdu: bytes
    fcs: bool
    channel: int | None = None
    lqi: int | None = None
    rssi: float | None = None
    fcs_ok: bool | None = None


def han_payload(record: CaptureRecord) -> HanPayload | None:
    """The 802.15.4 frame in ``record``, or None if it carries none.

    Raises ``DecodeError`` when the record is meant to carry one (802.15.4 link type,
    UDP port 17754) but its carrier is malformed.
    """
    linktype = record.linktype
    if linktype == LINKTYPE_IEEE802_15_4_WITHFCS:
        return HanPayload(record.data, True)
    unwrap = _UNWRAPPERS.get(linktype)
    return unwrap(record.data) if unwrap is not None else None


def _no_fcs(data: bytes) -> HanPayload:
    return HanPayload(data, False)


def _tap(data: bytes) -> HanPayload:
    """IEEE 802.15.4 TAP: version, reserved, header length, then TLVs padded to 4 bytes.

    Without an FCS-type TLV the frame is taken to have no FCS, as Wireshark reads it.
    """
    if len(data) < 4:
        raise DecodeError("tap", "header", 0, f"truncated: {len(data)} of 4 bytes present")
    version, _reserved, length = struct.unpack_from("<BBH", data)
    if version != 0:
        raise DecodeError("tap", "version", 0, f"unknown version {version}")
    if length < 4 or length > len(data):
        raise DecodeError("tap", "length", 2, f"{length} outside 4..{len(data)}")
    fcs_type, channel, lqi, rssi = _TAP_FCS_NONE, None, None, None
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
        position += 4 + size + (-size % 4)
    psdu = data[length:]
    if fcs_type == _TAP_FCS_16:
        return HanPayload(psdu, True, channel, lqi, rssi)
    if fcs_type == _TAP_FCS_NONE:
        return HanPayload(psdu, False, channel, lqi, rssi)
    if fcs_type == _TAP_FCS_32:
        if len(psdu) < 4:
            raise DecodeError("tap", "fcs", length, "frame shorter than its 32-bit FCS")
        body = psdu[:-4]
        fcs_ok = zlib.crc32(body) == int.from_bytes(psdu[-4:], "little")
        return HanPayload(body, False, channel, lqi, rssi, fcs_ok)
    raise DecodeError("tap", "fcs_type", 8, f"unknown FCS type {fcs_type}")


def zep_payload(zep: ZepDatagram, psdu_offset: int) -> HanPayload:
    """The 802.15.4 frame of a ZEP data datagram.

    Why shared: in LQI mode the sniffer replaces the FCS with an RSSI byte and a CRC-OK
    bit; capture unwrapping and the live ZEP source must read that the same way.
    ``psdu_offset`` places errors within the datagram.
    """
    if zep.crc_mode:
        return HanPayload(zep.psdu, True, zep.channel, zep.lqi)
    if len(zep.psdu) < 2:
        raise DecodeError("zep", "psdu", psdu_offset, "no RSSI/LQI bytes")
    rssi = zep.psdu[-2] - 256 if zep.psdu[-2] > 127 else zep.psdu[-2]
    crc_ok = bool(zep.psdu[-1] & 0x80)
    return HanPayload(zep.psdu[:-2], False, zep.channel, zep.lqi, float(rssi), crc_ok)


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
    LINKTYPE_IEEE802_15_4_NOFCS: _no_fcs,
    LINKTYPE_IEEE802_15_4_TAP: _tap,
    LINKTYPE_ETHERNET: _ethernet,
    LINKTYPE_RAW: _ip,
    LINKTYPE_IPV4: _ipv4,
    LINKTYPE_IPV6: _ipv6,
    LINKTYPE_LINUX_SLL: _linux_cooked,
    LINKTYPE_LINUX_SLL2: _linux_cooked_v2,
    LINKTYPE_NULL: _loopback,
    LINKTYPE_LOOP: _loopback,
}
