"""OTA upgrade file codec: known bytes, round trips, malformed files, integrity code."""

import struct

import pytest
from hanota.layers.aesmmo import aes_mmo
from hanota.layers.model import DecodeError
from hanota.layers.otafile import (
    TAG_ECDSA_CERTIFICATE_SUITE_1,
    TAG_ECDSA_CERTIFICATE_SUITE_2,
    TAG_ECDSA_SIGNATURE_SUITE_1,
    TAG_ECDSA_SIGNATURE_SUITE_2,
    TAG_IMAGE_INTEGRITY_CODE,
    TAG_PICTURE_DATA,
    TAG_UPGRADE_IMAGE,
    OtaFile,
    SubElement,
    build_ota_file,
    integrity_ok,
    parse_ota_file,
)

ALL_ELEMENT_KINDS = [
    SubElement(TAG_UPGRADE_IMAGE, bytes(range(256)) * 3),
    SubElement(TAG_ECDSA_SIGNATURE_SUITE_1, b"\x11" * 50),
    SubElement(TAG_ECDSA_CERTIFICATE_SUITE_1, b"\x22" * 48),
    SubElement(TAG_PICTURE_DATA, b"picture"),
    SubElement(TAG_ECDSA_SIGNATURE_SUITE_2, b"\x33" * 80),
    SubElement(TAG_ECDSA_CERTIFICATE_SUITE_2, b"\x44" * 74),
    SubElement(0xF000, b"manufacturer specific"),
    SubElement(0xFFFF, b""),
]


def full_file() -> OtaFile:
    return OtaFile(
        manufacturer_code=0x1234,
        image_type=0x0042,
        file_version=0x0123ABCD,
        zigbee_stack_version=0x0002,
        header_string="hanota test image",
        security_credential_version=3,
        upgrade_file_destination="00DB1234567890A4",
        minimum_hardware_version=0x0101,
        maximum_hardware_version=0x0203,
        elements=list(ALL_ELEMENT_KINDS),
    )


def test_minimal_file_has_the_bytes_the_specification_lays_out() -> None:
    # Written by hand from the table in zigbee-ota.md, not with the codec.
    image = b"firmware"
    expected = (
        struct.pack("<IHHHHHIH", 0x0BEEF11E, 0x0100, 56, 0, 0x1234, 0x0042, 7, 2)
        + b"abc".ljust(32, b"\x00")
        + struct.pack("<I", 56 + 6 + len(image))
        + struct.pack("<HI", 0, len(image))
        + image
    )
    ota = OtaFile(0x1234, 0x0042, 7, header_string="abc", elements=[SubElement(0, image)])
    assert build_ota_file(ota) == expected
    assert parse_ota_file(expected) == ota


def test_optional_header_fields_are_placed_and_eui_reversed_on_the_wire() -> None:
    data = build_ota_file(full_file())
    assert struct.unpack_from("<HH", data, 6) == (56 + 1 + 8 + 4, 0x0007)
    assert data[56] == 3
    assert data[57:65] == bytes.fromhex("A4 90 78 56 34 12 DB 00")
    assert struct.unpack_from("<HH", data, 65) == (0x0101, 0x0203)
    assert struct.unpack_from("<I", data, 52)[0] == len(data)


@pytest.mark.parametrize(
    "optional",
    [
        {},
        {"security_credential_version": 0},
        {"upgrade_file_destination": "FFFFFFFFFFFFFFFF"},
        {"minimum_hardware_version": 0, "maximum_hardware_version": 0xFFFF},
        {
            "security_credential_version": 1,
            "upgrade_file_destination": "0000000000000001",
            "minimum_hardware_version": 5,
            "maximum_hardware_version": 6,
        },
    ],
)
def test_round_trip_with_each_combination_of_optional_fields(optional: dict) -> None:
    ota = OtaFile(0xFFFF, 0xFFBF, 0xFFFFFFFF, elements=list(ALL_ELEMENT_KINDS), **optional)
    data = build_ota_file(ota)
    assert parse_ota_file(data) == ota
    assert build_ota_file(parse_ota_file(data)) == data


def test_round_trip_with_every_sub_element_kind_and_integrity_code() -> None:
    ota = full_file()
    data = build_ota_file(ota, append_integrity_code=True)
    parsed = parse_ota_file(data)
    assert parsed.elements[:-1] == ALL_ELEMENT_KINDS
    assert parsed.elements[-1].tag == TAG_IMAGE_INTEGRITY_CODE
    assert parsed.elements[-1].data == aes_mmo(data[:-22])
    assert parsed.image() == ALL_ELEMENT_KINDS[0].data
    assert build_ota_file(parsed) == data


