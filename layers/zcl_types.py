"""ZCL attribute data types: every type of the ZCL specification, decoded and encoded.

The table is ZCL revision 7 (07-5123-07) table 2-10 "Data Types" (unchanged in rev 8):
no data, data8..64, bool, map8..64, uint8..64, int8..64, enum8/16, semi/single/double
float, octet and character strings (short and long), array, structure, set, bag, time
of day, date, UTC time, cluster id, attribute id, BACnet OID, IEEE address, 128-bit
security key, unknown. Checked against zigpy's ``zigpy.zcl.foundation.DataType`` and
tshark in the tests.

Values as decoded (JSON-friendly, so ``hanota decode --json`` prints them):
integers, bitmaps, enums, ids and UTC as ``int``; bool as ``bool`` (or the raw byte when
it is neither 0 nor 1, e.g. 0xFF "invalid"); floats as ``float``; octet strings and the
key as ``bytes``; character strings as ``str``; a string whose length is all ones
("invalid") as None; IEEE address as 16 hex digits; time of day and date as dicts of
their octets (zigpy's names); array, set and bag as ``{"element_type", "elements"}``
(elements None when the count is 0xFFFF, "invalid"); structure as a list of
``{"data_type", "value"}`` (None when invalid); no data and unknown as None.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from hanota.layers.model import DecodeError

LAYER = "zcl"
INVALID_COUNT = 0xFFFF
MAX_NESTING = 16  # arrays of structures of arrays ...: deeper is not a real frame


@dataclass(frozen=True, slots=True)
class DataType:
    """A ZCL attribute data type. ``kind`` says how it is coded: uint, int, bool, float,
    bytes (fixed size), eui64, octets/text (length-prefixed with ``size`` bytes), none,
    tod, date, array (also set and bag), struct. ``size`` is the fixed size, or the size
    of the length/count field."""

    type_id: int
    name: str
    kind: str
    size: int


def _data_types() -> dict[int, DataType]:
    types = [DataType(0x00, "nodata", "none", 0), DataType(0x10, "bool", "bool", 1)]
    for n in range(1, 9):
        types += [
            DataType(0x07 + n, f"data{8 * n}", "uint", n),
            DataType(0x17 + n, f"map{8 * n}", "uint", n),
            DataType(0x1F + n, f"uint{8 * n}", "uint", n),
            DataType(0x27 + n, f"int{8 * n}", "int", n),
        ]
    types += [
        DataType(0x30, "enum8", "uint", 1),
        DataType(0x31, "enum16", "uint", 2),
        DataType(0x38, "semi", "float", 2),
        DataType(0x39, "single", "float", 4),
        DataType(0x3A, "double", "float", 8),
        DataType(0x41, "octstr", "octets", 1),
        DataType(0x42, "string", "text", 1),
        DataType(0x43, "octstr16", "octets", 2),
        DataType(0x44, "string16", "text", 2),
        DataType(0x48, "array", "array", 2),
        DataType(0x4C, "struct", "struct", 2),
        DataType(0x50, "set", "array", 2),
        DataType(0x51, "bag", "array", 2),
        DataType(0xE0, "ToD", "tod", 4),
        DataType(0xE1, "date", "date", 4),
        DataType(0xE2, "UTC", "uint", 4),
        DataType(0xE8, "clusterId", "uint", 2),
        DataType(0xE9, "attribId", "uint", 2),
        DataType(0xEA, "bacOID", "uint", 4),
        DataType(0xF0, "EUI64", "eui64", 8),
        DataType(0xF1, "key128", "bytes", 16),
        DataType(0xFF, "unk", "none", 0),
    ]
    return {t.type_id: t for t in types}


DATA_TYPES: dict[int, DataType] = _data_types()
_FLOAT = {2: struct.Struct("<e"), 4: struct.Struct("<f"), 8: struct.Struct("<d")}
TIME_OF_DAY_FIELDS = ("hours", "minutes", "seconds", "hundredths")
DATE_FIELDS = ("years_since_1900", "month", "day", "day_of_week")


def _truncated(field: str, pos: int, need: int, have: int) -> DecodeError:
    return DecodeError(LAYER, field, pos, f"truncated: need {need} bytes, {have} left")


def decode_value(type_id: int, data: bytes, pos: int, base: int = 0) -> tuple[Any, int]:
    """Attribute value of ``type_id`` at ``pos``: returns (value, position after).

    ``base`` maps positions in ``data`` to offsets of the raw frame for DecodeError; the
    type id itself is expected just before ``pos`` (where an unknown id is reported).
    """
    return _decode(type_id, data, pos, base, 0)


def _decode(type_id: int, data: bytes, pos: int, base: int, depth: int) -> tuple[Any, int]:
    dtype = DATA_TYPES.get(type_id)
    if dtype is None:
        reason = f"reserved data type 0x{type_id:02X}"
        raise DecodeError(LAYER, "data_type", base + pos - 1, reason)
    end = len(data)
    size = dtype.size
    if pos + size > end:
        raise _truncated("value", base + pos, size, end - pos)
    kind = dtype.kind
    if kind == "uint":
        return int.from_bytes(data[pos : pos + size], "little"), pos + size
    if kind == "int":
        return int.from_bytes(data[pos : pos + size], "little", signed=True), pos + size
    if kind == "bool":
        return (bool(data[pos]) if data[pos] <= 1 else data[pos]), pos + 1
    if kind == "float":
        return _FLOAT[size].unpack_from(data, pos)[0], pos + size
    if kind == "eui64":
        return data[pos : pos + 8][::-1].hex().upper(), pos + 8
    if kind == "bytes":
        return data[pos : pos + size], pos + size
    if kind == "none":
        return None, pos
    if kind == "tod":
        return dict(zip(TIME_OF_DAY_FIELDS, data[pos : pos + 4], strict=True)), pos + 4
    if kind == "date":
        return dict(zip(DATE_FIELDS, data[pos : pos + 4], strict=True)), pos + 4
    if kind in ("array", "struct"):
        if depth >= MAX_NESTING:
            raise DecodeError(LAYER, "value", base + pos, f"nested deeper than {MAX_NESTING}")
        return _decode_collection(dtype, data, pos, base, depth + 1)
    return _decode_string(dtype, data, pos, base)


def _decode_string(dtype: DataType, data: bytes, pos: int, base: int) -> tuple[Any, int]:
    size = dtype.size
    length = int.from_bytes(data[pos : pos + size], "little")
    pos += size
    if length == (1 << (8 * size)) - 1:
        return None, pos
    if pos + length > len(data):
        raise _truncated("value", base + pos, length, len(data) - pos)
    raw = data[pos : pos + length]
    if dtype.kind == "octets":
        return raw, pos + length
    try:
        return raw.decode("utf-8"), pos + length
    except UnicodeDecodeError as error:
        raise DecodeError(LAYER, "value", base + pos, f"character string: {error}") from None


def _decode_collection(
    dtype: DataType, data: bytes, pos: int, base: int, depth: int
) -> tuple[Any, int]:
    """Array/set/bag: element type (1), count (2), elements. Structure: count (2), then
    (type, value) per member (ZCL rev 7 2.6.2.12 - 2.6.2.14)."""
    end = len(data)
    if dtype.kind == "struct":
        count = data[pos] | data[pos + 1] << 8
        pos += 2
        if count == INVALID_COUNT:
            return None, pos
        members = []
        for _ in range(count):
            if pos >= end:
                raise _truncated("data_type", base + pos, 1, 0)
            member_type = data[pos]
            value, pos = _decode(member_type, data, pos + 1, base, depth)
            members.append({"data_type": member_type, "value": value})
        return members, pos
    if pos + 3 > end:
        raise _truncated("value", base + pos, 3, end - pos)
    element_type = data[pos]
    count = data[pos + 1] | data[pos + 2] << 8
    pos += 3
    if count == INVALID_COUNT:
        return {"element_type": element_type, "elements": None}, pos
    elements = []
    for _ in range(count):
        value, pos = _decode(element_type, data, pos, base, depth)
        elements.append(value)
    return {"element_type": element_type, "elements": elements}, pos


def encode_value(type_id: int, value: Any) -> bytes:
    """Attribute value as sent for ``type_id`` (inverse of decode_value)."""
    dtype = DATA_TYPES.get(type_id)
    if dtype is None:
        raise ValueError(f"reserved data type 0x{type_id:02X}")
    kind = dtype.kind
    size = dtype.size
    try:
        if kind in ("uint", "bool"):
            return int(value).to_bytes(size, "little")
        if kind == "int":
            return int(value).to_bytes(size, "little", signed=True)
    except OverflowError as error:
        raise ValueError(f"{dtype.name} value {value!r}: {error}") from error
    if kind == "float":
        return _FLOAT[size].pack(value)
    if kind == "eui64":
        raw = bytes.fromhex(value)
        if len(raw) != 8:
            raise ValueError(f"EUI-64 {value!r} is not 16 hex digits")
        return raw[::-1]
    if kind == "bytes":
        if len(value) != size:
            raise ValueError(f"{dtype.name} needs {size} bytes, got {len(value)}")
        return bytes(value)
    if kind == "none":
        return b""
    if kind == "tod":
        return bytes(value[name] for name in TIME_OF_DAY_FIELDS)
    if kind == "date":
        return bytes(value[name] for name in DATE_FIELDS)
    if kind == "struct":
        if value is None:
            return INVALID_COUNT.to_bytes(2, "little")
        return len(value).to_bytes(2, "little") + b"".join(
            bytes((member["data_type"],)) + encode_value(member["data_type"], member["value"])
            for member in value
        )
    if kind == "array":
        element_type, elements = value["element_type"], value["elements"]
        if elements is None:
            return bytes((element_type,)) + INVALID_COUNT.to_bytes(2, "little")
        if len(elements) >= INVALID_COUNT:
            raise ValueError(f"{dtype.name} of {len(elements)} elements is too long")
        return bytes((element_type,)) + len(elements).to_bytes(2, "little") + b"".join(
            encode_value(element_type, element) for element in elements
        )
    if value is None:
        return b"\xff" * size
    raw = value.encode("utf-8") if kind == "text" else bytes(value)
    if len(raw) >= (1 << (8 * size)) - 1:
        raise ValueError(f"{dtype.name} of {len(raw)} bytes is too long")
    return len(raw).to_bytes(size, "little") + raw
