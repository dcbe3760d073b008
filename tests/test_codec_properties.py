"""Property tests (hypothesis): round trips with random valid values, and random or
damaged bytes give DecodeError / MicFailure, never any other exception."""

from __future__ import annotations

from typing import Any

from hanota.layers import ota
from hanota.layers.codec import build_frame, crc16_kermit, parse_frame
from hanota.layers.model import Aps, DecodeError, HanFrame, Mac, Nwk, Security
from hanota.layers.security import KeyRing
from hanota.layers.zcl import DATA_TYPES, decode_zcl, encode_zcl, make_zcl
from hanota.layers.zcl_types import DATE_FIELDS, TIME_OF_DAY_FIELDS
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ota_frames import NETWORK_KEY_HEX, OTA_CASES, sample_frame

KEYS = KeyRing(
    (bytes.fromhex(NETWORK_KEY_HEX),), (bytes.fromhex("66B6900981E1EE3CA4206B6B861C02BB"),)
)
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
eui64 = st.binary(min_size=8, max_size=8).map(lambda b: b.hex().upper())
MAX_DATA = 40  # what fits a 127-byte frame with both NWK and APS security


@st.composite
def ota_fields(draw: st.DrawFn, spec: ota.CommandSpec) -> dict[str, Any]:
    """Random valid fields for ``spec``: controllers first, then what they call for."""
    fields: dict[str, Any] = {}
    for field in spec.fields:
        if field.when is not None and not field.when.holds(fields[field.when.field]):
            continue
        if field.name == "payload_type":
            fields[field.name] = draw(st.integers(0, 3))
        elif field.name == "status":
            fields[field.name] = draw(st.sampled_from(sorted(ota.STATUS)) | u8)
        elif field.length_field is not None:
            data = draw(st.binary(max_size=MAX_DATA))
            fields[field.length_field] = len(data)
            fields[field.name] = data
        elif field.length_field is None and any(
            f.length_field == field.name for f in spec.fields
        ):
            continue  # data_size: set with its data
        else:
            kind = {"u8": u8, "u16": u16, "u32": u32, "eui64": eui64}[field.kind]
            fields[field.name] = draw(kind)
    return {name: fields[name] for name in [f.name for f in spec.fields] if name in fields}


@st.composite
def ota_zcl(draw: st.DrawFn) -> Any:
    spec = draw(st.sampled_from(ota.COMMANDS))
    return make_zcl(spec.name, draw(ota_fields(spec)), draw(u8),
                    disable_default_response=draw(st.booleans()))


@st.composite
def han_frames(draw: st.DrawFn) -> HanFrame:
    aps_security = None
    if draw(st.booleans()):
        aps_security = Security(draw(st.sampled_from([0, 2, 3])), draw(u32),
                                draw(st.none() | eui64))
    nwk = Nwk(
        dst16=draw(u16), src16=draw(u16), seq=draw(u8), radius=draw(u8),
        dst64=draw(st.none() | eui64), src64=draw(st.none() | eui64),
        security=Security(1, draw(u32), draw(eui64), draw(u8)),
    )
    mac_dst64, mac_src64 = draw(st.none() | eui64), draw(st.none() | eui64)
    return HanFrame(
        mac=Mac(1, draw(u8), draw(u16), None if mac_dst64 else draw(u16),
                None if mac_src64 else draw(u16), draw(st.booleans()), mac_dst64, mac_src64),
        nwk=nwk,
        aps=Aps(ota.CLUSTER_ID, 0x0109, draw(st.integers(1, 240)), draw(st.integers(1, 240)),
                draw(u8), ack_request=draw(st.booleans()), security=aps_security),
        zcl=draw(ota_zcl()),
    )


@SETTINGS
@given(han_frames())
def test_encrypted_frame_round_trip(frame: HanFrame) -> None:
    try:
        raw = build_frame(frame, KEYS)
    except ValueError as error:  # extended addresses can push a frame past 127 bytes
        assume("127-byte" not in str(error))
        raise
    assert len(raw) <= 127
    assert parse_frame(raw, KEYS) == frame


@SETTINGS
@given(ota_zcl())
def test_zcl_round_trip_is_byte_exact(zcl: Any) -> None:
    payload = encode_zcl(zcl, ota.CLUSTER_ID)
    decoded = decode_zcl(payload, ota.CLUSTER_ID)
    assert decoded == zcl
    assert encode_zcl(decoded, ota.CLUSTER_ID) == payload


SCALAR_TYPES = sorted(t for t, d in DATA_TYPES.items() if d.kind not in ("array", "struct"))


