"""ZigBee CCM* security for the NWK and APS layers (ZigBee PRO, ENC-MIC-32).

Why this module exists on its own: both layers secure themselves the same way (auxiliary
header, nonce, authenticated header, 4-byte MIC) and differ only in which keys apply, so
one implementation serves both and the frame codec only says where the layer starts.

On the air the security level is 0; sender and receiver compute with level 5 patched
into the security control byte, the nonce and the authenticated data (zigbee-ota.md).
CCM* at level 5 is plain AES-128-CCM with a 4-byte tag and a 13-byte nonce, which
``cryptography``'s AESCCM computes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from hanota.layers.aesmmo import derived_key, install_code_link_key
from hanota.layers.fastinit import fast_constructor
from hanota.layers.model import DecodeError, MicFailure, Security

LEVEL_ENC_MIC_32 = 5
MIC_LENGTH = 4
KEY_ID_LINK = 0
KEY_ID_NETWORK = 1
KEY_ID_KEY_TRANSPORT = 2
KEY_ID_KEY_LOAD = 3
EXTENDED_NONCE = 0x20
KEY_LENGTH = 16
_ROLES = {"": "both", "nwk": "network", "network": "network", "link": "link", "aps": "link",
          "ic": "install_code", "install_code": "install_code"}
# The trust-centre link key every ZigBee 3.0 / HA device knows ("ZigBeeAlliance09"): a
# join with it sends the network key under a key anyone can derive (R22 4.6.3.4).
DEFAULT_TC_LINK_KEY = b"ZigBeeAlliance09"
_make_security = fast_constructor(Security)
_COUNTER = struct.Struct("<I")


class KeySource(Protocol):
    """What the frame decoder asks for keys: a ``KeyRing`` (fixed keys) or a capture's
    stateful decoder (``hanota.layers.dissector``), which adds the keys it learnt and the
    EUI-64s it saw."""

    def nwk_candidates(self, key_seq: int | None) -> Sequence[bytes]:
        """Network keys to try for a NWK frame with this key sequence number, best first."""
        ...

    def aps_candidates(self, key_id: int) -> Sequence[bytes]:
        """Keys to try for an APS frame with this aux-header key id."""
        ...

    def address64(self, short: int | None) -> str | None:
        """The EUI-64 known to own this short address (for a nonce), or None."""
        ...


@dataclass(frozen=True)
class KeyRing:
    """The keys a decoder may try and an encoder uses (the first of each role).

    Several keys per role because a capture can span a network key update or frames of
    several devices with their own link keys.
    """

    network_keys: tuple[bytes, ...] = ()
    link_keys: tuple[bytes, ...] = ()

    @classmethod
    def from_hex(cls, keys: Iterable[str]) -> KeyRing:
        """Keys as text: ``nwk:HEX``, ``link:HEX``, ``ic:HEX`` (an install code, with or
        without its CRC: the link key is derived from it) or bare ``HEX`` (tried in both
        roles).

        Separators ``:``, ``-`` and spaces inside the hex are ignored so keys can be pasted
        from Wireshark or a PIXIT file as they are written there.
        """
        network: list[bytes] = []
        link: list[bytes] = []
        for text in keys:
            role, separator, value = text.strip().partition(":")
            role = role.strip().lower()
            if not separator or role not in _ROLES:
                role, value = "", text
            if _ROLES[role] == "install_code":
                link.append(install_code_link_key(_hex_bytes(value)))
                continue
            key = _key_from_hex(value)
            if _ROLES[role] in ("both", "network"):
                network.append(key)
            if _ROLES[role] in ("both", "link"):
                link.append(key)
        return cls(tuple(dict.fromkeys(network)), tuple(dict.fromkeys(link)))

    def network_key(self) -> bytes:
        """The key an encoder secures NWK frames with."""
        if not self.network_keys:
            raise ValueError("NWK security requested but the key ring has no network key")
        return self.network_keys[0]

    def aps_key(self, key_id: int) -> bytes:
        """The key an encoder secures APS frames with, by aux-header key id."""
        if key_id == KEY_ID_NETWORK:
            return self.network_key()
        if not self.link_keys:
            raise ValueError("APS security requested but the key ring has no link key")
        if key_id == KEY_ID_LINK:
            return self.link_keys[0]
        return _derived(self.link_keys[0], key_id)

    def aps_candidates(self, key_id: int) -> tuple[bytes, ...]:
        """Keys a decoder tries for an APS frame with this key id."""
        if key_id == KEY_ID_NETWORK:
            return self.network_keys
        if key_id == KEY_ID_LINK:
            return self.link_keys
        return tuple(_derived(key, key_id) for key in self.link_keys)

    def nwk_candidates(self, key_seq: int | None) -> tuple[bytes, ...]:
        """A fixed ring knows no key sequence numbers: every network key, in order."""
        return self.network_keys

    def address64(self, short: int | None) -> str | None:
        """A fixed ring knows no addresses."""
        return None


def derived_aps_key(link_key: bytes, key_id: int) -> bytes:
    """The key an APS frame with ``key_id`` is secured with, from a link key: the link
    key itself (0), the key-transport key (2) or the key-load key (3)."""
    return link_key if key_id == KEY_ID_LINK else _derived(link_key, key_id)


def _hex_bytes(text: str) -> bytes:
    cleaned = "".join(ch for ch in text if ch not in ": -")
    try:
        return bytes.fromhex(cleaned)
    except ValueError as error:
        raise ValueError(f"key {text!r} is not hex") from error


def _key_from_hex(text: str) -> bytes:
    key = _hex_bytes(text)
    if len(key) != KEY_LENGTH:
        raise ValueError(f"key {text!r} has {len(key)} bytes, expected {KEY_LENGTH}")
    return key


@lru_cache(maxsize=64)
def _derived(link_key: bytes, key_id: int) -> bytes:
    """Key-transport / key-load key; cached because HMAC-MMO costs four AES passes."""
    return derived_key(link_key, key_id)


@lru_cache(maxsize=64)
def _ccm(key: bytes) -> AESCCM:
    """One AESCCM object per key: building it expands the key schedule (hot path)."""
    return AESCCM(key, tag_length=MIC_LENGTH)


def eui64_to_air(eui64: str) -> bytes:
    """``"00DB1234567890A2"`` to the 8 bytes as sent (little-endian)."""
    value = bytes.fromhex(eui64)
    if len(value) != 8:
        raise ValueError(f"EUI-64 {eui64!r} is not 16 hex digits")
    return value[::-1]


def eui64_from_air(data: bytes) -> str:
    """8 bytes as sent to the upper-case big-endian text form of hanota.layers.model."""
    return data[::-1].hex().upper()


def security_control(security: Security) -> int:
    """Security control byte as sent (level 0)."""
    if not 0 <= security.key_id <= 3:
        raise ValueError(f"key id {security.key_id} out of range 0..3")
    control = security.key_id << 3
    if security.source64 is not None:
        control |= EXTENDED_NONCE
    return control


def encode_aux_header(security: Security) -> bytes:
    """Auxiliary security header as sent: control, counter, [source64], [key seq]."""
    header = bytearray((security_control(security),))
    header += security.frame_counter.to_bytes(4, "little")
    if security.source64 is not None:
        header += eui64_to_air(security.source64)
    if security.key_id == KEY_ID_NETWORK:
        header.append(0 if security.key_seq is None else security.key_seq)
    return bytes(header)


def decode_aux_header(
    data: bytes, pos: int, end: int, layer: str, base: int = 0
) -> tuple[Security, int, int]:
    """Aux header at ``pos``: returns (Security, security control byte, position after).

    ``base`` maps positions in ``data`` to offsets of the raw frame for error messages.
    """
    if pos + 5 > end:
        raise DecodeError(layer, "security_control", base + pos, "truncated auxiliary header")
    control = data[pos]
    key_id = (control >> 3) & 3
    counter = _COUNTER.unpack_from(data, pos + 1)[0]
    pos += 5
    source64 = None
    if control & EXTENDED_NONCE:
        if pos + 8 > end:
            raise DecodeError(layer, "source64", base + pos, "truncated auxiliary header")
        source64 = data[pos : pos + 8][::-1].hex().upper()
        pos += 8
    key_seq = None
    if key_id == KEY_ID_NETWORK:
        if pos >= end:
            raise DecodeError(layer, "key_seq", base + pos, "truncated auxiliary header")
        key_seq = data[pos]
        pos += 1
    security = _make_security(
        key_id=key_id, frame_counter=counter, source64=source64, key_seq=key_seq
    )
    return security, control, pos


def _nonce(source64_air: bytes, counter: bytes, control: int) -> bytes:
    return source64_air + counter + bytes((control | LEVEL_ENC_MIC_32,))


def encrypt_layer(
    header: bytes, security: Security, nonce_source64: str, key: bytes, plaintext: bytes
) -> bytes:
    """``header`` (security bit already set) + aux header + ciphertext + MIC.

    ``nonce_source64`` is the sender's EUI-64, used when the aux header carries none.
    """
    aux = encode_aux_header(security)
    control = aux[0]
    source = security.source64 if security.source64 is not None else nonce_source64
    nonce = _nonce(eui64_to_air(source), aux[1:5], control)
    aad = header + bytes((control | LEVEL_ENC_MIC_32,)) + aux[1:]
    return header + aux + _ccm(key).encrypt(nonce, plaintext, aad)


def open_layer(
    data: bytes,
    start: int,
    aux_pos: int,
    payload_pos: int,
    end: int,
    keys: Iterable[bytes],
    sources: Sequence[bytes],
    layer: str,
    base: int = 0,
) -> bytes:
    """Decrypt and authenticate the layer that starts at ``start``, whose aux header
    (already decoded) spans ``aux_pos:payload_pos``; returns the plaintext.

    ``sources`` are the candidate nonce sources (EUI-64s in air order): the aux header's
    own when it has one, else what the caller knows of the sender. Raises MicFailure
    when no key and source verify the MIC (including when there is none to try), so a
    wrong key is never mistaken for a decoded frame.
    """
    if payload_pos + MIC_LENGTH > end:
        raise DecodeError(layer, "mic", base + payload_pos, "truncated: no room for the MIC")
    if not sources:
        raise MicFailure(layer, base + aux_pos, "no source EUI-64 known for the nonce")
    patched = bytes((data[aux_pos] | LEVEL_ENC_MIC_32,))
    counter = data[aux_pos + 1 : aux_pos + 5]
    aad = data[start:aux_pos] + patched + data[aux_pos + 1 : payload_pos]
    sealed = data[payload_pos:end]
    for source in sources:
        nonce = source + counter + patched
        for key in keys:
            try:
                return _ccm(key).decrypt(nonce, sealed, aad)
            except InvalidTag:
                continue
    raise MicFailure(layer, base + end - MIC_LENGTH, "MIC failure: no key verifies the frame")
