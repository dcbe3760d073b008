"""Whole-frame codec: 802.15.4 MAC, ZigBee NWK (+ security), APS (+ security), then ZCL,
ZDO or a NWK/APS command.

Why hand-written with struct/int.from_bytes rather than scapy: this is the hot path of a
65,000-frame image transfer, decoded by the capture decoder and built by the emulator.

Decoding is layer by layer, as Wireshark does: ``dissect_frame`` returns every layer it
decoded and, when one fails, the error naming its layer, field and offset
(``HanFrame.error``); nothing below the error is lost. ``parse_frame`` is the strict form
(raises that error). Every DecodeError carries the absolute offset in the raw frame:
decrypted layers are the same length as their ciphertext, so a position in plaintext
maps back one to one.

Formats: IEEE 802.15.4-2015 section 7.2 (MAC frame, table 7-2 for PAN id presence),
9.4 (MAC auxiliary security header); ZigBee R22 (05-3474-22) 3.3 (NWK frame), 2.2.5 (APS
frame), 4.5 (auxiliary security header); ZigBee Smart Energy 1.4 annex B (inter-PAN).
"""

from __future__ import annotations

import binascii
import dataclasses
import struct
from typing import Any

from hanota.layers.fastinit import fast_constructor
from hanota.layers.model import (
    Aps,
    DecodeError,
    Fragment,
    HanFrame,
    Mac,
    MacSecurity,
    Multicast,
    Nwk,
    Security,
    SourceRoute,
    StackCommand,
    Unsupported,
)
from hanota.layers.security import (
    EXTENDED_NONCE,
    KeyRing,
    KeySource,
    decode_aux_header,
    encrypt_layer,
    eui64_to_air,
    open_layer,
)
from hanota.layers.stack import (
    APS_TUNNEL,
    decode_command,
    decode_nwk_command,
    decode_zdo,
    encode_command,
)
from hanota.layers.zcl import decode_zcl, encode_zcl

MAC_BEACON, MAC_DATA, MAC_ACK, MAC_COMMAND = 0, 1, 2, 3
MAC_FRAME_TYPE_NAMES = {4: "reserved", 5: "multipurpose", 6: "fragment", 7: "extended"}
MAC_SECURITY = 0x0008
MAC_ACK_REQUEST = 0x0020
MAC_PAN_ID_COMPRESSION = 0x0040
MAC_SEQ_SUPPRESSION = 0x0100
MAC_IE_PRESENT = 0x0200
MAC_VERSION_2015 = 2
MAX_PHY_PAYLOAD = 127
ADDR_NONE, ADDR_SHORT, ADDR_EXTENDED = 0, 2, 3
FCS_LENGTH = 2

NWK_DATA, NWK_COMMAND, NWK_INTER_PAN = 0, 1, 3
NWK_PROTOCOL_VERSION_PRO = 2 << 2
NWK_DISCOVER_ROUTE_ENABLE = 1 << 6
NWK_MULTICAST = 0x0100
NWK_SECURITY = 0x0200
NWK_SOURCE_ROUTE = 0x0400
NWK_DST_IEEE = 0x0800
NWK_SRC_IEEE = 0x1000
NWK_BROADCAST_MIN = 0xFFF8

APS_DATA, APS_COMMAND, APS_ACK, APS_INTER_PAN = 0, 1, 2, 3
APS_DELIVERY_UNICAST, APS_DELIVERY_BROADCAST, APS_DELIVERY_GROUP = 0, 2, 3
APS_ACK_FORMAT = 0x10
APS_SECURITY = 0x20
APS_ACK_REQUEST = 0x40
APS_EXTENDED_HEADER = 0x80
ZDO_ENDPOINT = 0

_NWK_FIXED = struct.Struct("<HHHBB")
_APS_ADDRESSING = struct.Struct("<BHHB")
_APS_GROUP_ADDRESSING = struct.Struct("<HHHB")
_BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))
_NO_KEYS = KeyRing()
_make_mac = fast_constructor(Mac)
_make_nwk = fast_constructor(Nwk)
_make_aps = fast_constructor(Aps)
_make_han = fast_constructor(HanFrame)


def crc16_kermit(data: bytes) -> int:
    """802.15.4 FCS (CRC-16/KERMIT).

    Why the bit reversals: KERMIT is the reflected form of XMODEM, which binascii computes
    in C; reflecting input bytes and the result turns one into the other at C speed.
    """
    crc = binascii.crc_hqx(data.translate(_BIT_REVERSED), 0)
    return _BIT_REVERSED[crc & 0xFF] << 8 | _BIT_REVERSED[crc >> 8]


def _truncated(layer: str, field: str, pos: int, need: int, have: int) -> DecodeError:
    return DecodeError(layer, field, pos, f"truncated: need {need} bytes, {max(have, 0)} left")


# ---- MAC ---------------------------------------------------------------------------------


