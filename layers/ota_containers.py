"""OTA files as vendors publish them: in a manufacturer's container, or with bytes after
the image, or not an OTA file at all.

Why apart from ``hanota.layers.otafile``: the OTA file a CHF serves and a device receives is
exactly ``total_image_size`` bytes and is parsed strictly; what a test house is handed
(a vendor's download) often is not. ``find_ota_file`` locates the standard file in it,
names the container, and reports the bytes it ignored, so a DUT description can point
at a vendor file as it was downloaded.

Containers recognised, each as the public source that documents it describes it:

- IKEA TRÅDFRI ``NGIS`` signed container: zigpy ``zigpy/ota/image.py`` (``parse_ota_image``),
  ``zigpy/ota/providers.py`` (``SignedIkeaRemoteOtaImageMetadata._validate``: SHA-256 per
  block) and its test ``wrap_ikea``;
- Legrand: a 4-byte size prefix and a 17-byte suffix (zigpy ``parse_ota_image``, test
  ``test_legrand_container_unwrapping``; deCONZ OTA plugin pull request 19);
- Third Reality: a 152-byte header opening with the SHA-512 of the rest (zigpy
  ``parse_ota_image``, test ``test_thirdreality_container``);
- any other short leading header: the file identifier 0x0BEEF11E found in the first
  64 KiB, as Koenkk/zigbee-OTA and zigbee-herdsman-converters do (``indexOf`` of the
  identifier), reported as an unrecognised container.

Ledvance images start with the OTA header (zigpy pull request 278): they need none of this.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from hanota.layers.model import DecodeError
from hanota.layers.otafile import (
    FILE_IDENTIFIER,
    LAYER,
    IntegrityCheck,
    OtaFile,
    check_integrity,
    parse_ota_file_prefix,
)

MAGIC = FILE_IDENTIFIER.to_bytes(4, "little")
SEARCH_LIMIT = 64 * 1024  # a "short leading header": the identifier must start in here

IKEA_MAGIC = b"NGIS"
IKEA_FIXED_HEADER = 40
IKEA_BLOCK_HASH = 32
LEGRAND_PREFIX = 4
LEGRAND_SUFFIX = 17
THIRD_REALITY_HEADER = 152
THIRD_REALITY_HASH = 64


class NotAnOtaFile(DecodeError):
    """Bytes in which no ZigBee OTA file can be found; the reason says what they look like."""

    def __init__(self, data: bytes) -> None:
        super().__init__(
            LAYER, "file_identifier", 0,
            f"not a ZigBee OTA file: {describe_start(data)}; no 0x0BEEF11E file "
            f"identifier starts a valid OTA header in the first {SEARCH_LIMIT // 1024} KiB",
        )


@dataclass(frozen=True, slots=True)
class Container:
    """The manufacturer's wrapper the OTA file was found in."""

    name: str
    source: str
    details: tuple[str, ...] = ()


@dataclass(slots=True)
class FoundOtaFile:
    """A standard OTA file found in what a vendor published.

    ``data`` is the OTA file alone (``total_image_size`` bytes, what the CHF serves),
    ``offset`` where it starts in the bytes given, ``container`` None for a bare file.
    ``warnings`` name what was ignored (bytes after the image: count and offset).
    """

    ota: OtaFile
    data: bytes
    offset: int
    container: Container | None = None
    warnings: list[str] = field(default_factory=list)

    def integrity(self) -> IntegrityCheck:
        """The image integrity code of the OTA file (hashes the whole file: ~1 s/MiB)."""
        return check_integrity(self.data)


# ---- what the first bytes are ------------------------------------------------------------

_KNOWN_STARTS: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip data (an archive such as .tar.gz: unpack it first)"),
    (b"PK\x03\x04", "a ZIP archive (unpack it first)"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xeb\x17\xa6\x03", "a Silicon Labs GBL firmware image (the payload of an OTA file, "
     "not an OTA file)"),
    (b"\x00\x00\x00\x8c", "a Silicon Labs EBL firmware image (the payload of an OTA file, "
     "not an OTA file)"),
    (IKEA_MAGIC, "an IKEA NGIS container whose header does not point at an OTA file"),
    (b"{", "text that looks like JSON (an index or manifest, not an image)"),
    (b"<", "text that looks like HTML or XML (a web page saved instead of the image?)"),
    (b":", "text that looks like Intel HEX"),
)


def describe_start(data: bytes) -> str:
    """What ``data`` looks like, for an error message: its first bytes and a guess."""
    if not data:
        return "the file is empty"
    head = data[:8].hex(" ").upper()
    for prefix, meaning in _KNOWN_STARTS:
        if data.startswith(prefix):
            return f"the first bytes are {head}: {meaning}"
    if len(data) > 262 and data[257:262] == b"ustar":
        return f"the first bytes are {head}: a tar archive (unpack it first)"
    return f"the first bytes are {head}"


# ---- finding the file ----------------------------------------------------------------------


def _shifted(error: DecodeError, by: int) -> DecodeError:
    """The same error with its offset counted from the start of the bytes given."""
    return DecodeError(error.layer, error.field, error.offset + by, error.reason)


