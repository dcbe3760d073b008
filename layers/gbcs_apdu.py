"""GBCS framing: the General Signing APDU (0xDF) and the General Ciphering wrapper (0xDD).

Decoding keeps every field needed to re-encode the message byte for byte (the suite
compares what the CHF sends with what it should have sent) and remembers where the
signed part ends, because the signature covers the encoded bytes, not the decoded values.
"""

from __future__ import annotations

from dataclasses import dataclass

from construct import Int8ub, Int16ub, Int32ub, Int64ub, Struct

from layers.der import encode_value, read_length, read_value
from layers.model import DecodeError

LAYER = "gbcs"
TAG_GENERAL_SIGNING = 0xDF
TAG_GENERAL_CIPHERING = 0xDD

CRA_COMMAND = 1
CRA_RESPONSE = 2
CRA_ALERT = 3

SYSTEM_TITLE_SIZE = 8
DATE_TIME_SIZE = 12
SIGNATURE_SIZE = 64
GMAC_TAG_SIZE = 12
SECURITY_HEADER_AUTHENTICATED = 0x11

TRANSACTION_ID = Struct("cra_flag" / Int8ub, "originator_counter" / Int64ub)
OTHER_INFORMATION = Struct("message_code" / Int16ub)
SUPPLEMENTARY_REMOTE_PARTY = Struct("id" / Int64ub, "counter" / Int64ub)
CIPHERING_SECURITY = Struct("security_header" / Int8ub, "invocation_counter" / Int32ub)

# Fields of the 0xDD wrapper that GBCS leaves empty; key-info is absent (0x00).
CIPHERING_EMPTY_FIELDS = (
    "transaction_id",
    "originator_system_title",
    "recipient_system_title",
    "date_time",
    "other_information",
)


@dataclass(frozen=True, slots=True)
class GeneralSigning:
    """A 0xDF APDU. System titles are 16 upper-case hex digits; ``date_time`` is the
    12-byte COSEM date-time or None; ``signature`` is raw r‖s (64 bytes) or None.

    The supplementary remote party id and counter are present (both) when the other
    information field carries them, as it does on commands routed by the CHF.
    """

    cra_flag: int
    originator_counter: int
    originator: str
    recipient: str
    message_code: int
    content: bytes
    date_time: bytes | None = None
    supplementary_remote_party_id: str | None = None
    supplementary_remote_party_counter: int | None = None
    signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class GeneralCiphering:
    """A 0xDD wrapper: security header, invocation counter, inner APDU, GMAC tag (kept)."""

    security_header: int
    invocation_counter: int
    apdu: GeneralSigning
    gmac_tag: bytes


def _title(data: bytes) -> str:
    return data.hex().upper()


def _read_fixed(
    data: bytes, offset: int, end: int, field: str, sizes: tuple[int, ...]
) -> tuple[bytes, int]:
    value, after = read_value(data, offset, end, field)
    if len(value) not in sizes:
        expected = " or ".join(str(size) for size in sizes)
        raise DecodeError(LAYER, field, offset, f"{len(value)} bytes, expected {expected}")
    return value, after


def decode_general_signing(
    data: bytes, offset: int = 0, end: int | None = None
) -> tuple[GeneralSigning, int]:
    """Decode the 0xDF APDU at ``offset`` that must end exactly at ``end``.

    Returns the APDU and the offset where its content ends (where the signed part stops).
    """
    end = len(data) if end is None else end
    if offset >= end or data[offset] != TAG_GENERAL_SIGNING:
        found = f"0x{data[offset]:02X}" if offset < end else "nothing"
        raise DecodeError(LAYER, "general_signing_tag", offset, f"{found}, expected 0xDF")
    transaction, at = _read_fixed(data, offset + 1, end, "transaction_id", (9,))
    ids = TRANSACTION_ID.parse(transaction)
    if ids.cra_flag not in (CRA_COMMAND, CRA_RESPONSE, CRA_ALERT):
        raise DecodeError(LAYER, "cra_flag", at - 9, f"{ids.cra_flag}, expected 1, 2 or 3")
    originator, at = _read_fixed(data, at, end, "originator_system_title", (8,))
    recipient, at = _read_fixed(data, at, end, "recipient_system_title", (8,))
    date_time, at = _read_fixed(data, at, end, "date_time", (0, DATE_TIME_SIZE))
    other, at = _read_fixed(data, at, end, "other_information", (2, 18))
    content, content_end = read_value(data, at, end, "content")
    signature, after = _read_fixed(data, content_end, end, "signature", (0, SIGNATURE_SIZE))
    if after != end:
        raise DecodeError(LAYER, "signature", after, f"{end - after} bytes after the signature")
    party = SUPPLEMENTARY_REMOTE_PARTY.parse(other[2:]) if len(other) == 18 else None
    apdu = GeneralSigning(
        cra_flag=ids.cra_flag,
        originator_counter=ids.originator_counter,
        originator=_title(originator),
        recipient=_title(recipient),
        message_code=OTHER_INFORMATION.parse(other[:2]).message_code,
        content=content,
        date_time=date_time or None,
        supplementary_remote_party_id=f"{party.id:016X}" if party else None,
        supplementary_remote_party_counter=party.counter if party else None,
        signature=signature or None,
    )
    return apdu, content_end