def pan_ids_present(version: int, dst_mode: int, src_mode: int, compress: bool) -> tuple[
    bool, bool
]:
    """(destination PAN id present, source PAN id present).

    Frame versions 0 and 1: the source PAN id is left out when both addresses are present
    and PAN id compression is set. Version 2 (802.15.4-2015 table 7-2) decides from both
    addressing modes and the compression bit together.
    """
    if version < MAC_VERSION_2015:
        return bool(dst_mode), bool(src_mode) and not (dst_mode and compress)
    if not dst_mode and not src_mode:
        return compress, False
    if not src_mode:
        return not compress, False
    if not dst_mode:
        return False, not compress
    if dst_mode == ADDR_EXTENDED and src_mode == ADDR_EXTENDED:
        return not compress, False
    return True, not compress


def _mac_security(raw: bytes, pos: int, end: int, version: int) -> tuple[MacSecurity, int]:
    """802.15.4 auxiliary security header at ``pos`` (802.15.4-2015 9.4.2)."""
    if pos >= end:
        raise _truncated("mac", "security_control", pos, 1, 0)
    control = raw[pos]
    level, key_id_mode = control & 7, (control >> 3) & 3
    suppressed = version == MAC_VERSION_2015 and control & 0x20
    pos += 1
    counter = None
    if not suppressed:
        if pos + 4 > end:
            raise _truncated("mac", "frame_counter", pos, 4, end - pos)
        counter = int.from_bytes(raw[pos : pos + 4], "little")
        pos += 4
    source_size = (0, 0, 4, 8)[key_id_mode]
    key_source = key_index = None
    if key_id_mode:
        if pos + source_size + 1 > end:
            raise _truncated("mac", "key_identifier", pos, source_size + 1, end - pos)
        key_source = raw[pos : pos + source_size] or None
        key_index = raw[pos + source_size]
        pos += source_size + 1
    return MacSecurity(level, key_id_mode, counter, key_source, key_index), pos


def _parse_ies(raw: bytes, pos: int, end: int, secured: bool) -> tuple[
    tuple[tuple[str, int], ...], int
]:
    """802.15.4-2015 information elements (7.4): header IEs (2-byte descriptor: length 7
    bits, element id 8 bits, type 0) up to a termination IE (0x7E: payload IEs follow,
    0x7F: the payload follows) or the end; then payload IEs (length 11 bits, group id 4
    bits, type 1) up to the payload termination (group 0xF). On a secured frame the
    payload IEs are encrypted: only the header IEs are read."""
    ies: list[tuple[str, int]] = []
    payload_ies = False
    while pos + 2 <= end:
        descriptor = raw[pos] | raw[pos + 1] << 8
        length, element = descriptor & 0x7F, (descriptor >> 7) & 0xFF
        if pos + 2 + length > end:
            raise _truncated("mac", "header_ie", pos + 2, length, end - pos - 2)
        pos += 2 + length
        ies.append(("header", element))
        if element in (0x7E, 0x7F):
            payload_ies = element == 0x7E
            break
    while payload_ies and not secured and pos + 2 <= end:
        descriptor = raw[pos] | raw[pos + 1] << 8
        length, group = descriptor & 0x7FF, (descriptor >> 11) & 0xF
        if pos + 2 + length > end:
            raise _truncated("mac", "payload_ie", pos + 2, length, end - pos - 2)
        pos += 2 + length
        ies.append(("payload", group))
        if group == 0xF:
            break
    return tuple(ies), pos


