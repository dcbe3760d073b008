"""AES-MMO hash (ZigBee spec B.6) and the keys built on it.

One implementation serves the install-code link key, the key-transport/key-load keys
(HMAC on AES-MMO) and the OTA file's image integrity code (tag 0x0003).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
KEY_TRANSPORT_INPUT = 0x00
KEY_LOAD_INPUT = 0x02


def _pad(message: bytes) -> bytes:
    """Merkle-Damgard strengthening as ZigBee defines it (16-bit or 32-bit length field)."""
    bits = len(message) * 8
    padded = message + b"\x80"
    if bits < 1 << 16:
        padded += b"\x00" * ((14 - len(padded)) % BLOCK)
        return padded + bits.to_bytes(2, "big")
    padded += b"\x00" * ((10 - len(padded)) % BLOCK)
    return padded + bits.to_bytes(4, "big") + b"\x00\x00"


def aes_mmo(message: bytes) -> bytes:
    """Hash ``message``: each block is encrypted under the running hash, then XORed in."""
    digest = bytes(BLOCK)
    padded = _pad(message)
    for start in range(0, len(padded), BLOCK):
        block = padded[start : start + BLOCK]
        encryptor = Cipher(algorithms.AES(digest), modes.ECB()).encryptor()
        cipher = encryptor.update(block)
        digest = bytes(a ^ b for a, b in zip(cipher, block, strict=True))
    return digest


def hmac_mmo(key: bytes, message: bytes) -> bytes:
    """HMAC (RFC 2104) with AES-MMO as the hash and a 16-byte block."""
    if len(key) > BLOCK:
        key = aes_mmo(key)
    key = key.ljust(BLOCK, b"\x00")
    inner = aes_mmo(bytes(b ^ 0x36 for b in key) + message)
    return aes_mmo(bytes(b ^ 0x5C for b in key) + inner)


def derived_key(link_key: bytes, key_id: int) -> bytes:
    """Key for APS key id 2 (key-transport) or 3 (key-load), derived from the link key."""
    if key_id == 2:
        return hmac_mmo(link_key, bytes([KEY_TRANSPORT_INPUT]))
    if key_id == 3:
        return hmac_mmo(link_key, bytes([KEY_LOAD_INPUT]))
    raise ValueError(f"key id {key_id} has no derived key (only 2 and 3 do)")


def crc16_x25(data: bytes) -> int:
    """CRC-16/X-25, the checksum appended (little-endian) to a ZigBee install code."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def install_code_link_key(install_code: bytes) -> bytes:
    """Link key from an install code given without or with its CRC (checked if present)."""
    if len(install_code) in (8, 10, 14, 18):
        code, crc = install_code[:-2], int.from_bytes(install_code[-2:], "little")
        if crc16_x25(code) != crc:
            raise ValueError(f"install code CRC is 0x{crc:04X}, expected 0x{crc16_x25(code):04X}")
    elif len(install_code) in (6, 8, 12, 16):
        code = install_code
    else:
        raise ValueError(f"install code of {len(install_code)} bytes: expected 6, 8, 12 or 16")
    return aes_mmo(code + crc16_x25(code).to_bytes(2, "little"))
