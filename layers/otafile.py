"""ZigBee OTA upgrade file: header, optional header fields, sub-elements, integrity code.

The CHF emulator serves these files block by block and the device verifier compares the
bytes a device received with them, so the codec is strict: every length in the file must
agree with the data, and anything that does not is a ``DecodeError`` naming the field and
its absolute offset. Integers are little-endian as everywhere on the HAN; the upgrade file
destination is an EUI-64, written big-endian in the model and reversed on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from construct import Bytes, If, Int8ul, Int16ul, Int32ul, Struct, this
from hanota.layers.aesmmo import aes_mmo
from hanota.layers.model import DecodeError

LAYER = "otafile"
FILE_IDENTIFIER = 0x0BEEF11E
HEADER_VERSION = 0x0100
HEADER_STRING_SIZE = 32

SECURITY_CREDENTIAL_VERSION_PRESENT = 0x0001
DEVICE_SPECIFIC_FILE = 0x0002
HARDWARE_VERSIONS_PRESENT = 0x0004
KNOWN_FIELD_CONTROL_BITS = (
    SECURITY_CREDENTIAL_VERSION_PRESENT | DEVICE_SPECIFIC_FILE | HARDWARE_VERSIONS_PRESENT
)

TAG_UPGRADE_IMAGE = 0x0000
TAG_ECDSA_SIGNATURE_SUITE_1 = 0x0001
TAG_ECDSA_CERTIFICATE_SUITE_1 = 0x0002
TAG_IMAGE_INTEGRITY_CODE = 0x0003
TAG_PICTURE_DATA = 0x0004
TAG_ECDSA_SIGNATURE_SUITE_2 = 0x0005
TAG_ECDSA_CERTIFICATE_SUITE_2 = 0x0006

# Byte offsets of the fixed header fields, for error messages.
OFFSET_HEADER_LENGTH = 6
OFFSET_FIELD_CONTROL = 8
OFFSET_TOTAL_IMAGE_SIZE = 52
FIXED_HEADER_SIZE = 56
ELEMENT_HEADER_SIZE = 6
INTEGRITY_CODE_SIZE = 16

OTA_HEADER = Struct(
    "file_identifier" / Int32ul,
    "header_version" / Int16ul,
    "header_length" / Int16ul,
    "field_control" / Int16ul,
    "manufacturer_code" / Int16ul,
    "image_type" / Int16ul,
    "file_version" / Int32ul,
    "zigbee_stack_version" / Int16ul,
    "header_string" / Bytes(HEADER_STRING_SIZE),
    "total_image_size" / Int32ul,
    "security_credential_version"
    / If(this.field_control & SECURITY_CREDENTIAL_VERSION_PRESENT, Int8ul),
    "upgrade_file_destination" / If(this.field_control & DEVICE_SPECIFIC_FILE, Bytes(8)),
    "minimum_hardware_version" / If(this.field_control & HARDWARE_VERSIONS_PRESENT, Int16ul),
    "maximum_hardware_version" / If(this.field_control & HARDWARE_VERSIONS_PRESENT, Int16ul),
)

ELEMENT_HEADER = Struct("tag" / Int16ul, "length" / Int32ul)


@dataclass(frozen=True, slots=True)
class SubElement:
    """One tag/length/data element after the header; ``tag`` uses the TAG_* values."""

    tag: int
    data: bytes


@dataclass(slots=True)
class OtaFile:
    """An OTA upgrade file as the suite reasons about it.

    ``header_string`` is the 32-byte text field without its zero padding, decoded as
    Latin-1 so that any bytes survive a parse/build round trip. The optional header fields
    are None when absent; their presence sets the header field control bits.
    """

    manufacturer_code: int
    image_type: int
    file_version: int
    zigbee_stack_version: int = 0x0002
    header_string: str = ""
    header_version: int = HEADER_VERSION
    security_credential_version: int | None = None
    upgrade_file_destination: str | None = None
    minimum_hardware_version: int | None = None
    maximum_hardware_version: int | None = None
    elements: list[SubElement] = field(default_factory=list)

    @property
    def field_control(self) -> int:
        """Header field control bits implied by which optional fields are present."""
        bits = 0
        if self.security_credential_version is not None:
            bits |= SECURITY_CREDENTIAL_VERSION_PRESENT
        if self.upgrade_file_destination is not None:
            bits |= DEVICE_SPECIFIC_FILE
        if self.minimum_hardware_version is not None or self.maximum_hardware_version is not None:
            bits |= HARDWARE_VERSIONS_PRESENT
        return bits

    def image(self) -> bytes | None:
        """Data of the upgrade image element (tag 0x0000), or None when there is none."""
        return next((e.data for e in self.elements if e.tag == TAG_UPGRADE_IMAGE), None)


def header_length_for(field_control: int) -> int:
    """Header size the field control bits call for (fixed part plus optional fields)."""
    size = FIXED_HEADER_SIZE
    if field_control & SECURITY_CREDENTIAL_VERSION_PRESENT:
        size += 1
    if field_control & DEVICE_SPECIFIC_FILE:
        size += 8
    if field_control & HARDWARE_VERSIONS_PRESENT:
        size += 4
    return size


def _encode_header_string(text: str) -> bytes:
    raw = text.encode("latin-1")
    if len(raw) > HEADER_STRING_SIZE:
        raise ValueError(f"header string is {len(raw)} bytes, at most {HEADER_STRING_SIZE}")
    return raw.ljust(HEADER_STRING_SIZE, b"\x00")


def _encode_element(element: SubElement) -> bytes:
    return ELEMENT_HEADER.build({"tag": element.tag, "length": len(element.data)}) + element.data


def _encode_header(ota: OtaFile, total_image_size: int) -> bytes:
    control = ota.field_control
    hardware = bool(control & HARDWARE_VERSIONS_PRESENT)
    if hardware and (ota.minimum_hardware_version is None or ota.maximum_hardware_version is None):
        raise ValueError("minimum and maximum hardware version go together: give both")
    destination = ota.upgrade_file_destination
    return OTA_HEADER.build(
        {
            "file_identifier": FILE_IDENTIFIER,
            "header_version": ota.header_version,
            "header_length": header_length_for(control),
            "field_control": control,
            "manufacturer_code": ota.manufacturer_code,
            "image_type": ota.image_type,
            "file_version": ota.file_version,
            "zigbee_stack_version": ota.zigbee_stack_version,
            "header_string": _encode_header_string(ota.header_string),
            "total_image_size": total_image_size,
            "security_credential_version": ota.security_credential_version,
            "upgrade_file_destination": (
                bytes.fromhex(destination)[::-1] if destination is not None else None
            ),
            "minimum_hardware_version": ota.minimum_hardware_version,
            "maximum_hardware_version": ota.maximum_hardware_version,
        }
    )


class IntegrityConvention(StrEnum):
    """What the image integrity code (tag 0x0003) hashes: vendors use both readings.

    The specification's "the hash of the file up to this element" is read two ways in
    published files: up to the element's tag (the file before the element) or up to and
    including its 6-byte tag/length header.
    """

    UP_TO_TAG = "hash of the file up to the element's tag"
    THROUGH_HEADER = "hash of the file up to and including the element's tag and length"


def build_ota_file(
    ota: OtaFile,
    *,
    append_integrity_code: bool = False,
    integrity_convention: IntegrityConvention = IntegrityConvention.UP_TO_TAG,
) -> bytes:
    """Serialise ``ota``: header length and total image size are computed here.

    With ``append_integrity_code`` a tag 0x0003 element is added after ``ota.elements``
    holding the AES-MMO hash of every byte before it (its total size already counted in the
    header it hashes), or of every byte up to its data under ``THROUGH_HEADER``. Elements
    given with tag 0x0003 are written as they are, so tests can build files whose integrity
    code is wrong.
    """
    body = b"".join(_encode_element(e) for e in ota.elements)
    trailer = ELEMENT_HEADER_SIZE + INTEGRITY_CODE_SIZE if append_integrity_code else 0
    header_size = header_length_for(ota.field_control)
    data = _encode_header(ota, header_size + len(body) + trailer) + body
    if append_integrity_code:
        element_header = ELEMENT_HEADER.build(
            {"tag": TAG_IMAGE_INTEGRITY_CODE, "length": INTEGRITY_CODE_SIZE}
        )
        covered = data + element_header if integrity_convention is (
            IntegrityConvention.THROUGH_HEADER) else data
        data += element_header + aes_mmo(covered)
    return data


def _check_header(data: bytes, *, exact: bool = True) -> tuple[int, int]:
    """Check the lengths the header claims against ``data``: (header length, total size).

    ``exact``: the file must be exactly ``total_image_size`` bytes (a file as the CHF
    serves it). Otherwise bytes after it are allowed: ``find_ota_file`` reports them.
    """
    if len(data) < FIXED_HEADER_SIZE:
        raise DecodeError(LAYER, "header", len(data), f"file is {len(data)} bytes, header needs 56")
    identifier = int.from_bytes(data[0:4], "little")
    if identifier != FILE_IDENTIFIER:
        raise DecodeError(
            LAYER, "file_identifier", 0, f"0x{identifier:08X}, expected 0x{FILE_IDENTIFIER:08X}"
        )
    control = int.from_bytes(data[OFFSET_FIELD_CONTROL : OFFSET_FIELD_CONTROL + 2], "little")
    if control & ~KNOWN_FIELD_CONTROL_BITS:
        raise DecodeError(
            LAYER,
            "header_field_control",
            OFFSET_FIELD_CONTROL,
            f"0x{control:04X} sets reserved bits: the header size cannot be known",
        )
    header_length = int.from_bytes(data[OFFSET_HEADER_LENGTH : OFFSET_HEADER_LENGTH + 2], "little")
    if header_length > len(data):
        raise DecodeError(
            LAYER,
            "header_length",
            OFFSET_HEADER_LENGTH,
            f"{header_length} points past the end of the {len(data)}-byte file",
        )
    expected = header_length_for(control)
    if header_length != expected:
        raise DecodeError(
            LAYER,
            "header_length",
            OFFSET_HEADER_LENGTH,
            f"{header_length}, but field control 0x{control:04X} makes the header {expected}",
        )
    total = int.from_bytes(data[OFFSET_TOTAL_IMAGE_SIZE : OFFSET_TOTAL_IMAGE_SIZE + 4], "little")
    if total > len(data) or (exact and total != len(data)):
        raise DecodeError(
            LAYER,
            "total_image_size",
            OFFSET_TOTAL_IMAGE_SIZE,
            f"{total}, but the file is {len(data)} bytes",
        )
    if total < header_length:
        raise DecodeError(
            LAYER,
            "total_image_size",
            OFFSET_TOTAL_IMAGE_SIZE,
            f"{total} is smaller than the {header_length}-byte header",
        )
    return header_length, total


def _element_at(data: bytes, offset: int) -> SubElement:
    """The element whose tag is at ``offset``; DecodeError when it overruns ``data``."""
    if offset + ELEMENT_HEADER_SIZE > len(data):
        raise DecodeError(
            LAYER,
            "element_header",
            offset,
            f"{len(data) - offset} bytes left, an element header needs 6",
        )
    head = ELEMENT_HEADER.parse(data[offset : offset + ELEMENT_HEADER_SIZE])
    start = offset + ELEMENT_HEADER_SIZE
    if start + head.length > len(data):
        raise DecodeError(
            LAYER,
            "element_length",
            offset + 2,
            f"{head.length} (tag 0x{head.tag:04X}) points past the end: "
            f"{len(data) - start} bytes left",
        )
    return SubElement(head.tag, data[start : start + head.length])


Walk = tuple[list[tuple[int, SubElement]], DecodeError | None, int]


def _lenient_walk(data: bytes, offset: int) -> Walk:
    """Elements from ``offset`` until the first that does not fit: (elements with the
    offset of their tag, the error or None, offset of the element that did not fit)."""
    found: list[tuple[int, SubElement]] = []
    while offset < len(data):
        try:
            element = _element_at(data, offset)
        except DecodeError as error:
            return found, error, offset
        found.append((offset, element))
        offset += ELEMENT_HEADER_SIZE + len(element.data)
    return found, None, offset


def _walk_elements(data: bytes, offset: int) -> list[tuple[int, SubElement]]:
    """Every sub-element from ``offset`` to the end, with the offset of its tag."""
    found, error, _ = _lenient_walk(data, offset)
    if error is not None:
        raise error
    return found


def parse_ota_file(data: bytes) -> OtaFile:
    """Decode a whole OTA file; raise ``DecodeError`` when any length disagrees with it.

    Strict on purpose: this is the file as the CHF serves it and as a device receives it,
    exactly ``total_image_size`` bytes. Files as vendors publish them (in a container, with
    bytes after the image) are read by ``hanota.layers.ota_containers.find_ota_file``.
    """
    header_length, _ = _check_header(data)
    return _decode(data, header_length)


def parse_ota_file_prefix(data: bytes) -> tuple[OtaFile, int]:
    """The OTA file that starts ``data`` and its total image size; bytes after it are
    allowed (the caller says what they are: see ``hanota.layers.ota_containers``)."""
    header_length, total = _check_header(data, exact=False)
    return _decode(data[:total], header_length), total


def _decode(data: bytes, header_length: int) -> OtaFile:
    header = OTA_HEADER.parse(data[:header_length])
    destination = header.upgrade_file_destination
    return OtaFile(
        manufacturer_code=header.manufacturer_code,
        image_type=header.image_type,
        file_version=header.file_version,
        zigbee_stack_version=header.zigbee_stack_version,
        header_string=header.header_string.rstrip(b"\x00").decode("latin-1"),
        header_version=header.header_version,
        security_credential_version=header.security_credential_version,
        upgrade_file_destination=destination[::-1].hex().upper() if destination else None,
        minimum_hardware_version=header.minimum_hardware_version,
        maximum_hardware_version=header.maximum_hardware_version,
        elements=[element for _, element in _walk_elements(data, header_length)],
    )


# ---- the image integrity code (tag 0x0003) ------------------------------------------------


class IntegrityStatus(StrEnum):
    """What ``check_integrity`` found. ``DAMAGED`` is distinct from ``ABSENT``: the file
    shows an integrity code it cannot use (wrong length, or a 16-byte last element under a
    tag that cannot hold it), so a corrupt file never passes as one without a code."""

    VALID = "valid"
    MISMATCH = "mismatch"
    ABSENT = "absent"
    DAMAGED = "missing or damaged"


@dataclass(frozen=True, slots=True)
class IntegrityCheck:
    """The verdict on a file's integrity code.

    ``offset``: where the integrity element's tag is (or where the damaged one sits);
    ``convention``: which reading of the hash holds (VALID only); ``reason``: a sentence for
    a report. ``ok`` is what ``integrity_ok`` returns.
    """

    status: IntegrityStatus
    reason: str
    offset: int | None = None
    convention: IntegrityConvention | None = None

    @property
    def ok(self) -> bool | None:
        """True valid; False mismatch or damaged (the file is not what was hashed); None
        when the file carries no integrity code at all (the element is optional)."""
        if self.status is IntegrityStatus.VALID:
            return True
        if self.status is IntegrityStatus.ABSENT:
            return None
        return False


# Tags that cannot hold a 16-byte element at the end of a file: the signature and
# certificate elements have fixed sizes, and 0x0007-0xEFFF are reserved.
_FIXED_SIZE_TAGS = {
    TAG_ECDSA_SIGNATURE_SUITE_1: 50,
    TAG_ECDSA_CERTIFICATE_SUITE_1: 48,
    TAG_ECDSA_SIGNATURE_SUITE_2: 80,
    TAG_ECDSA_CERTIFICATE_SUITE_2: 74,
}
_RESERVED_TAGS = range(0x0007, 0xF000)


def _hash_convention(data: bytes, offset: int, code: bytes) -> IntegrityConvention | None:
    """Which convention makes ``code`` the hash of the file before the element at
    ``offset``; None when neither does."""
    if code == aes_mmo(data[:offset]):
        return IntegrityConvention.UP_TO_TAG
    if code == aes_mmo(data[: offset + ELEMENT_HEADER_SIZE]):
        return IntegrityConvention.THROUGH_HEADER
    return None


def check_integrity(data: bytes) -> IntegrityCheck:
    """Check the image integrity code of the OTA file ``data`` (exactly one file).

    VALID / MISMATCH for a 16-byte tag-0x0003 element, under either convention (the
    one that holds is reported). DAMAGED when the integrity code is there but unusable:
    a tag-0x0003 element of another length; the element in the integrity code's place (the
    last 22 bytes) does not fit in the file; or no tag 0x0003 but the last element is 16
    bytes under a tag that cannot hold it (a signature/certificate tag, a reserved tag) or
    whose data is the hash of the file before it. ABSENT otherwise. Raises ``DecodeError``
    for a header that does not decode or an element structure broken elsewhere.
    """
    header_length, _ = _check_header(data)
    elements, error, bad_offset = _lenient_walk(data, header_length)
    code_place = len(data) - ELEMENT_HEADER_SIZE - INTEGRITY_CODE_SIZE
    for offset, element in elements:
        if element.tag != TAG_IMAGE_INTEGRITY_CODE:
            continue
        if len(element.data) != INTEGRITY_CODE_SIZE:
            return IntegrityCheck(
                IntegrityStatus.DAMAGED,
                f"integrity code missing or damaged: the tag-0x0003 element at offset "
                f"{offset} holds {len(element.data)} bytes, an AES-MMO hash is 16",
                offset,
            )
        if error is not None:
            raise error
        convention = _hash_convention(data, offset, element.data)
        if convention is None:
            return IntegrityCheck(
                IntegrityStatus.MISMATCH,
                f"the integrity code at offset {offset} matches the file under neither "
                "convention (up to the tag, or through its tag and length)",
                offset,
            )
        return IntegrityCheck(
            IntegrityStatus.VALID, f"integrity code at offset {offset}: {convention}",
            offset, convention,
        )
    if error is not None:
        if bad_offset == code_place:
            return IntegrityCheck(
                IntegrityStatus.DAMAGED,
                f"integrity code missing or damaged: the element at offset {bad_offset}, "
                f"where a 16-byte integrity code ends the file, does not fit ({error.reason})",
                bad_offset,
            )
        raise error
    return _tag_damaged(data, elements, code_place)


def _tag_damaged(
    data: bytes, elements: list[tuple[int, SubElement]], code_place: int
) -> IntegrityCheck:
    """No tag-0x0003 element: DAMAGED when the last element looks like an integrity code
    whose tag was damaged, ABSENT otherwise."""
    absent = IntegrityCheck(IntegrityStatus.ABSENT, "the file carries no integrity code")
    if not elements:
        return absent
    offset, last = elements[-1]
    if offset != code_place:
        return absent
    hash_matches = last.data == aes_mmo(data[:offset])
    if last.tag in _RESERVED_TAGS or last.tag in _FIXED_SIZE_TAGS or hash_matches:
        intact = " (its data is the hash of the file before it: only the tag is damaged)"
        return IntegrityCheck(
            IntegrityStatus.DAMAGED,
            f"integrity code missing or damaged: the 16-byte last element at offset "
            f"{offset} has tag 0x{last.tag:04X}, not 0x0003{intact if hash_matches else ''}",
            offset,
        )
    return absent


def integrity_ok(data: bytes) -> bool | None:
    """``check_integrity(data).ok``: True valid, False mismatch or damaged, None when the
    file carries no integrity code (absence is not a failure, since the element is
    optional, but the caller must know nothing was checked)."""
    return check_integrity(data).ok