def _value_strategy(type_id: int, depth: int = 0, *, zigpy: bool = False
                    ) -> st.SearchStrategy[Any]:
    """Valid values of every ZCL data type (ZCL rev 7 table 2-10), compound ones nested
    up to two levels. With ``zigpy``, only what zigpy also handles: no "invalid"
    strings, arrays or structures (length or count all ones), printable ASCII text
    (zigpy writes a character count where ZCL wants an octet count, and ends a string
    at NUL), no arrays of no-data types, no float within 4x of the smallest normal
    number (zigpy reads 2.2250738585072014e-308 as twice that; the codec's own floats
    are struct's IEEE 754)."""
    dtype = DATA_TYPES[type_id]
    bits = 8 * dtype.size
    maybe_none = st.nothing() if zigpy else st.none()
    if dtype.kind == "uint":
        return st.integers(0, (1 << bits) - 1)
    if dtype.kind == "int":
        return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    if dtype.kind == "bool":
        return st.booleans()
    if dtype.kind == "float":
        floats = st.floats(allow_nan=False, width=bits)
        if zigpy:  # zigpy's own float codec is off at the bottom of the exponent range
            smallest = 4 * 2.0 ** {16: -14, 32: -126, 64: -1022}[bits]
            floats = floats.filter(lambda x: x == 0 or abs(x) >= smallest)
        return floats
    if dtype.kind == "eui64":
        return eui64
    if dtype.kind == "bytes":
        return st.binary(min_size=dtype.size, max_size=dtype.size)
    if dtype.kind == "octets":
        return maybe_none | st.binary(max_size=20)
    if dtype.kind == "none":
        return st.none()
    if dtype.kind in ("tod", "date"):
        names = TIME_OF_DAY_FIELDS if dtype.kind == "tod" else DATE_FIELDS
        return st.fixed_dictionaries({name: u8 for name in names})
    if dtype.kind == "array":
        return _array_values(depth, zigpy)
    if dtype.kind == "struct":
        return maybe_none | st.lists(_typed_values(depth + 1, zigpy), max_size=3)
    printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
    text = st.text(printable, max_size=10) if zigpy else st.text(max_size=10)
    return maybe_none | text


def _element_types(depth: int, zigpy: bool) -> st.SearchStrategy[int]:
    types = sorted(DATA_TYPES) if depth < 2 else SCALAR_TYPES
    if zigpy:
        types = [t for t in types if DATA_TYPES[t].kind != "none"]
    return st.sampled_from(types)


def _array_values(depth: int, zigpy: bool) -> st.SearchStrategy[Any]:
    def elements(type_id: int) -> st.SearchStrategy[Any]:
        items = st.lists(_value_strategy(type_id, depth + 1, zigpy=zigpy), max_size=3)
        if not zigpy:
            items = st.none() | items
        return st.fixed_dictionaries({"element_type": st.just(type_id), "elements": items})

    return _element_types(depth, zigpy).flatmap(elements)


def _typed_values(depth: int, zigpy: bool) -> st.SearchStrategy[dict[str, Any]]:
    def member(type_id: int) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({"data_type": st.just(type_id),
                                      "value": _value_strategy(type_id, depth, zigpy=zigpy)})

    return _element_types(depth, zigpy).flatmap(member)


@st.composite
def attribute_records(draw: st.DrawFn) -> dict[str, Any]:
    status = draw(st.sampled_from([0, 0, 0x86]))
    if status:
        return {"attribute": draw(u16), "status": status, "data_type": None, "value": None}
    type_id = draw(st.sampled_from(sorted(DATA_TYPES)))
    return {"attribute": draw(u16), "status": 0, "data_type": type_id,
            "value": draw(_value_strategy(type_id))}


@SETTINGS
@given(st.lists(attribute_records(), max_size=4), u8)
def test_read_attributes_response_round_trip(records: list[dict[str, Any]], seq: int) -> None:
    zcl = make_zcl("read_attributes_response", {"records": records}, seq)
    assert decode_zcl(encode_zcl(zcl, 0x0019), 0x0019) == zcl


def _only_decode_errors(raw: bytes, *, fcs: bool) -> None:
    try:
        parse_frame(raw, KEYS, fcs=fcs)
    except DecodeError as error:  # MicFailure is a DecodeError
        assert 0 <= error.offset <= len(raw)


@SETTINGS
@given(st.binary(max_size=127))
def test_random_bytes_give_only_decode_errors(raw: bytes) -> None:
    _only_decode_errors(raw, fcs=False)
    _only_decode_errors(raw + crc16_kermit(raw).to_bytes(2, "little"), fcs=True)
    try:
        decode_zcl(raw, 0x0019, 10)
    except DecodeError as error:
        assert 10 <= error.offset <= 10 + len(raw)


SAMPLES = [
    build_frame(sample_frame(command, fields, nwk_secured=secured), KEYS, fcs=False)
    for _, command, fields in OTA_CASES
    for secured in (False, True)
]


@SETTINGS
@given(st.sampled_from(SAMPLES), st.data())
def test_damaged_frames_give_only_decode_errors(raw: bytes, data: st.DataObject) -> None:
    damaged = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(damaged) - 1))
        damaged[position] = data.draw(u8)
    cut = data.draw(st.integers(0, len(damaged)))
    _only_decode_errors(bytes(damaged[:cut]), fcs=False)
    body = bytes(damaged[:cut])
    _only_decode_errors(body + crc16_kermit(body).to_bytes(2, "little"), fcs=True)


def test_every_truncation_of_every_encrypted_sample_is_a_decode_error() -> None:
    for raw in SAMPLES:
        framed = raw + crc16_kermit(raw).to_bytes(2, "little")
        for cut in range(len(framed)):
            try:
                parse_frame(framed[:cut], KEYS)
            except DecodeError:
                continue
            raise AssertionError(f"truncation at {cut} of {framed.hex()} decoded")
