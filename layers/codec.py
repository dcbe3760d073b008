"""Whole-frame codec: 802.15.4 MAC, ZigBee NWK (+ security), APS (+ security), ZCL.

Why hand-written with struct/int.from_bytes rather than scapy: this is the hot path of a
65,000-frame image transfer, decoded by the capture decoder and built by the emulator.
Every DecodeError carries the absolute offset in the raw frame: decrypted layers are the
same length as their ciphertext, so a position in plaintext maps back one to one.
"""

from __future__ import annotations

import binascii
import struct

from layers.model import Aps, DecodeError, HanFrame, Mac, Nwk, Security
from layers.security import (
    KeyRing,
    decrypt_layer,
    encrypt_layer,
    eui64_from_air,
    eui64_to_air,
)
from layers.zcl import decode_zcl, encode_zcl

MAC_BEACON, MAC_DATA, MAC_ACK, MAC_COMMAND = 0, 1, 2, 3
MAC_SECURITY = 0x0008
MAC_ACK_REQUEST = 0x0020
MAC_PAN_ID_COMPRESSION = 0x0040
MAC_SEQ_SUPPRESSION = 0x0100
MAC_IE_PRESENT = 0x0200
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

APS_DATA, APS_COMMAND, APS_ACK = 0, 1, 2
APS_DELIVERY_UNICAST, APS_DELIVERY_BROADCAST, APS_DELIVERY_GROUP = 0, 2, 3
APS_ACK_FORMAT = 0x10
APS_SECURITY = 0x20
APS_ACK_REQUEST = 0x40
APS_EXTENDED_HEADER = 0x80
ZDO_ENDPOINT = 0

_NWK_FIXED = struct.Struct("<HHHBB")
_APS_ADDRESSING = struct.Struct("<BHHB")
_BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))
_NO_KEYS = KeyRing()


def crc16_kermit(data: bytes) -> int:
    """802.15.4 FCS (CRC-16/KERMIT).

    Why the bit reversals: KERMIT is the reflected form of XMODEM, which binascii computes
    in C; reflecting input bytes and the result turns one into the other at C speed.
    """
    crc = binascii.crc_hqx(data.translate(_BIT_REVERSED), 0)
    return _BIT_REVERSED[crc & 0xFF] << 8 | _BIT_REVERSED[crc >> 8]


def _truncated(layer: str, field: str, pos: int, need: int, have: int) -> DecodeError:
    return DecodeError(layer, field, pos, f"truncated: need {need} bytes, {max(have, 0)} left")


# ---- decoding ----------------------------------------------------------------------------


def _parse_mac(raw: bytes, end: int) -> tuple[Mac, int]:
    if end < 3:
        raise _truncated("mac", "frame_control", 0, 3, end)
    control = raw[0] | raw[1] << 8
    frame_type = control & 7
    if frame_type > MAC_COMMAND:
        raise DecodeError("mac", "frame_type", 0, f"unsupported MAC frame type {frame_type}")
    if control & MAC_SECURITY:
        raise DecodeError("mac", "frame_control", 0, "MAC-layer security is not used by ZigBee")
    if control & (MAC_SEQ_SUPPRESSION | MAC_IE_PRESENT):
        reason = "802.15.4-2015 sequence suppression / IEs are not used by ZigBee PRO"
        raise DecodeError("mac", "frame_control", 0, reason)
    dst_mode = (control >> 10) & 3
    src_mode = (control >> 14) & 3
    if dst_mode == 1 or src_mode == 1:
        raise DecodeError("mac", "frame_control", 0, "reserved addressing mode 1")
    pos = 3
    pan_id = dst16 = src16 = None
    dst64 = src64 = None
    if dst_mode:
        size = 4 if dst_mode == ADDR_SHORT else 10
        if pos + size > end:
            raise _truncated("mac", "destination", pos, size, end - pos)
        pan_id = raw[pos] | raw[pos + 1] << 8
        if dst_mode == ADDR_SHORT:
            dst16 = raw[pos + 2] | raw[pos + 3] << 8
        else:
            dst64 = eui64_from_air(raw[pos + 2 : pos + 10])
        pos += size
    if src_mode:
        if not (dst_mode and control & MAC_PAN_ID_COMPRESSION):
            if pos + 2 > end:
                raise _truncated("mac", "source_pan_id", pos, 2, end - pos)
            if pan_id is None:
                pan_id = raw[pos] | raw[pos + 1] << 8
            pos += 2
        size = 2 if src_mode == ADDR_SHORT else 8
        if pos + size > end:
            raise _truncated("mac", "source", pos, size, end - pos)
        if src_mode == ADDR_SHORT:
            src16 = raw[pos] | raw[pos + 1] << 8
        else:
            src64 = eui64_from_air(raw[pos : pos + 8])
        pos += size
    mac = Mac(
        frame_type=frame_type,
        seq=raw[2],
        pan_id=pan_id,
        dst16=dst16,
        src16=src16,
        ack_request=bool(control & MAC_ACK_REQUEST),
        dst64=dst64,
        src64=src64,
    )
    return mac, pos


