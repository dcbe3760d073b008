"""ZigBee Encapsulation Protocol (ZEP v1/v2): how remote sniffers send 802.15.4 frames over UDP.

Wireshark receives remote sniffers this way (UDP port 17754) and live ZEP sources feed
the suite the same datagrams, so one decoder serves both. It raises ``DecodeError`` naming
the ZEP field and its offset, because a live source can send anything.
"""

from __future__ import annotations

import math
import struct
from typing import NamedTuple

from hanota.layers.model import DecodeError

ZEP_PORT = 17754
ZEP_PREAMBLE = b"EX"
ZEP_V2_DATA = 1
ZEP_V2_ACK = 2
MAX_PSDU = 127
_NTP_TO_UNIX = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
_V1_HEADER = struct.Struct(">2sBBHBB7xB")
_V2_DATA_HEADER = struct.Struct(">2sBBBHBBIII10xB")
_V2_ACK = struct.Struct(">2sBBI")


class ZepDatagram(NamedTuple):
    """A decoded ZEP datagram. ``kind`` is ``"data"`` or ``"ack"`` (v2 ack: no frame).

    ``crc_mode`` True: the PSDU ends with its real FCS; False (LQI mode): the last two
    bytes are CC24xx-style RSSI and CRC-OK/LQI bytes instead.
    """

    version: int
    kind: str
    psdu: bytes = b""
    channel: int | None = None
    device_id: int | None = None
    crc_mode: bool = True
    lqi: int | None = None
    time: float | None = None
    seq: int | None = None


def _require(datagram: bytes, size: int, field: str, offset: int) -> None:
    if len(datagram) < size:
        raise DecodeError(
            "zep", field, offset, f"truncated: {len(datagram)} of {size} bytes present"
        )


def _payload(datagram: bytes, header: int, length: int) -> bytes:
    if length > MAX_PSDU:
        raise DecodeError("zep", "length", header - 1, f"{length} exceeds the 127-byte PSDU")
    if len(datagram) < header + length:
        raise DecodeError(
            "zep", "length", header - 1,
            f"says {length} bytes, {len(datagram) - header} present",
        )
    return datagram[header:header + length]


def zep_decode(datagram: bytes) -> ZepDatagram:
    """Decode one ZEP datagram (the UDP payload)."""
    _require(datagram, 4, "version", 2)
    if datagram[:2] != ZEP_PREAMBLE:
        raise DecodeError("zep", "preamble", 0, f"{datagram[:2].hex()} is not 'EX'")
    version = datagram[2]
    if version == 1:
        _require(datagram, _V1_HEADER.size, "length", _V1_HEADER.size - 1)
        _, _, channel, device, crc_mode, lqi, length = _V1_HEADER.unpack_from(datagram)
        return ZepDatagram(
            1, "data", _payload(datagram, _V1_HEADER.size, length), channel, device,
            bool(crc_mode), lqi,
        )
    if version != 2:
        raise DecodeError("zep", "version", 2, f"unknown version {version}")
    kind = datagram[3]
    if kind == ZEP_V2_ACK:
        _require(datagram, _V2_ACK.size, "seq", 4)
        return ZepDatagram(2, "ack", seq=_V2_ACK.unpack_from(datagram)[3])
    if kind != ZEP_V2_DATA:
        raise DecodeError("zep", "type", 3, f"unknown type {kind}")
    _require(datagram, _V2_DATA_HEADER.size, "length", _V2_DATA_HEADER.size - 1)
    (_, _, _, channel, device, crc_mode, lqi, ntp_seconds, ntp_fraction, seq,
     length) = _V2_DATA_HEADER.unpack_from(datagram)
    time = None
    if ntp_seconds or ntp_fraction:
        time = ntp_seconds - _NTP_TO_UNIX + ntp_fraction / 2**32
    return ZepDatagram(
        2, "data", _payload(datagram, _V2_DATA_HEADER.size, length), channel, device,
        bool(crc_mode), lqi, time, seq,
    )


def zep_encode(
    psdu: bytes, channel: int, seq: int, time: float, lqi: int = 255, *,
    device_id: int = 0, crc_mode: bool = True,
) -> bytes:
    """ZEP v2 data datagram; in CRC mode ``psdu`` must end with its FCS."""
    if len(psdu) > MAX_PSDU:
        raise ValueError(f"PSDU of {len(psdu)} bytes exceeds {MAX_PSDU}")
    seconds = math.floor(time)
    fraction = min(round((time - seconds) * 2**32), 2**32 - 1)
    return _V2_DATA_HEADER.pack(
        ZEP_PREAMBLE, 2, ZEP_V2_DATA, channel, device_id, int(crc_mode), lqi,
        (seconds + _NTP_TO_UNIX) & 0xFFFFFFFF, fraction, seq & 0xFFFFFFFF, len(psdu),
    ) + psdu


def zep_ack_encode(seq: int) -> bytes:
    """ZEP v2 ack datagram (no 802.15.4 frame, just the sequence number)."""
    return _V2_ACK.pack(ZEP_PREAMBLE, 2, ZEP_V2_ACK, seq & 0xFFFFFFFF)
