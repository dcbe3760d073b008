"""OTA files as vendors publish them: containers, bytes after the image, files that are
not OTA files, both integrity-code conventions, a damaged integrity code, and the Smart
Energy signing elements. Each class is checked against zigpy's reader (zigpy.ota.image,
the parser Home Assistant uses on vendor files) where zigpy reads it.

The files are look-alikes built here (see tests/ota_vendor_files.py for the public source
of each format).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import pytest
from hanota.layers.aesmmo import aes_mmo
from hanota.layers.model import DecodeError
from hanota.layers.ota_containers import NotAnOtaFile, find_ota_file
from hanota.layers.ota_signing import (
    EcdsaSignature,
    Suite1Certificate,
    Suite2Certificate,
    parse_signing_element,
    signing_elements,
)
from hanota.layers.otafile import (
    TAG_ECDSA_CERTIFICATE_SUITE_1,
    TAG_ECDSA_CERTIFICATE_SUITE_2,
    TAG_ECDSA_SIGNATURE_SUITE_1,
    TAG_ECDSA_SIGNATURE_SUITE_2,
    TAG_IMAGE_INTEGRITY_CODE,
    IntegrityConvention,
    IntegrityStatus,
    OtaFile,
    SubElement,
    build_ota_file,
    check_integrity,
    integrity_ok,
    parse_ota_file,
)
from ota_vendor_files import (
    CONTAINERS,
    wrap_ikea,
    wrap_ikea_unsigned,
    wrap_legrand,
    wrap_unknown,
)

zigpy_image = pytest.importorskip("zigpy.ota.image")


def sample(**optional: Any) -> OtaFile:
    return OtaFile(0x117C, 0x2101, 0x12214572, header_string="EBL tradfri_light_basic",
                   elements=[SubElement(0, bytes(range(256)) * 5)], **optional)


def zigpy_fields(image: Any) -> dict[str, Any]:
    header = image.header
    return {
        "manufacturer_code": header.manufacturer_id, "image_type": header.image_type,
        "file_version": header.file_version, "stack": header.stack_version,
        "header_string": bytes(header.header_string).rstrip(b"\0").decode("latin-1"),
        "size": header.image_size, "hw": (header.minimum_hardware_version,
                                          header.maximum_hardware_version),
        "elements": [(int(e.tag_id), bytes(e.data)) for e in image.subelements],
    }


def our_fields(ota: OtaFile, size: int) -> dict[str, Any]:
    return {
        "manufacturer_code": ota.manufacturer_code, "image_type": ota.image_type,
        "file_version": ota.file_version, "stack": ota.zigbee_stack_version,
        "header_string": ota.header_string, "size": size,
        "hw": (ota.minimum_hardware_version, ota.maximum_hardware_version),
        "elements": [(e.tag, e.data) for e in ota.elements],
    }


# ---- containers ---------------------------------------------------------------------------


@pytest.mark.parametrize("integrity", [False, True])
@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_container_is_found_named_and_read_as_zigpy_reads_it(name: str, integrity: bool) -> None:
    ota_bytes = build_ota_file(sample(), append_integrity_code=integrity)
    data = CONTAINERS[name](ota_bytes)
    found = find_ota_file(data)
    assert found.container is not None and found.container.name == name
    assert found.data == ota_bytes and data[found.offset:].startswith(ota_bytes)
    assert found.warnings == []
    theirs, rest = zigpy_image.parse_ota_image(data)
    assert rest == b""
    assert our_fields(found.ota, len(found.data)) == zigpy_fields(theirs)
    assert found.integrity().ok is (True if integrity else None)


def test_ikea_block_hashes_are_checked() -> None:
    ota_bytes = build_ota_file(sample())
    data = bytearray(wrap_ikea(ota_bytes))
    found = find_ota_file(bytes(data))
    assert found.container is not None
    assert "SHA-256 block hashes verified" in found.container.details[0]
    assert "64 bytes after the image" in found.container.details[1]
    data[40 + 32 + 5] ^= 1  # block 1's hash
    found = find_ota_file(bytes(data))
    assert found.container is not None
    assert "block 1" in found.container.details[0]
    assert "does not match" in found.container.details[0]


def test_ikea_as_zigpys_own_test_builds_it() -> None:
    ota_bytes = build_ota_file(sample())
    data = wrap_ikea_unsigned(ota_bytes)
    found = find_ota_file(data)
    assert found.offset == 100 and found.data == ota_bytes
    assert found.container is not None and "no SHA-256 block hashes" in found.container.details[0]
    theirs, _ = zigpy_image.parse_ota_image(data)
    assert our_fields(found.ota, len(found.data)) == zigpy_fields(theirs)


def test_ikea_container_with_bytes_after_the_image_inside_it() -> None:
    """zigpy appends such bytes to the upgrade image (its "Fixing IKEA OTA image with
    trailing data"); the suite serves the file as declared and says what it ignored."""
    ota_bytes = build_ota_file(sample())
    data = wrap_ikea(ota_bytes + b"trailing")
    found = find_ota_file(data)
    assert found.data == ota_bytes
    offset = data.index(ota_bytes) + len(ota_bytes)
    assert found.warnings == [
        f"8 bytes after the declared total image size ({len(ota_bytes)}), at offset {offset}: "
        "ignored"
    ]
    theirs, _ = zigpy_image.parse_ota_image(data)
    expected = zigpy_fields(theirs)
    assert expected["elements"][0][1] == sample().elements[0].data + b"trailing"
    expected["elements"] = [(0, sample().elements[0].data)]
    expected["size"] -= 8
    assert our_fields(found.ota, len(found.data)) == expected


def test_unrecognised_leading_header_is_skipped_as_zigbee_ota_does() -> None:
    ota_bytes = build_ota_file(sample(), append_integrity_code=True)
    data = wrap_unknown(ota_bytes)
    found = find_ota_file(data)
    assert found.offset == 32 and found.data == ota_bytes
    assert found.container is not None
    assert found.container.name == "unrecognised container (32-byte leading header)"
    assert found.warnings[0].startswith("32 bytes before the OTA file identifier")
    theirs, rest = zigpy_image.OTAImage.deserialize(data[found.offset:])
    assert rest == b"" and our_fields(found.ota, len(found.data)) == zigpy_fields(theirs)
    with pytest.raises(ValueError):
        zigpy_image.parse_ota_image(data)  # zigpy does not search: the suite does more


def test_identifier_inside_a_header_that_does_not_parse_is_passed_over() -> None:
    ota_bytes = build_ota_file(sample())
    decoy = b"\x1e\xf1\xee\x0b" + b"\xff" * 60  # identifier, then no valid header
    found = find_ota_file(wrap_unknown(ota_bytes, b"HDR" + decoy))
    assert found.offset == 3 + len(decoy) and found.data == ota_bytes


def test_malformed_file_inside_a_container_names_its_offset_in_the_container() -> None:
    ota_bytes = bytearray(build_ota_file(sample()))
    struct.pack_into("<H", ota_bytes, 6, 57)  # header length disagrees with field control
    with pytest.raises(DecodeError) as caught:
        find_ota_file(wrap_legrand(bytes(ota_bytes)))
    assert (caught.value.field, caught.value.offset) == ("header_length", 4 + 6)


# ---- bytes after the image ----------------------------------------------------------------


@pytest.mark.parametrize("extra", [1, 17, 4096])
def test_bytes_after_the_total_image_size_are_reported_not_refused(extra: int) -> None:
    ota_bytes = build_ota_file(sample(), append_integrity_code=True)
    data = ota_bytes + b"\xff" * extra
    found = find_ota_file(data)
    assert found.container is None and found.offset == 0 and found.data == ota_bytes
    assert found.warnings == [
        f"{extra} bytes after the declared total image size ({len(ota_bytes)}), at offset "
        f"{len(ota_bytes)}: ignored"
    ]
    assert found.integrity().status is IntegrityStatus.VALID
    theirs, rest = zigpy_image.parse_ota_image(data)
    assert rest == b"\xff" * extra
    assert our_fields(found.ota, len(found.data)) == zigpy_fields(theirs)
    with pytest.raises(DecodeError, match="total_image_size"):
        parse_ota_file(data)  # what crosses the air stays exact


# ---- not an OTA file ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "the file is empty"),
        (gzip.compress(b"firmware", mtime=0), "gzip data"),
        (b"PK\x03\x04" + bytes(40), "ZIP archive"),
        (b"\xeb\x17\xa6\x03" + bytes(60), "Silicon Labs GBL"),
        (b'{"firmwares": []}', "JSON"),
        (b"NGIS" + bytes(10), "IKEA NGIS container"),
        (bytes(range(200)), "the first bytes are 00 01 02 03 04 05 06 07"),
    ],
    ids=["empty", "gzip", "zip", "gbl", "json", "ngis", "unknown"],  # one id on every worker
)
def test_anything_else_is_not_a_zigbee_ota_file(data: bytes, says: str) -> None:
    with pytest.raises(NotAnOtaFile) as caught:
        find_ota_file(data)
    assert caught.value.layer == "otafile" and caught.value.offset == 0
    assert "not a ZigBee OTA file" in str(caught.value) and says in str(caught.value)
    with pytest.raises(ValueError):
        zigpy_image.parse_ota_image(data)