def _parse_mac(raw: bytes, end: int) -> tuple[Mac, int, DecodeError | None]:
    """MAC header: (Mac, position after it, error). On an error the Mac holds what was
    decoded before it."""
    control = raw[0] | raw[1] << 8
    frame_type = control & 7
    version = (control >> 12) & 3
    ack_request = bool(control & MAC_ACK_REQUEST)
    if frame_type > MAC_COMMAND:
        name = MAC_FRAME_TYPE_NAMES[frame_type]
        mac = _make_mac(frame_type=frame_type, seq=None, frame_version=version)
        reason = f"802.15.4-2015 {name} frame (type {frame_type}): header not decoded"
        return mac, 2, Unsupported("mac", "frame_type", 0, reason)
    if version == MAC_VERSION_2015 and control & MAC_SEQ_SUPPRESSION:
        seq, pos = None, 2
    elif end < 3:
        mac = _make_mac(frame_type=frame_type, seq=None, frame_version=version)
        return mac, 2, _truncated("mac", "seq", 2, 1, end - 2)
    else:
        seq, pos = raw[2], 3
    dst_mode = (control >> 10) & 3
    src_mode = (control >> 14) & 3
    pan_id = dst16 = src16 = dst64 = src64 = None
    security = None
    ies: tuple[tuple[str, int], ...] = ()
    error: DecodeError | None = None
    if dst_mode == 1 or src_mode == 1:
        error = DecodeError("mac", "frame_control", 0, "reserved addressing mode 1")
    else:
        dst_pan, src_pan = pan_ids_present(
            version, dst_mode, src_mode, bool(control & MAC_PAN_ID_COMPRESSION)
        )
        try:
            if dst_pan:
                if pos + 2 > end:
                    raise _truncated("mac", "destination_pan_id", pos, 2, end - pos)
                pan_id = raw[pos] | raw[pos + 1] << 8
                pos += 2
            if dst_mode == ADDR_SHORT:
                if pos + 2 > end:
                    raise _truncated("mac", "destination", pos, 2, end - pos)
                dst16 = raw[pos] | raw[pos + 1] << 8
                pos += 2
            elif dst_mode == ADDR_EXTENDED:
                if pos + 8 > end:
                    raise _truncated("mac", "destination", pos, 8, end - pos)
                dst64 = raw[pos : pos + 8][::-1].hex().upper()
                pos += 8
            if src_pan:
                if pos + 2 > end:
                    raise _truncated("mac", "source_pan_id", pos, 2, end - pos)
                if pan_id is None:
                    pan_id = raw[pos] | raw[pos + 1] << 8
                pos += 2
            if src_mode == ADDR_SHORT:
                if pos + 2 > end:
                    raise _truncated("mac", "source", pos, 2, end - pos)
                src16 = raw[pos] | raw[pos + 1] << 8
                pos += 2
            elif src_mode == ADDR_EXTENDED:
                if pos + 8 > end:
                    raise _truncated("mac", "source", pos, 8, end - pos)
                src64 = raw[pos : pos + 8][::-1].hex().upper()
                pos += 8
            if control & MAC_SECURITY:
                if version == 0:
                    security = MacSecurity(None, 0)
                else:
                    security, pos = _mac_security(raw, pos, end, version)
            if version == MAC_VERSION_2015 and control & MAC_IE_PRESENT:
                ies, pos = _parse_ies(raw, pos, end, security is not None)
            if security is not None:
                level = "2003" if security.level is None else f"level {security.level}"
                reason = (f"MAC-encrypted payload ({end - pos} bytes, 802.15.4 security "
                          f"{level}): not decoded; ZigBee PRO does not secure the MAC layer")
                error = Unsupported("mac", "payload", pos, reason)
        except DecodeError as caught:
            error = caught
    mac = _make_mac(
        frame_type=frame_type, seq=seq, pan_id=pan_id, dst16=dst16, src16=src16,
        ack_request=ack_request, dst64=dst64, src64=src64, frame_version=version,
        security=security, ies=ies,
    )
    return mac, pos, error


# ---- NWK ---------------------------------------------------------------------------------


class _AuxHeaderCut(Exception):
    """The NWK header decoded but its security aux header did not (a frame cut by the
    capture's snap length): the header is kept, as tshark keeps it."""

    def __init__(self, nwk: Nwk, error: DecodeError) -> None:
        super().__init__(str(error))
        self.nwk = nwk
        self.error = error


def _parse_nwk_header(raw: bytes, pos: int, end: int) -> tuple[Nwk, int, int, int]:
    """NWK header at ``pos``: (Nwk, position of the aux header, position of the payload,
    security control byte or -1 when unsecured: then both positions are equal).
    Inter-PAN frames have a 2-byte stub header."""
    if pos + 2 > end:
        raise _truncated("nwk", "frame_control", pos, 2, end - pos)
    control = raw[pos] | raw[pos + 1] << 8
    frame_type = control & 3
    if frame_type == NWK_INTER_PAN:
        nwk = _make_nwk(dst16=None, src16=None, seq=None, radius=None, frame_type=frame_type)
        return nwk, pos + 2, pos + 2, -1
    if frame_type > NWK_COMMAND:
        raise DecodeError("nwk", "frame_type", pos, f"reserved NWK frame type {frame_type}")
    if pos + 8 > end:
        raise _truncated("nwk", "header", pos, 8, end - pos)
    _, dst16, src16, radius, seq = _NWK_FIXED.unpack_from(raw, pos)
    pos += 8
    dst64 = src64 = multicast = source_route = None
    if control & NWK_DST_IEEE:
        if pos + 8 > end:
            raise _truncated("nwk", "dst64", pos, 8, end - pos)
        dst64 = raw[pos : pos + 8][::-1].hex().upper()
        pos += 8
    if control & NWK_SRC_IEEE:
        if pos + 8 > end:
            raise _truncated("nwk", "src64", pos, 8, end - pos)
        src64 = raw[pos : pos + 8][::-1].hex().upper()
        pos += 8
    if control & NWK_MULTICAST:
        if pos >= end:
            raise _truncated("nwk", "multicast_control", pos, 1, 0)
        byte = raw[pos]
        multicast = Multicast(byte & 3, (byte >> 2) & 7, (byte >> 5) & 7)
        pos += 1
    if control & NWK_SOURCE_ROUTE:
        if pos + 2 > end:
            raise _truncated("nwk", "source_route", pos, 2, end - pos)
        count, index = raw[pos], raw[pos + 1]
        pos += 2
        if pos + 2 * count > end:
            raise _truncated("nwk", "relay_list", pos, 2 * count, end - pos)
        relays = tuple(raw[i] | raw[i + 1] << 8 for i in range(pos, pos + 2 * count, 2))
        source_route = SourceRoute(index, relays)
        pos += 2 * count
    security = None
    security_control = -1
    payload_pos = pos
    if control & NWK_SECURITY:
        try:
            security, security_control, payload_pos = decode_aux_header(raw, pos, end, "nwk")
        except DecodeError as caught:
            header = _make_nwk(dst16=dst16, src16=src16, seq=seq, radius=radius,
                               frame_type=frame_type, dst64=dst64, src64=src64,
                               multicast=multicast, source_route=source_route)
            raise _AuxHeaderCut(header, caught) from None
    nwk = _make_nwk(
        dst16=dst16, src16=src16, seq=seq, radius=radius, frame_type=frame_type, dst64=dst64,
        src64=src64, security=security, multicast=multicast, source_route=source_route,
    )
    return nwk, pos, payload_pos, security_control