def _at(data: bytes, offset: int, end: int | None = None) -> FoundOtaFile:
    """The OTA file starting at ``offset`` (ending by ``end``); trailing bytes warned."""
    region = data[offset:end]
    try:
        ota, total = parse_ota_file_prefix(region)
        found = FoundOtaFile(ota, region[:total], offset)
    except DecodeError as error:
        raise _shifted(error, offset) from error
    extra = len(region) - total
    if extra:
        found.warnings.append(
            f"{extra} bytes after the declared total image size ({total}), at offset "
            f"{offset + total}: ignored"
        )
    return found


def _u32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "little")


def _ikea(data: bytes) -> FoundOtaFile | None:
    if not data.startswith(IKEA_MAGIC) or len(data) < IKEA_FIXED_HEADER:
        return None
    offset, size = _u32(data, 16), _u32(data, 20)
    if offset + size > len(data):
        raise DecodeError(LAYER, "ikea_container_size", 20,
                          f"the NGIS header puts {size} bytes at offset {offset}, past the "
                          f"end of the {len(data)}-byte file")
    found = _at(data, offset, offset + size)
    details = [_ikea_block_hashes(data, offset, size)]
    signature = len(data) - offset - size
    if signature:
        details.append(f"{signature} bytes after the image (IKEA's signature, not checked)")
    found.container = Container(
        "IKEA TRÅDFRI NGIS container",
        "zigpy/ota/image.py parse_ota_image; zigpy/ota/providers.py "
        "SignedIkeaRemoteOtaImageMetadata",
        tuple(details),
    )
    return found


def _ikea_block_hashes(data: bytes, offset: int, size: int) -> str:
    """Check the SHA-256 of each block when the header has the signed layout."""
    block_size, count = _u32(data, 32), _u32(data, 36)
    if count == 0 or IKEA_FIXED_HEADER + IKEA_BLOCK_HASH * count != offset or (
        block_size * count < size
    ):
        return "no SHA-256 block hashes (the header is not of the signed layout)"
    for index in range(count):
        start = offset + block_size * index
        block = data[start : min(start + block_size, offset + size)]
        expected = data[IKEA_FIXED_HEADER + IKEA_BLOCK_HASH * index :][:IKEA_BLOCK_HASH]
        if hashlib.sha256(block).digest() != expected:
            return f"SHA-256 of block {index} (offset {start}) does not match its hash"
    return f"{count} SHA-256 block hashes verified"


def _legrand(data: bytes) -> FoundOtaFile | None:
    minimum = LEGRAND_PREFIX + LEGRAND_SUFFIX
    if len(data) <= minimum or _u32(data, 0) + minimum != len(data):
        return None
    if data[LEGRAND_PREFIX : LEGRAND_PREFIX + 4] != MAGIC:
        return None
    found = _at(data, LEGRAND_PREFIX, len(data) - LEGRAND_SUFFIX)
    suffix = data[-LEGRAND_SUFFIX:]
    found.container = Container(
        "Legrand container",
        "zigpy/ota/image.py parse_ota_image (size prefix, 1 + 16-byte suffix)",
        (f"4-byte size prefix {_u32(data, 0)}",
         f"17-byte suffix {suffix[:1].hex().upper()} + {suffix[1:].hex().upper()} "
         "(not checked: its meaning is not published)"),
    )
    return found


def _third_reality(data: bytes) -> FoundOtaFile | None:
    if len(data) <= THIRD_REALITY_HEADER or _u32(data, 68) + THIRD_REALITY_HASH != len(data):
        return None
    if data[:THIRD_REALITY_HASH] != hashlib.sha512(data[THIRD_REALITY_HASH:]).digest():
        return None
    found = _at(data, THIRD_REALITY_HEADER)
    found.container = Container(
        "Third Reality container",
        "zigpy/ota/image.py parse_ota_image (152-byte header, SHA-512)",
        ("SHA-512 of the container verified",),
    )
    return found


_CONTAINERS: tuple[Callable[[bytes], FoundOtaFile | None], ...] = (
    _ikea, _legrand, _third_reality,
)


def find_ota_file(data: bytes) -> FoundOtaFile:
    """The standard OTA file in ``data``: bare, in a known container, or after a short
    unrecognised header; bytes after its total image size are reported, not refused.

    Raises ``NotAnOtaFile`` (a ``DecodeError``) when no file identifier starts a valid
    header, and the ``DecodeError`` of the file (offset counted in ``data``) when one is
    found but malformed.
    """
    for container in _CONTAINERS:
        found = container(data)
        if found is not None:
            return found
    if data.startswith(MAGIC):
        return _at(data, 0)
    return _search(data)


def _search(data: bytes) -> FoundOtaFile:
    """The first file identifier in the first ``SEARCH_LIMIT`` bytes that starts a valid
    header: an OTA file in a container this module does not know."""
    first_error: DecodeError | None = None
    position = data.find(MAGIC, 1, SEARCH_LIMIT + len(MAGIC))
    while position != -1:
        try:
            found = _at(data, position)
        except DecodeError as error:
            first_error = first_error or error
        else:
            found.container = Container(
                f"unrecognised container ({position}-byte leading header)",
                "Koenkk/zigbee-OTA and zigbee-herdsman-converters find the OTA file by its "
                "identifier (indexOf)",
            )
            found.warnings.append(
                f"{position} bytes before the OTA file identifier, in a container this "
                f"suite does not know ({describe_start(data)}): ignored"
            )
            return found
        position = data.find(MAGIC, position + 1, SEARCH_LIMIT + len(MAGIC))
    if first_error is not None:
        raise first_error
    raise NotAnOtaFile(data)