# ---- the integrity code -------------------------------------------------------------------


@pytest.mark.parametrize("convention", list(IntegrityConvention))
def test_both_integrity_conventions_are_accepted_and_named(
    convention: IntegrityConvention,
) -> None:
    data = build_ota_file(sample(), append_integrity_code=True, integrity_convention=convention)
    tag_at = len(data) - 22
    # The hash written by hand, from the convention's definition.
    covered = data[:tag_at] if convention is IntegrityConvention.UP_TO_TAG else data[:tag_at + 6]
    assert data[-16:] == aes_mmo(covered)
    check = check_integrity(data)
    assert (check.status, check.convention, check.offset) == (
        IntegrityStatus.VALID, convention, tag_at)
    assert str(convention) in check.reason
    corrupt = bytearray(data)
    corrupt[100] ^= 0x40
    assert check_integrity(bytes(corrupt)).status is IntegrityStatus.MISMATCH
    theirs, _ = zigpy_image.OTAImage.deserialize(data)
    assert (int(theirs.subelements[-1].tag_id), bytes(theirs.subelements[-1].data)) == (
        TAG_IMAGE_INTEGRITY_CODE, data[-16:])


def _with_tag(data: bytes, tag: int) -> bytes:
    damaged = bytearray(data)
    struct.pack_into("<H", damaged, len(data) - 22, tag)
    return bytes(damaged)


