"""Every ZCL attribute data type (ZCL revision 7, 07-5123-07, table 2-10 "Data Types";
structure 2.6.2.13, array/set/bag 2.6.2.12/14), checked against two independent
decoders: zigpy (``zigpy.zcl.foundation.TypeValue``) for every type and random values,
and tshark for one Read Attributes Response per type.

tshark 4.0 is blind to two types: it shows no value for attribId (0xE9) and reports a
structure (0x4C) as malformed (it reads the members as attribute status records);
zigpy, which reads both, is the oracle there.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import zigpy.zcl.foundation as foundation
from hanota.layers.codec import parse_frame
from hanota.layers.model import Aps, DecodeError, HanFrame
from hanota.layers.security import KeyRing
from hanota.layers.zcl import decode_zcl, make_zcl
from hanota.layers.zcl_types import (
    DATA_TYPES,
    DATE_FIELDS,
    TIME_OF_DAY_FIELDS,
    decode_value,
    encode_value,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from ota_frames import pcap_bytes
from stack_frames import NETWORK_KEY, build, ota_notify
from test_codec_properties import _value_strategy

# ZCL rev 7 table 2-10, every type id it defines
TABLE_2_10 = [
    0x00, 0x10, 0x30, 0x31, 0x38, 0x39, 0x3A, 0x41, 0x42, 0x43, 0x44, 0x48, 0x4C, 0x50, 0x51,
    0xE0, 0xE1, 0xE2, 0xE8, 0xE9, 0xEA, 0xF0, 0xF1, 0xFF,
    *range(0x08, 0x10), *range(0x18, 0x20), *range(0x20, 0x28), *range(0x28, 0x30),
]
ZCL_EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def test_the_table_holds_every_type_of_the_specification_and_of_zigpy() -> None:
    assert sorted(DATA_TYPES) == sorted(TABLE_2_10)
    zigpy_ids = {int(member.value.type_id) for member in foundation.DataType}
    assert zigpy_ids <= set(DATA_TYPES), sorted(zigpy_ids - set(DATA_TYPES))


def _as_ours(type_id: int, value: Any) -> Any:
    """A value as zigpy parsed it, in this project's representation (zcl_types)."""
    dtype = DATA_TYPES[type_id]
    kind = dtype.kind
    if kind == "none":
        return None
    if dtype.name.startswith("data"):  # zigpy: a list of octets
        return int.from_bytes(bytes(value), "little")
    if kind == "bool":
        return bool(value)
    if kind in ("uint", "int"):
        return int(value)
    if kind == "float":
        return float(value)
    if kind in ("octets", "bytes"):
        return bytes(value)
    if kind == "text":
        return str(value)
    if kind == "eui64":
        return str(value).replace(":", "").upper()
    if kind in ("tod", "date"):
        names = TIME_OF_DAY_FIELDS if kind == "tod" else DATE_FIELDS
        return {name: getattr(value, name) for name in names}
    raise AssertionError(f"compound type 0x{type_id:02X}: compared by _same")


def _same(type_id: int, ours: Any, theirs: Any) -> bool:
    """Whether zigpy's parsed ``theirs`` is our value ``ours``, compound types member
    by member."""
    kind = DATA_TYPES[type_id].kind
    if kind == "array":  # array, set, bag
        element_type, elements = ours["element_type"], ours["elements"]
        items = list(theirs.value)
        return len(items) == len(elements) and all(
            _same(element_type, mine, their) for mine, their in zip(elements, items, strict=True))
    if kind == "struct":
        members = list(theirs)
        return len(members) == len(ours) and all(
            int(member.type) == mine["data_type"]
            and _same(mine["data_type"], mine["value"], member.value)
            for mine, member in zip(ours, members, strict=True))
    return _as_ours(type_id, theirs) == ours


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(DATA_TYPES)).flatmap(
    lambda type_id: st.tuples(st.just(type_id), _value_strategy(type_id, zigpy=True))))