def test_header_string_of_any_bytes_survives() -> None:
    ota = OtaFile(1, 2, 3, header_string="\x01\xff" * 16)
    assert parse_ota_file(build_ota_file(ota)).header_string == "\x01\xff" * 16


def test_integrity_code_detects_a_flipped_byte_anywhere_before_it() -> None:
    data = build_ota_file(full_file(), append_integrity_code=True)
    assert integrity_ok(data) is True
    for position in (20, 100, len(data) - 30):
        corrupted = bytearray(data)
        corrupted[position] ^= 0x01
        assert integrity_ok(bytes(corrupted)) is False, position


def test_integrity_code_itself_corrupted_is_detected() -> None:
    data = bytearray(build_ota_file(full_file(), append_integrity_code=True))
    data[-1] ^= 0x80
    assert integrity_ok(bytes(data)) is False


def test_no_integrity_code_means_nothing_checked() -> None:
    assert integrity_ok(build_ota_file(full_file())) is None


def test_wrong_file_identifier_names_field_and_offset() -> None:
    data = bytearray(build_ota_file(full_file()))
    data[0] = 0x1F
    with pytest.raises(DecodeError) as caught:
        parse_ota_file(bytes(data))
    assert (caught.value.layer, caught.value.field, caught.value.offset) == (
        "otafile",
        "file_identifier",
        0,
    )


def test_header_length_past_the_end() -> None:
    data = bytearray(build_ota_file(OtaFile(1, 2, 3)))
    struct.pack_into("<H", data, 6, 0xFFFF)
    with pytest.raises(DecodeError) as caught:
        parse_ota_file(bytes(data))
    assert (caught.value.field, caught.value.offset) == ("header_length", 6)
    assert "past the end" in caught.value.reason


def test_header_length_disagreeing_with_field_control() -> None:
    data = bytearray(build_ota_file(OtaFile(1, 2, 3, elements=[SubElement(0, bytes(10))])))
    struct.pack_into("<H", data, 6, 57)
    with pytest.raises(DecodeError) as caught:
        parse_ota_file(bytes(data))
    assert (caught.value.field, caught.value.offset) == ("header_length", 6)


def test_element_length_past_the_end_names_its_offset() -> None:
    ota = OtaFile(1, 2, 3, elements=[SubElement(0, b"abc"), SubElement(4, b"defg")])
    data = bytearray(build_ota_file(ota))
    second = 56 + 6 + 3
    struct.pack_into("<I", data, second + 2, 5)
    with pytest.raises(DecodeError) as caught:
        parse_ota_file(bytes(data))
    assert (caught.value.field, caught.value.offset) == ("element_length", second + 2)


def test_total_image_size_disagreeing_with_the_data() -> None:
    data = build_ota_file(OtaFile(1, 2, 3, elements=[SubElement(0, b"abc")]))
    for wrong in (data[:-1], data + b"\x00"):
        with pytest.raises(DecodeError) as caught:
            parse_ota_file(wrong)
        assert (caught.value.field, caught.value.offset) == ("total_image_size", 52)


def test_reserved_field_control_bits_are_refused() -> None:
    data = bytearray(build_ota_file(OtaFile(1, 2, 3)))
    struct.pack_into("<H", data, 8, 0x0008)
    with pytest.raises(DecodeError) as caught:
        parse_ota_file(bytes(data))
    assert (caught.value.field, caught.value.offset) == ("header_field_control", 8)


def test_short_file_is_a_decode_error() -> None:
    with pytest.raises(DecodeError) as caught:
        parse_ota_file(b"\x1e\xf1\xee\x0b")
    assert caught.value.field == "header"


def test_builder_refuses_half_a_hardware_range() -> None:
    with pytest.raises(ValueError, match="hardware"):
        build_ota_file(OtaFile(1, 2, 3, minimum_hardware_version=1))


def test_one_mebibyte_file_builds_and_verifies() -> None:
    """A large image round-trips with its integrity code (its speed is measured by the
    emulator bench, not asserted here: a timed test fails on a loaded machine)."""
    ota = OtaFile(0x1234, 1, 2, elements=[SubElement(0, bytes(1 << 20))])
    data = build_ota_file(ota, append_integrity_code=True)
    parsed = parse_ota_file(data)
    assert integrity_ok(data) is True
    assert len(parsed.elements[0].data) == 1 << 20
