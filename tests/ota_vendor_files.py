"""Look-alikes of OTA files as vendors publish them, built here (vendor files cannot be
copied into the project). Each wrapper imitates one public description of a format:

- ``wrap_ikea``: IKEA TRÅDFRI "NGIS" signed container as zigpy reads and checks it
  (zigpy/ota/image.py ``parse_ota_image``: OTA offset at bytes 16-20, size at 20-24;
  zigpy/ota/providers.py ``SignedIkeaRemoteOtaImageMetadata._validate``: block size at
  32-36, block count at 36-40, one SHA-256 per block from byte 40, the OTA file right
  after them; a signature follows the image);
- ``wrap_ikea_unsigned``: the same container as zigpy's own test builds it (``wrap_ikea``
  in zigpy tests/ota/test_ota_image.py: a 100-byte header, 512 bytes after the image);
- ``wrap_legrand``: Legrand's 4-byte size prefix and 1 + 16-byte suffix (zigpy
  ``parse_ota_image`` and ``test_legrand_container_unwrapping``);
- ``wrap_third_reality``: Third Reality's 152-byte header opening with the SHA-512 of the
  rest (zigpy ``parse_ota_image`` and ``test_thirdreality_container``);
- ``wrap_unknown``: a short leading header of another kind, which Koenkk/zigbee-OTA and
  zigbee-herdsman-converters skip by searching for the file identifier.
"""

from __future__ import annotations

import hashlib
import struct

IKEA_BLOCK = 256


def wrap_ikea(ota: bytes, signature: bytes = b"S" * 64) -> bytes:
    count = -(-len(ota) // IKEA_BLOCK)
    offset = 40 + 32 * count
    header = bytearray(40)
    header[0:4] = b"NGIS"
    struct.pack_into("<IIII", header, 16, offset, len(ota), 0, 0)
    struct.pack_into("<II", header, 32, IKEA_BLOCK, count)
    hashes = b"".join(
        hashlib.sha256(ota[i * IKEA_BLOCK : (i + 1) * IKEA_BLOCK]).digest() for i in range(count)
    )
    return bytes(header) + hashes + ota + signature


def wrap_ikea_unsigned(ota: bytes) -> bytes:
    header = bytearray(100)
    header[0:4] = b"NGIS"
    header[16:20] = len(header).to_bytes(4, "little")
    header[20:24] = len(ota).to_bytes(4, "little")
    return bytes(header) + ota + b"F" * 512


def wrap_legrand(ota: bytes, digest: bytes = b"abcdabcdabcdabcd") -> bytes:
    return struct.pack("<I", len(ota)) + ota + b"\x01" + digest


def wrap_third_reality(ota: bytes) -> bytes:
    rest = (
        struct.pack("<III", 16, len(ota) + 152 - 64, 152)
        + b"?" * (64 + 4)
        + struct.pack("<II", 0, 0)
        + ota
    )
    return hashlib.sha512(rest).digest() + rest


def wrap_unknown(ota: bytes, header: bytes = b"VENDOR-HDR\x00\x01" + bytes(20)) -> bytes:
    return header + ota


CONTAINERS = {
    "IKEA TRÅDFRI NGIS container": wrap_ikea,
    "Legrand container": wrap_legrand,
    "Third Reality container": wrap_third_reality,
}