def test_zigpy_reads_our_encoding_and_we_read_zigpys(typed: tuple[int, Any]) -> None:
    """zigpy parses our bytes to the same length and the same value; where no float is
    involved it writes them back byte for byte (its own float writer is off near the
    smallest normal numbers: it writes the smallest normal single as 0x01000000, so
    floats are compared as values); our decoder reads our bytes back to the value."""
    type_id, value = typed
    raw = bytes((type_id,)) + encode_value(type_id, value)
    parsed, rest = foundation.TypeValue.deserialize(raw)
    assert rest == b""
    assert _same(type_id, value, parsed.value)
    if not _holds_float(type_id, value):
        assert parsed.serialize() == raw
    decoded, end = decode_value(type_id, raw, 1)
    assert end == len(raw)
    assert decoded == value


def _holds_float(type_id: int, value: Any) -> bool:
    kind = DATA_TYPES[type_id].kind
    if kind == "float":
        return True
    if kind == "array":
        return any(_holds_float(value["element_type"], item) for item in value["elements"])
    if kind == "struct":
        return any(_holds_float(member["data_type"], member["value"]) for member in value)
    return False


def test_reserved_type_and_nesting_give_decode_errors() -> None:
    with pytest.raises(DecodeError) as error:
        decode_value(0x05, b"\x05\x00", 1, base=40)
    assert (error.value.layer, error.value.field, error.value.offset) == ("zcl", "data_type", 40)
    nested = b"\x48" * 40 + b"\x01\x00"  # arrays of arrays of ... with one element each
    deep = b"".join(b"\x48\x01\x00" for _ in range(20)) + b"\x20\x01\x00\x07"
    with pytest.raises(DecodeError, match="nested deeper"):
        decode_value(0x48, deep, 0)
    with pytest.raises(DecodeError):
        decode_value(0x48, nested, 1)


# ---- tshark ------------------------------------------------------------------------------

SAMPLES: list[tuple[int, Any]] = [
    (0x00, None), (0x08, 5), (0x0B, 0x01020304), (0x10, True), (0x18, 3),
    (0x1F, 2**63 + 5), (0x20, 7), (0x22, 0x123456), (0x23, 123456), (0x27, 2**60),
    (0x28, -5), (0x2B, -70000), (0x2F, -(2**50)), (0x30, 2), (0x31, 0x1234), (0x38, 1.5),
    (0x39, 2.25), (0x3A, 3.125), (0x41, b"abc"), (0x42, "hello"), (0x43, b"xyz"),
    (0x44, "long"), (0xE0, {"hours": 1, "minutes": 2, "seconds": 3, "hundredths": 4}),
    (0xE1, {"years_since_1900": 125, "month": 12, "day": 5, "day_of_week": 5}),
    (0xE2, 800_000_000), (0xE8, 0x0019), (0xEA, 5), (0xF0, "00DB1234567890A2"),
    (0xF1, bytes(range(16))), (0xFF, None),
    (0x48, {"element_type": 0x21, "elements": [1, 2, 3]}),
    (0x50, {"element_type": 0x20, "elements": [9]}),
    (0x51, {"element_type": 0x42, "elements": ["a", "bc"]}),
]
ATTRIBUTE = "zbee_zcl.attr."


def _frame(number: int, type_id: int, value: Any) -> bytes:
    record = {"attribute": 0x4000, "status": 0, "data_type": type_id, "value": value}
    zcl = make_zcl("read_attributes_response", {"records": [record]}, number, cluster=0)
    mac, nwk, _, _ = ota_notify(number)
    return build(HanFrame(mac, nwk, Aps(0x0000, 0x0104, 1, 1, number), zcl))


def _colon(data: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in data)