def _air_sources(*euis: str | None) -> list[bytes]:
    """Distinct nonce-source candidates in air order, skipping the unknown ones."""
    out: list[bytes] = []
    for eui in euis:
        if eui is not None:
            air = eui64_to_air(eui)
            if air not in out:
                out.append(air)
    return out


def _open_nwk(raw: bytes, start: int, aux_pos: int, payload_pos: int, end: int, control: int,
              nwk: Nwk, mac: Mac, keys: KeySource) -> bytes:
    """Decrypt the NWK payload. The nonce source is the securing node: the aux header's
    EUI-64, else the MAC sender's EUI-64 when known."""
    security = nwk.security
    assert security is not None
    if control & EXTENDED_NONCE:
        sources = [raw[aux_pos + 5 : aux_pos + 13]]
    else:
        first_hop = nwk.src64 if mac.src16 is not None and mac.src16 == nwk.src16 else None
        sources = _air_sources(keys.address64(mac.src16), first_hop)
    return open_layer(raw, start, aux_pos, payload_pos, end,
                      keys.nwk_candidates(security.key_seq), sources, "nwk")


# ---- APS ---------------------------------------------------------------------------------


def _parse_aps_header(data: bytes, base: int) -> tuple[Aps, int, int, int]:
    """APS header of ``data`` (found at ``base`` in the raw frame): (Aps, position of the
    aux header, position of the payload, security control byte or -1)."""
    end = len(data)
    if end < 1:
        raise _truncated("aps", "frame_control", base, 1, 0)
    control = data[0]
    frame_type = control & 3
    delivery = (control >> 2) & 3
    if delivery == 1:
        raise DecodeError("aps", "delivery_mode", base, "reserved APS delivery mode 1")
    pos = 1
    cluster = profile = dst_ep = src_ep = group = counter = None
    if frame_type == APS_DATA or (frame_type == APS_ACK and not control & APS_ACK_FORMAT):
        if delivery == APS_DELIVERY_GROUP:
            if pos + 7 > end:
                raise _truncated("aps", "addressing", base + pos, 7, end - pos)
            group, cluster, profile, src_ep = _APS_GROUP_ADDRESSING.unpack_from(data, pos)
            pos += 7
        else:
            if pos + 6 > end:
                raise _truncated("aps", "addressing", base + pos, 6, end - pos)
            dst_ep, cluster, profile, src_ep = _APS_ADDRESSING.unpack_from(data, pos)
            pos += 6
    elif frame_type == APS_INTER_PAN:
        size = 6 if delivery == APS_DELIVERY_GROUP else 4
        if pos + size > end:
            raise _truncated("aps", "addressing", base + pos, size, end - pos)
        if delivery == APS_DELIVERY_GROUP:
            group = data[pos] | data[pos + 1] << 8
            pos += 2
        cluster = data[pos] | data[pos + 1] << 8
        profile = data[pos + 2] | data[pos + 3] << 8
        pos += 4
    if frame_type != APS_INTER_PAN:
        if pos >= end:
            raise _truncated("aps", "counter", base + pos, 1, 0)
        counter = data[pos]
        pos += 1
    fragment = None
    if control & APS_EXTENDED_HEADER:
        fragment, pos = _parse_extended_header(data, pos, base, frame_type)
    security = None
    security_control = -1
    payload_pos = pos
    if control & APS_SECURITY:
        security, security_control, payload_pos = decode_aux_header(data, pos, end, "aps", base)
    aps = _make_aps(
        cluster=cluster, profile=profile, dst_ep=dst_ep, src_ep=src_ep, counter=counter,
        frame_type=frame_type, ack_request=bool(control & APS_ACK_REQUEST), security=security,
        group=group, fragment=fragment, delivery=delivery,
    )
    return aps, pos, payload_pos, security_control