def _parse_nwk(
    raw: bytes, pos: int, end: int, keys: KeyRing
) -> tuple[Nwk, int, bytes, int]:
    """NWK at ``pos``: (Nwk, end of the header before any aux header, payload, payload
    offset in ``raw``). A secured payload is returned decrypted."""
    if pos + 8 > end:
        raise _truncated("nwk", "header", pos, 8, end - pos)
    control, dst16, src16, radius, seq = _NWK_FIXED.unpack_from(raw, pos)
    frame_type = control & 3
    if frame_type > NWK_COMMAND:
        kind = "inter-PAN" if frame_type == NWK_INTER_PAN else "reserved"
        raise DecodeError("nwk", "frame_type", pos, f"{kind} NWK frame type {frame_type}")
    start = pos
    pos += 8
    dst64 = src64 = None
    if control & NWK_DST_IEEE:
        if pos + 8 > end:
            raise _truncated("nwk", "dst64", pos, 8, end - pos)
        dst64 = eui64_from_air(raw[pos : pos + 8])
        pos += 8
    if control & NWK_SRC_IEEE:
        if pos + 8 > end:
            raise _truncated("nwk", "src64", pos, 8, end - pos)
        src64 = eui64_from_air(raw[pos : pos + 8])
        pos += 8
    if control & NWK_MULTICAST:
        if pos >= end:
            raise _truncated("nwk", "multicast_control", pos, 1, 0)
        pos += 1
    if control & NWK_SOURCE_ROUTE:
        if pos + 2 > end:
            raise _truncated("nwk", "source_route", pos, 2, end - pos)
        relays = raw[pos]
        pos += 2 + 2 * relays
        if pos > end:
            raise _truncated("nwk", "relay_list", pos - 2 * relays, 2 * relays, end - pos)
    header_end = pos
    security = None
    if control & NWK_SECURITY:
        security, payload, pos = decrypt_layer(
            raw, start, header_end, end, keys.network_keys, src64, "nwk"
        )
    else:
        payload = raw[pos:end]
    nwk = Nwk(dst16, src16, seq, radius, frame_type, dst64, src64, security)
    return nwk, header_end, payload, pos