@pytest.mark.parametrize("tag", [0x0103, 0x0001, 0x0007, 0x0013, 0xEFFF])
def test_damaged_tag_on_a_corrupt_image_is_missing_or_damaged_not_absent(tag: int) -> None:
    data = bytearray(build_ota_file(sample(), append_integrity_code=True))
    data[200] ^= 0x01  # the image is corrupt too
    damaged = _with_tag(bytes(data), tag)
    check = check_integrity(damaged)
    assert check.status is IntegrityStatus.DAMAGED
    assert check.reason.startswith("integrity code missing or damaged")
    assert check.offset == len(damaged) - 22 and f"0x{tag:04X}" in check.reason
    assert integrity_ok(damaged) is False


def test_damaged_tag_on_an_intact_image_says_only_the_tag_is_damaged() -> None:
    damaged = _with_tag(build_ota_file(sample(), append_integrity_code=True), 0xF003)
    check = check_integrity(damaged)
    assert check.status is IntegrityStatus.DAMAGED and "only the tag is damaged" in check.reason


def test_damaged_length_of_the_integrity_element_is_missing_or_damaged() -> None:
    data = bytearray(build_ota_file(sample(), append_integrity_code=True))
    for length in (17, 0x00100010):
        struct.pack_into("<I", data, len(data) - 20, length)
        assert check_integrity(bytes(data)).status is IntegrityStatus.DAMAGED, length
    struct.pack_into("<I", data, len(data) - 20, 10)  # a shorter element, then 6 stray bytes
    assert check_integrity(bytes(data)).status is IntegrityStatus.DAMAGED


def test_a_file_without_integrity_code_is_absent() -> None:
    data = build_ota_file(sample())
    assert check_integrity(data).status is IntegrityStatus.ABSENT
    assert integrity_ok(data) is None
    # A manufacturer element of 16 bytes at the end is not mistaken for a damaged code.
    ota = sample()
    ota.elements.append(SubElement(0xF000, b"\x11" * 16))
    assert check_integrity(build_ota_file(ota)).status is IntegrityStatus.ABSENT


def test_a_broken_element_elsewhere_is_still_a_decode_error() -> None:
    ota = sample()
    ota.elements.append(SubElement(0xF000, b"x" * 40))
    data = bytearray(build_ota_file(ota, append_integrity_code=True))
    struct.pack_into("<I", data, 56 + 2, 10_000)  # the upgrade image's length
    with pytest.raises(DecodeError, match="element_length"):
        check_integrity(bytes(data))


# ---- the Smart Energy signing elements ----------------------------------------------------