def _parse_extended_header(
    data: bytes, pos: int, base: int, frame_type: int
) -> tuple[Fragment, int]:
    """APS extended header (R22 2.2.5.1.8): fragmentation, block number, ack bitfield."""
    end = len(data)
    if pos >= end:
        raise _truncated("aps", "extended_frame_control", base + pos, 1, 0)
    fragmentation = data[pos] & 3
    if fragmentation == 3:
        raise DecodeError("aps", "fragmentation", base + pos, "reserved fragmentation 3")
    pos += 1
    block = ack_bits = None
    if fragmentation:
        if pos >= end:
            raise _truncated("aps", "block_number", base + pos, 1, 0)
        block = data[pos]
        pos += 1
        if frame_type == APS_ACK:
            if pos >= end:
                raise _truncated("aps", "ack_bitfield", base + pos, 1, 0)
            ack_bits = data[pos]
            pos += 1
    return Fragment(fragmentation, block, ack_bits), pos


def _aps_sources(nwk: Nwk, keys: KeySource) -> list[bytes]:
    """Nonce sources for an APS frame whose aux header has no EUI-64: the originator's
    (NWK extended source, or known from earlier frames), then the NWK securing node
    (the originator on a first-hop frame)."""
    securing = nwk.security.source64 if nwk.security is not None else None
    return _air_sources(nwk.src64, keys.address64(nwk.src16), securing)


def _open_aps(data: bytes, aux_pos: int, payload_pos: int, control: int, aps: Aps, nwk: Nwk,
              keys: KeySource, base: int) -> bytes:
    security = aps.security
    assert security is not None
    if control & EXTENDED_NONCE:
        sources = [data[aux_pos + 5 : aux_pos + 13]]
    else:
        sources = _aps_sources(nwk, keys)
    return open_layer(data, 0, aux_pos, payload_pos, len(data),
                      keys.aps_candidates(security.key_id), sources, "aps", base)


def _aps_command(payload: bytes, base: int, nwk: Nwk, keys: KeySource) -> tuple[
    StackCommand, DecodeError | None
]:
    """APS command (R22 4.4.11): the command and, for a Tunnel whose tunneled frame does
    not decrypt, the error (the command itself is kept)."""
    if not payload:
        raise _truncated("aps", "command_id", base, 1, 0)
    command_id = payload[0]
    command = decode_command("aps", command_id, payload, 1, base)
    if command_id != APS_TUNNEL:
        return command, None
    fields = dict(command.fields)
    tunneled = fields.pop("trailing", b"")
    fields["tunneled_frame"] = tunneled
    error = None
    try:
        fields.update(_tunneled(tunneled, base + 9, nwk, keys))
    except DecodeError as caught:
        error = caught
    return StackCommand("aps", command_id, command.name, fields), error


def _tunneled(data: bytes, base: int, nwk: Nwk, keys: KeySource) -> dict[str, Any]:
    """The APS frame inside a Tunnel command (R22 4.4.11.8): its own APS header and aux
    header, secured by the trust centre for the destination device (key-transport key)."""
    aps, aux_pos, payload_pos, control = _parse_aps_header(data, base)
    if aps.frame_type != APS_COMMAND or aps.security is None:
        raise DecodeError("aps", "tunneled_frame", base, "not a secured APS command")
    plaintext = _open_aps(data, aux_pos, payload_pos, control, aps, nwk, keys, base)
    if not plaintext:
        raise _truncated("aps", "command_id", base + payload_pos, 1, 0)
    inner = decode_command("aps", plaintext[0], plaintext, 1, base + payload_pos)
    return {"tunneled_command": inner.name, "tunneled_fields": inner.fields,
            "tunneled_security": dataclasses.asdict(aps.security)}


# ---- the frame ---------------------------------------------------------------------------