def _parse_aps(
    data: bytes, base: int, keys: KeyRing, nwk: Nwk
) -> tuple[Aps, int, bytes, int, bool]:
    """APS frame ``data`` found at ``base`` in the raw frame: (Aps, header end before any
    aux header, payload (decrypted), payload offset in raw, fragmented?)."""
    end = len(data)
    if end < 2:
        raise _truncated("aps", "header", base, 2, end)
    control = data[0]
    frame_type = control & 3
    delivery = (control >> 2) & 3
    pos = 1
    cluster = profile = dst_ep = src_ep = 0
    if frame_type == APS_DATA or (frame_type == APS_ACK and not control & APS_ACK_FORMAT):
        if delivery == APS_DELIVERY_GROUP:
            raise DecodeError("aps", "delivery_mode", base, "group addressing is not supported")
        if pos + 6 > end:
            raise _truncated("aps", "addressing", base + pos, 6, end - pos)
        dst_ep, cluster, profile, src_ep = _APS_ADDRESSING.unpack_from(data, pos)
        pos += 6
    elif frame_type > APS_ACK:
        raise DecodeError("aps", "frame_type", base, f"reserved APS frame type {frame_type}")
    if pos >= end:
        raise _truncated("aps", "counter", base + pos, 1, 0)
    counter = data[pos]
    pos += 1
    fragmented = False
    if control & APS_EXTENDED_HEADER:
        if pos >= end:
            raise _truncated("aps", "extended_frame_control", base + pos, 1, 0)
        fragmented = bool(data[pos] & 3)
        pos += 1 + fragmented + (frame_type == APS_ACK and fragmented)
        if pos > end:
            raise _truncated("aps", "fragmentation", base + end, 1, 0)
    header_end = pos
    security = None
    if control & APS_SECURITY:
        aux_key_id = (data[pos] >> 3) & 3 if pos < end else 0
        fallback = nwk.src64 or (nwk.security.source64 if nwk.security else None)
        security, payload, pos = decrypt_layer(
            data, 0, header_end, end, keys.aps_candidates(aux_key_id), fallback, "aps", base
        )
    else:
        payload = data[pos:]
    aps = Aps(
        cluster=cluster,
        profile=profile,
        dst_ep=dst_ep,
        src_ep=src_ep,
        counter=counter,
        frame_type=frame_type,
        ack_request=bool(control & APS_ACK_REQUEST),
        security=security,
    )
    return aps, header_end, payload, base + pos, fragmented


def _check_length(raw: bytes, fcs: bool) -> None:
    limit = MAX_PHY_PAYLOAD if fcs else MAX_PHY_PAYLOAD - FCS_LENGTH
    if len(raw) > limit:
        reason = f"{len(raw)} bytes: longer than the 127-byte PHY payload allows"
        raise DecodeError("mac", "length", limit, reason)


def _check_fcs(raw: bytes) -> int:
    end = len(raw) - FCS_LENGTH
    if end < 3:
        raise _truncated("mac", "fcs", 0, 5, len(raw))
    expected = raw[end] | raw[end + 1] << 8
    actual = crc16_kermit(raw[:end])
    if expected != actual:
        raise DecodeError("mac", "fcs", end, f"FCS 0x{expected:04X}, computed 0x{actual:04X}")
    return end


def parse_frame(raw: bytes, keys: KeyRing | None = None, *, fcs: bool = True) -> HanFrame:
    """Decode one 802.15.4 frame (with its FCS when ``fcs``), decrypting NWK then APS.

    Raises DecodeError (absolute offset in ``raw``) for anything that does not decode and
    MicFailure for a secured layer no key verifies.
    """
    raw = bytes(raw)
    keys = keys or _NO_KEYS
    _check_length(raw, fcs)
    end = _check_fcs(raw) if fcs else len(raw)
    mac, pos = _parse_mac(raw, end)
    if mac.frame_type != MAC_DATA or pos == end:
        return HanFrame(mac)
    nwk, _, payload, base = _parse_nwk(raw, pos, end, keys)
    if nwk.frame_type != NWK_DATA:
        return HanFrame(mac, nwk)
    aps, _, zcl_payload, zcl_base, fragmented = _parse_aps(payload, base, keys, nwk)
    if aps.frame_type != APS_DATA or fragmented or aps.dst_ep == ZDO_ENDPOINT:
        return HanFrame(mac, nwk, aps)
    return HanFrame(mac, nwk, aps, decode_zcl(zcl_payload, aps.cluster, zcl_base))


def plaintext_frame(raw: bytes, keys: KeyRing | None = None, *, fcs: bool = True) -> bytes:
    """The frame as it would be sent without NWK/APS security: security bits cleared, aux
    headers and MICs removed, payloads decrypted, FCS recomputed.

    Why: dissectors that cannot decrypt ZigBee (scapy) can then dissect what was sent.
    """
    raw = bytes(raw)
    keys = keys or _NO_KEYS
    _check_length(raw, fcs)
    end = _check_fcs(raw) if fcs else len(raw)
    mac, pos = _parse_mac(raw, end)
    out = bytearray(raw[:pos])
    if mac.frame_type == MAC_DATA and pos < end:
        nwk, nwk_header_end, payload, base = _parse_nwk(raw, pos, end, keys)
        nwk_header = bytearray(raw[pos:nwk_header_end])
        nwk_header[1] &= ~(NWK_SECURITY >> 8) & 0xFF
        out += nwk_header
        if nwk.frame_type == NWK_DATA:
            _, aps_header_end, aps_payload, _, _ = _parse_aps(payload, base, keys, nwk)
            aps_header = bytearray(payload[:aps_header_end])
            aps_header[0] &= ~APS_SECURITY & 0xFF
            out += aps_header + aps_payload
        else:
            out += payload
    else:
        out += raw[pos:end]
    if fcs:
        out += crc16_kermit(bytes(out)).to_bytes(2, "little")
    return bytes(out)


