"""OTA file codec against zigpy's parser (same bytes, same fields) and hypothesis properties:
random bytes, truncations and mutations only ever give the documented results."""

import pytest
from hanota.layers.model import DecodeError
from hanota.layers.ota_containers import NotAnOtaFile, find_ota_file
from hanota.layers.otafile import (
    IntegrityConvention,
    IntegrityStatus,
    OtaFile,
    SubElement,
    build_ota_file,
    check_integrity,
    integrity_ok,
    parse_ota_file,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from ota_vendor_files import CONTAINERS, wrap_unknown

zigpy_image = pytest.importorskip("zigpy.ota.image")

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
eui64 = st.binary(min_size=8, max_size=8).map(lambda raw: raw.hex().upper())
header_text = st.binary(max_size=32).map(lambda raw: raw.rstrip(b"\x00").decode("latin-1"))
# zigpy knows tags 0x0000-0x0006 only (an enum); manufacturer tags are checked separately.
# Tag 0x0003 is left to the builder: an earlier integrity code would be the one checked.
standard_tag = st.sampled_from([0, 1, 2, 4, 5, 6])
any_tag = st.one_of(standard_tag, st.integers(0xF000, 0xFFFF), u16).filter(lambda t: t != 3)
MAGIC = bytes.fromhex("1EF1EE0B")


def ota_files(tags: st.SearchStrategy[int]) -> st.SearchStrategy[OtaFile]:
    hardware = st.one_of(st.none(), st.tuples(u16, u16))
    return st.builds(
        lambda hw, **kw: OtaFile(
            minimum_hardware_version=hw[0] if hw else None,
            maximum_hardware_version=hw[1] if hw else None,
            **kw,
        ),
        hw=hardware,
        manufacturer_code=u16,
        image_type=u16,
        file_version=u32,
        zigbee_stack_version=u16,
        header_string=header_text,
        header_version=u16,
        security_credential_version=st.one_of(st.none(), u8),
        upgrade_file_destination=st.one_of(st.none(), eui64),
        elements=st.lists(
            st.builds(SubElement, tag=tags, data=st.binary(max_size=300)), max_size=6
        ),
    )


def assert_same_as_zigpy(ours: OtaFile, data: bytes) -> None:
    theirs, rest = zigpy_image.OTAImage.deserialize(data)
    header = theirs.header
    assert rest == b""
    assert header.header_version == ours.header_version
    assert header.manufacturer_id == ours.manufacturer_code
    assert header.image_type == ours.image_type
    assert header.file_version == ours.file_version
    assert header.stack_version == ours.zigbee_stack_version
    assert bytes(header.header_string) == ours.header_string.encode("latin-1").ljust(32, b"\0")
    assert header.image_size == len(data)
    assert header.field_control == ours.field_control
    assert header.security_credential_version == ours.security_credential_version
    destination = header.upgrade_file_destination
    # zigpy's EUI64 is held in air order; its str() is big-endian with colons.
    assert (
        str(destination).replace(":", "").upper() if destination is not None else None
    ) == ours.upgrade_file_destination
    assert header.minimum_hardware_version == ours.minimum_hardware_version
    assert header.maximum_hardware_version == ours.maximum_hardware_version
    assert [(int(e.tag_id), bytes(e.data)) for e in theirs.subelements] == [
        (e.tag, e.data) for e in ours.elements
    ]
    assert theirs.serialize() == data


@settings(max_examples=200, deadline=None)
@given(ota_files(standard_tag), st.booleans())
def test_zigpy_reads_the_same_fields_from_our_files(ota: OtaFile, integrity: bool) -> None:
    data = build_ota_file(ota, append_integrity_code=integrity)
    assert_same_as_zigpy(parse_ota_file(data), data)


def test_zigpy_agrees_on_a_file_zigpy_built() -> None:
    header = zigpy_image.OTAImageHeader(
        upgrade_file_id=zigpy_image.OTAImageHeader.MAGIC_VALUE,
        header_version=0x0100,
        header_length=56 + 1 + 8 + 4,
        field_control=zigpy_image.FieldControl(7),
        manufacturer_id=0x1234,
        image_type=0x5678,
        file_version=0x0123ABCD,
        stack_version=2,
        header_string=zigpy_image.HeaderString("built by zigpy"),
        image_size=56 + 13 + 6 + 5,
        security_credential_version=2,
        upgrade_file_destination=zigpy_image.t.EUI64.convert("00:db:12:34:56:78:90:a4"),
        minimum_hardware_version=zigpy_image.HWVersion(1),
        maximum_hardware_version=zigpy_image.HWVersion(9),
    )
    image = zigpy_image.OTAImage(
        header=header,
        subelements=[
            zigpy_image.SubElement(tag_id=zigpy_image.ElementTagId.UPGRADE_IMAGE, data=b"hello")
        ],
    )
    data = image.serialize()
    ours = parse_ota_file(data)
    assert ours.upgrade_file_destination == "00DB1234567890A4"
    assert ours.header_string == "built by zigpy"
    assert ours.elements == [SubElement(0, b"hello")]
    assert_same_as_zigpy(ours, data)
    assert build_ota_file(ours) == data


@settings(max_examples=200, deadline=None)
@given(ota_files(any_tag), st.booleans())
def test_build_parse_round_trip(ota: OtaFile, integrity: bool) -> None:
    data = build_ota_file(ota, append_integrity_code=integrity)
    parsed = parse_ota_file(data)
    assert build_ota_file(parsed) == data
    if integrity:
        assert parsed.elements[:-1] == ota.elements
        assert integrity_ok(data) is True
    else:
        assert parsed == ota


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.binary(max_size=200).map(MAGIC.__add__)))
def test_random_bytes_give_decode_error_or_a_file(data: bytes) -> None:
    try:
        parsed = parse_ota_file(data)
    except DecodeError as error:
        assert error.layer == "otafile"
        assert 0 <= error.offset <= len(data)
    else:
        assert build_ota_file(parsed) == data