def _upper_layers(raw: bytes, pos: int, end: int, keys: KeySource, mac: Mac) -> HanFrame:
    """NWK, APS and what they carry, from ``pos``: every layer decoded is kept."""
    nwk = aps = None
    try:
        nwk, aux_pos, base, nwk_control = _parse_nwk_header(raw, pos, end)
        if nwk_control >= 0:
            payload = _open_nwk(raw, pos, aux_pos, base, end, nwk_control, nwk, mac, keys)
        else:
            payload = raw[base:end]
        if nwk.frame_type == NWK_COMMAND:
            return _make_han(mac=mac, nwk=nwk, nwk_command=decode_nwk_command(payload, base))
        aps, aux_pos, payload_pos, aps_control = _parse_aps_header(payload, base)
        if aps_control >= 0:
            payload = _open_aps(payload, aux_pos, payload_pos, aps_control, aps, nwk, keys, base)
        else:
            payload = payload[payload_pos:]
        base += payload_pos
        frame_type = aps.frame_type
        if frame_type == APS_COMMAND:
            command, error = _aps_command(payload, base, nwk, keys)
            return _make_han(mac=mac, nwk=nwk, aps=aps, aps_command=command, error=error)
        if frame_type == APS_ACK:
            return _make_han(mac=mac, nwk=nwk, aps=aps)
        fragment = aps.fragment
        if fragment is not None and fragment.fragmentation:
            aps = dataclasses.replace(aps, fragment=dataclasses.replace(fragment, data=payload))
            return _make_han(mac=mac, nwk=nwk, aps=aps)
        if aps.dst_ep == ZDO_ENDPOINT and frame_type == APS_DATA:
            assert aps.cluster is not None
            return _make_han(mac=mac, nwk=nwk, aps=aps, zdo=decode_zdo(aps.cluster, payload, base))
        assert aps.cluster is not None
        zcl = decode_zcl(payload, aps.cluster, base)
        return _make_han(mac=mac, nwk=nwk, aps=aps, zcl=zcl)
    except DecodeError as caught:
        return _make_han(mac=mac, nwk=nwk, aps=aps, error=caught)
    except _AuxHeaderCut as cut:
        return _make_han(mac=mac, nwk=cut.nwk, error=cut.error)


def dissect_frame(raw: bytes, keys: KeySource | None = None, *, fcs: bool = True) -> HanFrame:
    """Decode one 802.15.4 frame (with its FCS when ``fcs``), decrypting NWK then APS,
    layer by layer: the frame keeps every layer decoded, and ``error`` says where and
    why decoding stopped (a bad FCS or an over-long frame is flagged the same way, with
    the headers still decoded).

    Raises DecodeError only when the frame is too short to hold a MAC frame control:
    then there is nothing to keep.
    """
    raw = bytes(raw)
    length = len(raw)
    end = length - FCS_LENGTH if fcs else length
    if end < 2:
        field = "fcs" if fcs and length < FCS_LENGTH else "frame_control"
        raise _truncated("mac", field, 0, 2 + (FCS_LENGTH if fcs else 0), length)
    frame_error = None
    if fcs:
        expected = raw[end] | raw[end + 1] << 8
        actual = crc16_kermit(raw[:end])
        if expected != actual:
            reason = f"FCS 0x{expected:04X}, computed 0x{actual:04X}"
            frame_error = DecodeError("mac", "fcs", end, reason)
    if length > MAX_PHY_PAYLOAD - (0 if fcs else FCS_LENGTH):
        limit = MAX_PHY_PAYLOAD if fcs else MAX_PHY_PAYLOAD - FCS_LENGTH
        reason = f"{length} bytes: longer than the 127-byte PHY payload allows"
        frame_error = DecodeError("mac", "length", limit, reason)
    if keys is None:
        keys = _NO_KEYS
    # the layers, inline (this is the hot path): each step keeps what it decoded
    mac, pos, error = _parse_mac(raw, end)
    if error is not None or mac.frame_type != MAC_DATA or pos >= end:
        han = _make_han(mac=mac, error=error)
    else:
        han = _upper_layers(raw, pos, end, keys, mac)
    if frame_error is not None:
        return dataclasses.replace(han, error=frame_error)
    return han


def parse_frame(raw: bytes, keys: KeySource | None = None, *, fcs: bool = True) -> HanFrame:
    """Decode one 802.15.4 frame completely, or raise.

    Raises DecodeError (absolute offset in ``raw``) for anything that does not decode,
    MicFailure for a secured layer no key verifies, Unsupported for what this decoder
    does not read (MAC-layer security, 802.15.4-2015 IEs). ``dissect_frame`` keeps the
    layers decoded below such an error instead.
    """
    han = dissect_frame(raw, keys, fcs=fcs)
    if han.error is not None:
        raise han.error
    return han


