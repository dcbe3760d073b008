"""The Smart Energy signing sub-elements of an OTA file, parsed into their fields.

Crypto suite 1 (ECDSA on sect163k1): tag 0x0001 signature (signer IEEE address, r, s:
8 + 21 + 21 bytes) and tag 0x0002 signing certificate, the 48-byte ECQV implicit
certificate (public-key reconstruction data 22, subject 8, issuer 8, profile attribute
data 10). Crypto suite 2 (sect283k1): tag 0x0005 signature (8 + 36 + 36) and tag 0x0006,
the 74-byte implicit certificate (type 1, serial 8, curve 1, hash 1, issuer 8, valid
from 5, valid to 4, subject 8, key usage 1, public-key reconstruction data 37). Sources:
ZigBee OTA Upgrade cluster specification (sub-element formats); the certificate layouts
as Silicon Labs' EmberZNet (CERT_SUBJECT_OFFSET_283K1 = 1+8+1+1+8+5+4) and zsmartsystems'
ZigBeeCryptoSuite1Certificate read them.

Why parsed but not verified: see the README, "OTA files from vendors". In short, the
public key is an ECQV implicit certificate on a Koblitz binary curve, reconstructed with
the certificate authority's root key, and neither the binary-curve arithmetic (OpenSSL 3
via ``cryptography`` no longer offers those curves) nor public test vectors are available.

Byte order: the signer IEEE address is a ZigBee field, little-endian like every EUI-64 on
the HAN; identifiers inside a certificate are stored big-endian (Certicom's format).
Both are given as text in hanota.layers.model's convention (16 upper-case hex digits).
"""

from __future__ import annotations

from dataclasses import dataclass

from hanota.layers.model import DecodeError
from hanota.layers.otafile import (
    ELEMENT_HEADER_SIZE,
    LAYER,
    TAG_ECDSA_CERTIFICATE_SUITE_1,
    TAG_ECDSA_CERTIFICATE_SUITE_2,
    TAG_ECDSA_SIGNATURE_SUITE_1,
    TAG_ECDSA_SIGNATURE_SUITE_2,
    OtaFile,
    SubElement,
    header_length_for,
)

SIGNER_SIZE = 8
SUITE_1_SCALAR = 21  # sect163k1 group order: 163 bits
SUITE_2_SCALAR = 36  # sect283k1 group order: 281 bits
SUITE_1_CERTIFICATE_SIZE = 48
SUITE_2_CERTIFICATE_SIZE = 74


@dataclass(frozen=True, slots=True)
class EcdsaSignature:
    """Tag 0x0001 (suite 1) or 0x0005 (suite 2): who signed, and the signature (r, s)."""

    suite: int
    signer: str
    r: int
    s: int


@dataclass(frozen=True, slots=True)
class Suite1Certificate:
    """Tag 0x0002: the signer's 48-byte ECQV implicit certificate (sect163k1)."""

    public_key_reconstruction: bytes
    subject: str
    issuer: str
    profile_attribute_data: bytes


@dataclass(frozen=True, slots=True)
class Suite2Certificate:
    """Tag 0x0006: the signer's 74-byte ECQV implicit certificate (sect283k1).

    ``valid_from`` (40 bits) and ``valid_to`` (32 bits) are the integers as stored.
    """

    certificate_type: int
    serial: int
    curve: int
    hash: int
    issuer: str
    valid_from: int
    valid_to: int
    subject: str
    key_usage: int
    public_key_reconstruction: bytes


SigningElement = EcdsaSignature | Suite1Certificate | Suite2Certificate


def _big(data: bytes) -> str:
    return data.hex().upper()


def _signature(suite: int, data: bytes) -> EcdsaSignature:
    scalar = SUITE_1_SCALAR if suite == 1 else SUITE_2_SCALAR
    r = data[SIGNER_SIZE : SIGNER_SIZE + scalar]
    s = data[SIGNER_SIZE + scalar :]
    return EcdsaSignature(suite, data[:SIGNER_SIZE][::-1].hex().upper(),
                          int.from_bytes(r, "big"), int.from_bytes(s, "big"))


def _suite_1_certificate(data: bytes) -> Suite1Certificate:
    return Suite1Certificate(data[:22], _big(data[22:30]), _big(data[30:38]), data[38:48])


def _suite_2_certificate(data: bytes) -> Suite2Certificate:
    return Suite2Certificate(
        certificate_type=data[0],
        serial=int.from_bytes(data[1:9], "big"),
        curve=data[9],
        hash=data[10],
        issuer=_big(data[11:19]),
        valid_from=int.from_bytes(data[19:24], "big"),
        valid_to=int.from_bytes(data[24:28], "big"),
        subject=_big(data[28:36]),
        key_usage=data[36],
        public_key_reconstruction=data[37:74],
    )


_FORMATS = {
    TAG_ECDSA_SIGNATURE_SUITE_1: (SIGNER_SIZE + 2 * SUITE_1_SCALAR, lambda d: _signature(1, d)),
    TAG_ECDSA_CERTIFICATE_SUITE_1: (SUITE_1_CERTIFICATE_SIZE, _suite_1_certificate),
    TAG_ECDSA_SIGNATURE_SUITE_2: (SIGNER_SIZE + 2 * SUITE_2_SCALAR, lambda d: _signature(2, d)),
    TAG_ECDSA_CERTIFICATE_SUITE_2: (SUITE_2_CERTIFICATE_SIZE, _suite_2_certificate),
}


def parse_signing_element(element: SubElement, offset: int = 0) -> SigningElement:
    """The fields of a signature or certificate element; ``offset`` is where its tag is in
    the file, for the DecodeError raised when its length is not the format's."""
    if element.tag not in _FORMATS:
        raise ValueError(f"tag 0x{element.tag:04X} is not a signature or certificate element")
    size, parse = _FORMATS[element.tag]
    if len(element.data) != size:
        raise DecodeError(
            LAYER, "element_length", offset + 2,
            f"{len(element.data)} bytes for tag 0x{element.tag:04X}, its format is {size}",
        )
    return parse(element.data)


def signing_elements(ota: OtaFile) -> list[SigningElement]:
    """Every signature and certificate element of ``ota``, parsed, in file order."""
    parsed: list[SigningElement] = []
    offset = header_length_for(ota.field_control)
    for element in ota.elements:
        if element.tag in _FORMATS:
            parsed.append(parse_signing_element(element, offset))
        offset += ELEMENT_HEADER_SIZE + len(element.data)
    return parsed