@settings(max_examples=200, deadline=None)
@given(ota_files(any_tag), st.data())
def test_every_truncation_is_a_decode_error(ota: OtaFile, draw: st.DataObject) -> None:
    data = build_ota_file(ota, append_integrity_code=True)
    cut = draw.draw(st.integers(0, len(data) - 1))
    with pytest.raises(DecodeError):
        parse_ota_file(data[:cut])
    with pytest.raises(DecodeError):
        integrity_ok(data[:cut])


@settings(max_examples=200, deadline=None)
@given(ota_files(any_tag), st.data())
def test_mutated_file_decodes_or_raises_decode_error(ota: OtaFile, draw: st.DataObject) -> None:
    data = bytearray(build_ota_file(ota, append_integrity_code=True))
    position = draw.draw(st.integers(0, len(data) - 1))
    data[position] ^= draw.draw(st.integers(1, 0xFF))
    try:
        result = integrity_ok(bytes(data))
    except DecodeError as error:
        assert error.layer == "otafile"
    else:
        assert result is not True


def _documented(error: DecodeError, data: bytes) -> None:
    assert error.layer == "otafile"
    assert 0 <= error.offset <= len(data)
    if isinstance(error, NotAnOtaFile):
        assert "not a ZigBee OTA file" in error.reason


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=200).map(MAGIC.__add__),
    st.tuples(st.binary(max_size=40), st.binary(max_size=200)).map(
        lambda parts: parts[0] + MAGIC + parts[1]),
    st.binary(max_size=200).map(lambda raw: b"NGIS" + raw),
))
def test_random_bytes_are_found_or_give_the_documented_error(data: bytes) -> None:
    try:
        found = find_ota_file(data)
    except DecodeError as error:
        _documented(error, data)
    else:
        assert data[found.offset : found.offset + len(found.data)] == found.data
        assert build_ota_file(found.ota) == found.data


@settings(max_examples=150, deadline=None)
@given(ota_files(standard_tag), st.booleans(), st.sampled_from(sorted(CONTAINERS)),
       st.binary(max_size=20))
def test_any_file_in_any_container_is_found_as_zigpy_finds_it(
    ota: OtaFile, integrity: bool, container: str, trailing: bytes
) -> None:
    data = build_ota_file(ota, append_integrity_code=integrity)
    found = find_ota_file(CONTAINERS[container](data))
    assert found.container is not None and found.container.name == container
    assert found.data == data and found.warnings == []
    assert_same_as_zigpy(found.ota, found.data)
    theirs, _ = zigpy_image.parse_ota_image(CONTAINERS[container](data))
    assert theirs.serialize() == data
    bare = find_ota_file(wrap_unknown(data) + trailing)
    assert bare.data == data and len(bare.warnings) == 1 + bool(trailing)


@settings(max_examples=150, deadline=None)
@given(ota_files(any_tag), st.sampled_from(list(IntegrityConvention)), st.data())
def test_mutated_file_never_verifies_under_either_convention(
    ota: OtaFile, convention: IntegrityConvention, draw: st.DataObject
) -> None:
    data = build_ota_file(ota, append_integrity_code=True, integrity_convention=convention)
    assert check_integrity(data).convention is convention
    mutated = bytearray(data)
    position = draw.draw(st.integers(0, len(data) - 1))
    mutated[position] ^= draw.draw(st.integers(1, 0xFF))
    try:
        check = check_integrity(bytes(mutated))
    except DecodeError as error:
        _documented(error, bytes(mutated))
    else:
        assert check.status is not IntegrityStatus.VALID
        assert check.ok is not True