def plaintext_frame(raw: bytes, keys: KeySource | None = None, *, fcs: bool = True) -> bytes:
    """The frame as it would be sent without NWK/APS security: security bits cleared, aux
    headers and MICs removed, payloads decrypted, FCS recomputed.

    Why: dissectors that cannot decrypt ZigBee (scapy) can then dissect what was sent.
    Raises like ``parse_frame`` when the frame does not decode.
    """
    raw = bytes(raw)
    keys = keys or _NO_KEYS
    han = parse_frame(raw, keys, fcs=fcs)
    end = len(raw) - FCS_LENGTH if fcs else len(raw)
    _, pos, _ = _parse_mac(raw, end)
    out = bytearray(raw[:pos])
    if han.nwk is not None:
        nwk, aux_pos, base, nwk_control = _parse_nwk_header(raw, pos, end)
        nwk_header = bytearray(raw[pos:aux_pos])
        if nwk_control >= 0:
            nwk_header[1] &= ~(NWK_SECURITY >> 8) & 0xFF
            payload = _open_nwk(raw, pos, aux_pos, base, end, nwk_control, nwk, han.mac, keys)
        else:
            payload = raw[base:end]
        out += nwk_header
        if han.aps is not None:
            aps, aux_pos, payload_pos, aps_control = _parse_aps_header(payload, base)
            aps_header = bytearray(payload[:aux_pos])
            if aps_control >= 0:
                aps_header[0] &= ~APS_SECURITY & 0xFF
                payload = _open_aps(payload, aux_pos, payload_pos, aps_control, aps, nwk, keys,
                                    base)
            else:
                payload = payload[payload_pos:]
            out += aps_header
        out += payload
    else:
        out += raw[pos:end]
    if fcs:
        out += crc16_kermit(bytes(out)).to_bytes(2, "little")
    return bytes(out)


# ---- encoding ----------------------------------------------------------------------------


def _mac_header(mac: Mac) -> bytes:
    if mac.security is not None or mac.frame_version >= MAC_VERSION_2015:
        raise ValueError("building MAC-secured or 802.15.4-2015 frames is not supported")
    if mac.seq is None:
        raise ValueError("a MAC frame before 802.15.4-2015 needs a sequence number")
    dst_mode = ADDR_EXTENDED if mac.dst64 else ADDR_SHORT if mac.dst16 is not None else ADDR_NONE
    src_mode = ADDR_EXTENDED if mac.src64 else ADDR_SHORT if mac.src16 is not None else ADDR_NONE
    control = mac.frame_type | dst_mode << 10 | src_mode << 14 | mac.frame_version << 12
    if mac.ack_request:
        control |= MAC_ACK_REQUEST
    compress = bool(dst_mode and src_mode)
    if compress:
        control |= MAC_PAN_ID_COMPRESSION
    header = bytearray(control.to_bytes(2, "little"))
    header.append(mac.seq)
    if not (dst_mode or src_mode):
        return bytes(header)
    if mac.pan_id is None:
        raise ValueError("MAC addressing needs a PAN id")
    pan_id = mac.pan_id.to_bytes(2, "little")
    if dst_mode:
        header += pan_id + _mac_address(mac.dst64, mac.dst16)
    if src_mode:
        if not compress:
            header += pan_id
        header += _mac_address(mac.src64, mac.src16)
    return bytes(header)


def _mac_address(extended: str | None, short: int | None) -> bytes:
    if extended:
        return eui64_to_air(extended)
    assert short is not None
    return short.to_bytes(2, "little")


def _delivery(aps: Aps, nwk: Nwk) -> int:
    if aps.delivery is not None:
        return aps.delivery
    if aps.group is not None:
        return APS_DELIVERY_GROUP
    broadcast = nwk.dst16 is not None and nwk.dst16 >= NWK_BROADCAST_MIN
    return APS_DELIVERY_BROADCAST if broadcast else APS_DELIVERY_UNICAST


def _aps_bytes(aps: Aps, nwk: Nwk, payload: bytes, keys: KeyRing) -> bytes:
    delivery = _delivery(aps, nwk)
    control = aps.frame_type | delivery << 2
    if aps.ack_request:
        control |= APS_ACK_REQUEST
    if aps.security is not None:
        control |= APS_SECURITY
    if aps.fragment is not None:
        control |= APS_EXTENDED_HEADER
    addressed = aps.frame_type == APS_DATA or (
        aps.frame_type == APS_ACK and aps.cluster is not None
    )
    if aps.frame_type == APS_ACK and not addressed:
        control |= APS_ACK_FORMAT
    header = bytearray((control,))
    if addressed:
        if delivery == APS_DELIVERY_GROUP:
            header += _APS_GROUP_ADDRESSING.pack(aps.group, aps.cluster, aps.profile, aps.src_ep)
        else:
            header += _APS_ADDRESSING.pack(aps.dst_ep, aps.cluster, aps.profile, aps.src_ep)
    elif aps.frame_type == APS_INTER_PAN:
        if delivery == APS_DELIVERY_GROUP:
            header += struct.pack("<H", aps.group)
        header += struct.pack("<HH", aps.cluster, aps.profile)
    if aps.frame_type != APS_INTER_PAN:
        header.append(aps.counter)
    fragment = aps.fragment
    if fragment is not None:
        header.append(fragment.fragmentation)
        if fragment.fragmentation:
            header.append(fragment.block_number)
            if aps.frame_type == APS_ACK:
                header.append(fragment.ack_bitfield or 0)
    if aps.security is None:
        return bytes(header) + payload
    source = _nonce_source(aps.security, nwk.src64 or _aux_source(nwk.security), "APS")
    key = keys.aps_key(aps.security.key_id)
    return encrypt_layer(bytes(header), aps.security, source, key, payload)


