"""The few DER pieces GBCS needs: lengths, INTEGER, OCTET STRING, GeneralizedTime, NULL.

GBCS frames its APDU fields with DER-style lengths and carries the CCS08/CS08 payloads as
ASN.1 DER. Decoding is strict (minimal lengths, minimal integers, ``YYYYMMDDHHMMSSZ``
times) because the suite must re-encode a message byte for byte: any encoding choice a
decoder tolerated silently would make that impossible. Every reader works on the whole
message with absolute offsets, so a ``DecodeError`` points into the bytes the user gave.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hanota.layers.model import DecodeError

LAYER = "gbcs"

TAG_INTEGER = 0x02
TAG_OCTET_STRING = 0x04
TAG_NULL = 0x05
TAG_GENERALIZED_TIME = 0x18
TAG_SEQUENCE = 0x30

GENERALIZED_TIME_SIZE = 15


def encode_length(length: int) -> bytes:
    """One byte below 0x80, else 0x81 nn or 0x82 nnnn (the forms GBCS allows)."""
    if length < 0x80:
        return bytes([length])
    if length <= 0xFF:
        return bytes([0x81, length])
    if length <= 0xFFFF:
        return b"\x82" + length.to_bytes(2, "big")
    raise ValueError(f"length {length} does not fit the 0x82 nnnn form")


def read_length(data: bytes, offset: int, end: int, field: str) -> tuple[int, int]:
    """Read the length at ``offset``; return (length, offset of the value).

    The value must fit before ``end``: a length pointing past it is the usual symptom of
    a truncated or corrupted message.
    """
    if offset >= end:
        raise DecodeError(LAYER, field, offset, "data ends where a length was expected")
    first = data[offset]
    if first < 0x80:
        length, start = first, offset + 1
    elif first in (0x81, 0x82):
        start = offset + 1 + (first - 0x80)
        if start > end:
            raise DecodeError(LAYER, field, offset, "data ends inside the length")
        length = int.from_bytes(data[offset + 1 : start], "big")
        if encode_length(length) != data[offset:start]:
            raise DecodeError(LAYER, field, offset, f"length {length} is not minimally encoded")
    else:
        raise DecodeError(
            LAYER, field, offset, f"length byte 0x{first:02X}: only nn, 81 nn and 82 nnnn allowed"
        )
    if start + length > end:
        raise DecodeError(
            LAYER,
            field,
            offset,
            f"length {length} points past the end ({end - start} bytes left)",
        )
    return length, start


def read_value(data: bytes, offset: int, end: int, field: str) -> tuple[bytes, int]:
    """Read a length-prefixed value; return (value, offset after it)."""
    length, start = read_length(data, offset, end, field)
    return data[start : start + length], start + length


def encode_value(value: bytes) -> bytes:
    """Length-prefix ``value``."""
    return encode_length(len(value)) + value


def read_tlv(data: bytes, offset: int, end: int, tag: int, field: str) -> tuple[int, int]:
    """Check the tag at ``offset``; return (value start, value end)."""
    if offset >= end:
        raise DecodeError(LAYER, field, offset, f"data ends where tag 0x{tag:02X} was expected")
    if data[offset] != tag:
        raise DecodeError(LAYER, field, offset, f"tag 0x{data[offset]:02X}, expected 0x{tag:02X}")
    length, start = read_length(data, offset + 1, end, field)
    return start, start + length


def encode_tlv(tag: int, value: bytes) -> bytes:
    """Tag, DER length, value."""
    return bytes([tag]) + encode_value(value)


def encode_integer(value: int) -> bytes:
    """DER INTEGER: minimal two's complement, so 0x8F8A becomes ``02 03 00 8F 8A``."""
    magnitude = value if value >= 0 else ~value
    size = magnitude.bit_length() // 8 + 1
    return encode_tlv(TAG_INTEGER, value.to_bytes(size, "big", signed=True))


def read_integer(data: bytes, offset: int, end: int, field: str) -> tuple[int, int]:
    """Read a DER INTEGER; return (value, offset after it)."""
    start, stop = read_tlv(data, offset, end, TAG_INTEGER, field)
    if start == stop:
        raise DecodeError(LAYER, field, offset, "INTEGER with no content")
    value = int.from_bytes(data[start:stop], "big", signed=True)
    if encode_integer(value) != data[offset:stop]:
        raise DecodeError(LAYER, field, offset, f"INTEGER {value} is not minimally encoded")
    return value, stop


def encode_octet_string(value: bytes) -> bytes:
    """DER OCTET STRING."""
    return encode_tlv(TAG_OCTET_STRING, value)


def read_octet_string(
    data: bytes, offset: int, end: int, field: str, size: int | None = None
) -> tuple[bytes, int]:
    """Read an OCTET STRING, of exactly ``size`` bytes when given."""
    start, stop = read_tlv(data, offset, end, TAG_OCTET_STRING, field)
    if size is not None and stop - start != size:
        raise DecodeError(LAYER, field, offset, f"{stop - start} bytes, expected {size}")
    return data[start:stop], stop


def encode_generalized_time(value: datetime) -> bytes:
    """DER GeneralizedTime in UTC, whole seconds: ``20150101000000Z``."""
    utc = value.astimezone(UTC) if value.tzinfo else value
    text = (
        f"{utc.year:04d}{utc.month:02d}{utc.day:02d}{utc.hour:02d}{utc.minute:02d}{utc.second:02d}Z"
    )
    return encode_tlv(TAG_GENERALIZED_TIME, text.encode("ascii"))


def read_generalized_time(data: bytes, offset: int, end: int, field: str) -> tuple[datetime, int]:
    """Read a GeneralizedTime ``YYYYMMDDHHMMSSZ``; return (aware UTC datetime, next offset)."""
    start, stop = read_tlv(data, offset, end, TAG_GENERALIZED_TIME, field)
    text = data[start:stop]
    if len(text) != GENERALIZED_TIME_SIZE or not text[:14].isdigit() or text[14:] != b"Z":
        raise DecodeError(LAYER, field, offset, f"GeneralizedTime {text!r} is not YYYYMMDDHHMMSSZ")
    digits = [int(text[i : i + 2]) for i in range(4, 14, 2)]
    try:
        moment = datetime(int(text[:4]), *digits, tzinfo=UTC)
    except ValueError as error:
        raise DecodeError(LAYER, field, offset, f"GeneralizedTime {text!r}: {error}") from None
    return moment, stop


NULL = bytes([TAG_NULL, 0x00])