SIGNER = "000D6F0000ABCDEF"
ISSUER = "5445535453454341"  # "TESTSECA", the issuer of Smart Energy test certificates
R1, S1 = 0x03_1122334455667788990011223344556677889900, 0x02_99AABBCCDDEEFF0011223344
R2 = int.from_bytes(bytes(range(1, 37)), "big")
S2 = int.from_bytes(bytes(range(101, 137)), "big")


def signing_sample() -> tuple[OtaFile, list[SubElement]]:
    """A file with both suites' signature and certificate, laid out byte by byte from the
    formats (not with the parser under test)."""
    eui_air = bytes.fromhex(SIGNER)[::-1]
    suite1_cert = (bytes([0x03]) + bytes(range(21)) + bytes.fromhex(SIGNER)
                   + bytes.fromhex(ISSUER) + bytes.fromhex("0109") + bytes(8))
    suite2_cert = (bytes([0x00]) + bytes.fromhex("0102030405060708") + bytes([0x0D, 0x08])
                   + bytes.fromhex(ISSUER) + bytes.fromhex("0065D4A180")
                   + bytes.fromhex("FFFFFFFF") + bytes.fromhex(SIGNER) + bytes([0x88])
                   + bytes([0x02]) + bytes(range(36)))
    elements = [
        SubElement(0, b"firmware" * 10),
        SubElement(TAG_ECDSA_CERTIFICATE_SUITE_1, suite1_cert),
        SubElement(TAG_ECDSA_CERTIFICATE_SUITE_2, suite2_cert),
        SubElement(TAG_ECDSA_SIGNATURE_SUITE_1,
                   eui_air + R1.to_bytes(21, "big") + S1.to_bytes(21, "big")),
        SubElement(TAG_ECDSA_SIGNATURE_SUITE_2,
                   eui_air + R2.to_bytes(36, "big") + S2.to_bytes(36, "big")),
    ]
    return OtaFile(0x1234, 1, 2, security_credential_version=3, elements=elements), elements


def test_signing_elements_are_parsed_into_their_fields() -> None:
    ota, elements = signing_sample()
    data = build_ota_file(ota)
    parsed = signing_elements(parse_ota_file(data))
    assert parsed == [
        Suite1Certificate(elements[1].data[:22], SIGNER, ISSUER, bytes.fromhex("0109") + bytes(8)),
        Suite2Certificate(certificate_type=0, serial=0x0102030405060708, curve=0x0D, hash=0x08,
                          issuer=ISSUER, valid_from=0x0065D4A180, valid_to=0xFFFFFFFF,
                          subject=SIGNER, key_usage=0x88,
                          public_key_reconstruction=bytes([2]) + bytes(range(36))),
        EcdsaSignature(1, SIGNER, R1, S1),
        EcdsaSignature(2, SIGNER, R2, S2),
    ]
    theirs, _ = zigpy_image.OTAImage.deserialize(data)
    assert [(int(e.tag_id), bytes(e.data)) for e in theirs.subelements] == [
        (e.tag, e.data) for e in elements]
    assert theirs.header.security_credential_version == 3


def test_signing_element_of_the_wrong_length_names_its_length_field() -> None:
    ota, elements = signing_sample()
    ota.elements = [elements[0], SubElement(TAG_ECDSA_SIGNATURE_SUITE_1, bytes(49))]
    with pytest.raises(DecodeError) as caught:
        signing_elements(ota)
    second = 57 + 6 + len(elements[0].data)
    assert (caught.value.field, caught.value.offset) == ("element_length", second + 2)
    with pytest.raises(ValueError, match="not a signature"):
        parse_signing_element(SubElement(0, b""))


# ---- a DUT description pointing at a vendor file ------------------------------------------


def test_dut_image_given_as_a_vendor_file_is_served_unwrapped(tmp_path: Path) -> None:
    from importlib import resources

    from hanota.dut.description import parse_dut
    from hanota.dut.images import ota_file_size, ota_files

    ota_bytes = build_ota_file(sample(), append_integrity_code=True)
    (tmp_path / "bulb.ota.signed").write_bytes(wrap_ikea(ota_bytes) + b"\0" * 3)
    text = resources.files("hanota.dut").joinpath("default_dut.toml").read_text()
    text += '\n[images.vendor]\ntarget = "ppmid"\nfile_version = 0x12214572\n'
    text += 'file = "bulb.ota.signed"\n'
    dut = parse_dut(text, base=tmp_path)
    assert ota_files(dut, "vendor") == [ota_bytes]
    assert ota_file_size(dut.images["vendor"]) == len(ota_bytes)