def _aux_source(security: Security | None) -> str | None:
    return security.source64 if security is not None else None


def _nonce_source(security: Security, fallback: str | None, layer: str) -> str:
    source = security.source64 or fallback
    if source is None:
        raise ValueError(f"{layer} security needs a source EUI-64 (aux header or NWK src64)")
    return source


def _nwk_bytes(nwk: Nwk, payload: bytes, keys: KeyRing) -> bytes:
    if nwk.frame_type == NWK_INTER_PAN:
        control = NWK_INTER_PAN | NWK_PROTOCOL_VERSION_PRO
        return control.to_bytes(2, "little") + payload
    control = nwk.frame_type | NWK_PROTOCOL_VERSION_PRO | NWK_DISCOVER_ROUTE_ENABLE
    if nwk.security is not None:
        control |= NWK_SECURITY
    if nwk.dst64:
        control |= NWK_DST_IEEE
    if nwk.src64:
        control |= NWK_SRC_IEEE
    if nwk.multicast is not None:
        control |= NWK_MULTICAST
    if nwk.source_route is not None:
        control |= NWK_SOURCE_ROUTE
    header = _NWK_FIXED.pack(control, nwk.dst16, nwk.src16, nwk.radius, nwk.seq)
    if nwk.dst64:
        header += eui64_to_air(nwk.dst64)
    if nwk.src64:
        header += eui64_to_air(nwk.src64)
    if nwk.multicast is not None:
        multicast = nwk.multicast
        header += bytes((multicast.mode & 3 | (multicast.nonmember_radius & 7) << 2
                         | (multicast.max_nonmember_radius & 7) << 5,))
    if nwk.source_route is not None:
        route = nwk.source_route
        header += bytes((len(route.relays), route.relay_index))
        header += b"".join(relay.to_bytes(2, "little") for relay in route.relays)
    if nwk.security is None:
        return header + payload
    source = _nonce_source(nwk.security, nwk.src64, "NWK")
    return encrypt_layer(header, nwk.security, source, keys.network_key(), payload)


def _application_payload(frame: HanFrame, raw: bytes) -> bytes:
    """What the APS frame carries: ZCL, ZDO, an APS command, a fragment's block, else
    the caller's ``raw`` bytes."""
    aps = frame.aps
    assert aps is not None
    if frame.zcl is not None:
        if aps.cluster is None:
            raise ValueError("a ZCL frame needs an APS cluster")
        return encode_zcl(frame.zcl, aps.cluster)
    if frame.zdo is not None:
        return encode_command(frame.zdo)
    if frame.aps_command is not None:
        return encode_command(frame.aps_command)
    return aps.fragment.data if aps.fragment is not None and aps.fragment.data else raw


def build_frame(
    frame: HanFrame, keys: KeyRing | None = None, *, fcs: bool = True, payload: bytes = b"",
) -> bytes:
    """Encode ``frame``; layers that are None end the frame. Security is applied where
    ``nwk.security`` / ``aps.security`` is set, with the first key of the matching role.

    The payload is ``zcl``, ``zdo`` or ``aps_command`` under an APS header, or
    ``nwk_command`` under a NWK command frame; ``payload`` gives the bytes the innermost
    layer carries when the frame has none of them (ignored otherwise). Per-hop NWK
    security is built by giving the aux header the securing hop's EUI-64
    (``nwk.security.source64``) and, if wanted, the originator's in the NWK extended
    source (``nwk.src64``).
    """
    keys = keys or _NO_KEYS
    if frame.aps is not None:
        if frame.nwk is None:
            raise ValueError("an APS frame needs a NWK header")
        payload = _aps_bytes(frame.aps, frame.nwk, _application_payload(frame, payload), keys)
    elif frame.zcl is not None or frame.zdo is not None or frame.aps_command is not None:
        raise ValueError("a ZCL, ZDO or APS command frame needs an APS header")
    elif frame.nwk_command is not None:
        payload = encode_command(frame.nwk_command)
    if frame.nwk is not None:
        payload = _nwk_bytes(frame.nwk, payload, keys)
    body = _mac_header(frame.mac) + payload
    if len(body) + FCS_LENGTH > MAX_PHY_PAYLOAD:
        size = len(body) + FCS_LENGTH
        raise ValueError(f"frame of {size} bytes exceeds the 127-byte PHY payload")
    if fcs:
        return body + crc16_kermit(body).to_bytes(2, "little")
    return body


def mac_ack(seq: int, *, fcs: bool = True) -> bytes:
    """Immediate MAC acknowledgement for the frame with sequence number ``seq``."""
    body = bytes((MAC_ACK, 0, seq))
    return body + crc16_kermit(body).to_bytes(2, "little") if fcs else body