# ---- encoding ----------------------------------------------------------------------------


def _mac_header(mac: Mac) -> bytes:
    dst_mode = ADDR_EXTENDED if mac.dst64 else ADDR_SHORT if mac.dst16 is not None else ADDR_NONE
    src_mode = ADDR_EXTENDED if mac.src64 else ADDR_SHORT if mac.src16 is not None else ADDR_NONE
    control = mac.frame_type | dst_mode << 10 | src_mode << 14
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


def _aps_bytes(aps: Aps, nwk: Nwk, payload: bytes, keys: KeyRing) -> bytes:
    delivery = APS_DELIVERY_BROADCAST if nwk.dst16 >= NWK_BROADCAST_MIN else APS_DELIVERY_UNICAST
    control = aps.frame_type | delivery << 2
    if aps.ack_request:
        control |= APS_ACK_REQUEST
    if aps.security is not None:
        control |= APS_SECURITY
    if aps.frame_type == APS_COMMAND:
        header = bytes((control, aps.counter))
    else:
        header = bytes((control,)) + _APS_ADDRESSING.pack(
            aps.dst_ep, aps.cluster, aps.profile, aps.src_ep
        ) + bytes((aps.counter,))
    if aps.security is None:
        return header + payload
    source = _nonce_source(aps.security, nwk.src64 or _aux_source(nwk.security), "APS")
    return encrypt_layer(header, aps.security, source, keys.aps_key(aps.security.key_id), payload)


def _aux_source(security: Security | None) -> str | None:
    return security.source64 if security is not None else None


def _nonce_source(security: Security, fallback: str | None, layer: str) -> str:
    source = security.source64 or fallback
    if source is None:
        raise ValueError(f"{layer} security needs a source EUI-64 (aux header or NWK src64)")
    return source


def _nwk_bytes(nwk: Nwk, payload: bytes, keys: KeyRing) -> bytes:
    control = nwk.frame_type | NWK_PROTOCOL_VERSION_PRO | NWK_DISCOVER_ROUTE_ENABLE
    if nwk.security is not None:
        control |= NWK_SECURITY
    if nwk.dst64:
        control |= NWK_DST_IEEE
    if nwk.src64:
        control |= NWK_SRC_IEEE
    header = _NWK_FIXED.pack(control, nwk.dst16, nwk.src16, nwk.radius, nwk.seq)
    if nwk.dst64:
        header += eui64_to_air(nwk.dst64)
    if nwk.src64:
        header += eui64_to_air(nwk.src64)
    if nwk.security is None:
        return header + payload
    source = _nonce_source(nwk.security, nwk.src64, "NWK")
    return encrypt_layer(header, nwk.security, source, keys.network_key(), payload)


def build_frame(
    frame: HanFrame, keys: KeyRing | None = None, *, fcs: bool = True, payload: bytes = b"",
) -> bytes:
    """Encode ``frame``; layers that are None end the frame. Security is applied where
    ``nwk.security`` / ``aps.security`` is set, with the first key of the matching role.

    ``payload``: the bytes the innermost layer carries when the frame has no ZCL layer
    (a ZDO command under an APS header, for instance); ignored when ``frame.zcl`` is set.
    """
    keys = keys or _NO_KEYS
    if frame.zcl is not None:
        if frame.aps is None:
            raise ValueError("a ZCL frame needs an APS header")
        payload = encode_zcl(frame.zcl, frame.aps.cluster)
    if frame.aps is not None:
        if frame.nwk is None:
            raise ValueError("an APS frame needs a NWK header")
        payload = _aps_bytes(frame.aps, frame.nwk, payload, keys)
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