def _title_bytes(title: str, field: str) -> bytes:
    raw = bytes.fromhex(title)
    if len(raw) != SYSTEM_TITLE_SIZE:
        raise ValueError(f"{field} {title!r} is not 8 bytes (16 hex digits)")
    return raw


def encode_signed_part(apdu: GeneralSigning) -> bytes:
    """The 0xDF tag and every field up to the end of the content (what is signed, plus
    the tag)."""
    if apdu.date_time is not None and len(apdu.date_time) != DATE_TIME_SIZE:
        raise ValueError(f"date_time is {len(apdu.date_time)} bytes, expected 12")
    has_party = apdu.supplementary_remote_party_id is not None
    if has_party != (apdu.supplementary_remote_party_counter is not None):
        raise ValueError("supplementary remote party id and counter go together")
    other = OTHER_INFORMATION.build({"message_code": apdu.message_code})
    if apdu.supplementary_remote_party_id is not None:
        other += SUPPLEMENTARY_REMOTE_PARTY.build(
            {
                "id": int.from_bytes(
                    _title_bytes(apdu.supplementary_remote_party_id, "remote party id"), "big"
                ),
                "counter": apdu.supplementary_remote_party_counter,
            }
        )
    transaction = TRANSACTION_ID.build(
        {"cra_flag": apdu.cra_flag, "originator_counter": apdu.originator_counter}
    )
    return b"".join(
        (
            bytes([TAG_GENERAL_SIGNING]),
            encode_value(transaction),
            encode_value(_title_bytes(apdu.originator, "originator")),
            encode_value(_title_bytes(apdu.recipient, "recipient")),
            encode_value(apdu.date_time or b""),
            encode_value(other),
            encode_value(apdu.content),
        )
    )


def encode_general_signing(apdu: GeneralSigning) -> bytes:
    """The whole 0xDF APDU, signature field included (0x00 when unsigned)."""
    if apdu.signature is not None and len(apdu.signature) != SIGNATURE_SIZE:
        raise ValueError(f"signature is {len(apdu.signature)} bytes, expected 64 (r‖s)")
    return encode_signed_part(apdu) + encode_value(apdu.signature or b"")


def decode_general_ciphering(data: bytes) -> tuple[GeneralCiphering, int, int]:
    """Decode a 0xDD wrapper spanning all of ``data``.

    Returns the wrapper, the offset of the inner 0xDF APDU and where its content ends.
    """
    if not data or data[0] != TAG_GENERAL_CIPHERING:
        found = f"0x{data[0]:02X}" if data else "nothing"
        raise DecodeError(LAYER, "general_ciphering_tag", 0, f"{found}, expected 0xDD")
    at = 1
    for field in CIPHERING_EMPTY_FIELDS:
        value, after = read_value(data, at, len(data), field)
        if value:
            raise DecodeError(LAYER, field, at, f"{len(value)} bytes: GBCS leaves it empty")
        at = after
    if at >= len(data) or data[at] != 0x00:
        raise DecodeError(LAYER, "key_info", at, "key-info must be absent (0x00) in GBCS")
    ciphered_at = at + 1
    length, start = read_length(data, ciphered_at, len(data), "ciphered_content")
    if start + length != len(data):
        raise DecodeError(
            LAYER,
            "ciphered_content",
            ciphered_at,
            f"length {length}, but {len(data) - start} bytes follow it",
        )
    inner_at = start + CIPHERING_SECURITY.sizeof()
    tag_at = len(data) - GMAC_TAG_SIZE
    if tag_at < inner_at:
        raise DecodeError(
            LAYER,
            "ciphered_content",
            ciphered_at,
            f"{length} bytes cannot hold security header, counter and a 12-byte GMAC tag",
        )
    security = CIPHERING_SECURITY.parse(data[start:inner_at])
    apdu, content_end = decode_general_signing(data, inner_at, tag_at)
    wrapper = GeneralCiphering(
        security_header=security.security_header,
        invocation_counter=security.invocation_counter,
        apdu=apdu,
        gmac_tag=data[tag_at:],
    )
    return wrapper, inner_at, content_end


def encode_general_ciphering(wrapper: GeneralCiphering) -> bytes:
    """The 0xDD wrapper around the re-encoded inner APDU, GMAC tag as it was given."""
    if len(wrapper.gmac_tag) != GMAC_TAG_SIZE:
        raise ValueError(f"GMAC tag is {len(wrapper.gmac_tag)} bytes, expected 12")
    ciphered = (
        CIPHERING_SECURITY.build(
            {
                "security_header": wrapper.security_header,
                "invocation_counter": wrapper.invocation_counter,
            }
        )
        + encode_general_signing(wrapper.apdu)
        + wrapper.gmac_tag
    )
    return (
        bytes([TAG_GENERAL_CIPHERING])
        + bytes(len(CIPHERING_EMPTY_FIELDS) + 1)
        + encode_value(ciphered)
    )