def _expected(type_id: int, value: Any) -> list[tuple[str, str]]:
    """What tshark 4.0 shows for ``value`` of ``type_id`` (field, show), in order."""
    dtype = DATA_TYPES[type_id]
    name, kind, size = dtype.name, dtype.kind, dtype.size
    if kind == "none":
        return []
    if name.startswith("data") or type_id in (0x38, 0xEA, 0xF0, 0xF1):
        return [("bytes", _colon(encode_value(type_id, value)))]
    if name.startswith("map"):
        return [(f"bitmap{8 * size}", f"0x{value:0{2 * size}x}")]
    if type_id == 0x10:
        return [("boolean", str(int(value)))]
    if kind in ("uint", "int") and type_id not in (0xE2, 0xE8):
        prefix = "int" if kind == "int" else "uint"
        return [(f"{prefix}{8 * size}", str(value))]
    if kind == "float":
        return [("float", str(value))]
    if kind == "octets":
        return [("ostr", _colon(value))]
    if kind == "text":
        return [("str", value)]
    if kind == "tod":
        return list(zip(("hours", "mins", "secs", "csecs"), map(str, value.values()),
                        strict=True))
    if kind == "date":
        return list(zip(("yy", "mm", "md", "wd"), map(str, value.values()), strict=True))
    if type_id == 0xE2:
        when = ZCL_EPOCH + datetime.timedelta(seconds=value)
        return [("utc", when.strftime("%b %e, %Y %H:%M:%S.000000000 UTC"))]
    if type_id == 0xE8:
        return [("cid", f"0x{value:04x}")]
    kind_name = name  # array, set, bag
    elements = [item for element in value["elements"]
                for item in _expected(value["element_type"], element)]
    return [(f"{kind_name}.elements_type", f"0x{value['element_type']:02x}"),
            (f"{kind_name}.elements_num", str(len(value["elements"]))), *elements]


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_shows_every_type_as_we_decode_it(tmp_path: Path) -> None:
    raws = [_frame(number, type_id, value) for number, (type_id, value) in enumerate(SAMPLES)]
    capture = tmp_path / "types.pcap"
    capture.write_bytes(pcap_bytes(raws))
    pdml = subprocess.run(
        ["tshark", "-n", "-r", str(capture), "-o",
         f'uat:zigbee_pc_keys:"{NETWORK_KEY.hex()}","Normal","nwk"', "-T", "pdml"],
        capture_output=True, text=True, check=True,
    ).stdout
    shown = _attribute_fields(pdml)
    keys = KeyRing((NETWORK_KEY,), ())
    for number, ((type_id, value), raw) in enumerate(zip(SAMPLES, raws, strict=True)):
        zcl = parse_frame(raw, keys).zcl
        assert zcl is not None
        (record,) = zcl.fields["records"]
        assert (record["data_type"], record["value"]) == (type_id, value)
        assert shown[number] == _expected(type_id, record["value"]), hex(type_id)


def _attribute_fields(pdml: str) -> list[list[tuple[str, str]]]:
    """Per packet, the (field, show) pairs of attribute values, in order."""
    import xml.etree.ElementTree as ElementTree

    packets = []
    for packet in ElementTree.fromstring(pdml).iter("packet"):
        pairs = []
        for field in packet.iter("field"):
            name = field.get("name", "")
            if name.startswith(ATTRIBUTE) and name not in (
                ATTRIBUTE + "id", ATTRIBUTE + "status", ATTRIBUTE + "data.type"
            ):
                pairs.append((name[len(ATTRIBUTE):], field.get("show", "")))
        packets.append(pairs)
    return packets


def test_read_attributes_response_with_every_type_round_trips() -> None:
    records = [{"attribute": n, "status": 0, "data_type": t, "value": v}
               for n, (t, v) in enumerate(SAMPLES[:20])]
    zcl = make_zcl("read_attributes_response", {"records": records}, 1, cluster=0)
    from hanota.layers.zcl import encode_zcl

    assert decode_zcl(encode_zcl(zcl, 0), 0) == zcl
