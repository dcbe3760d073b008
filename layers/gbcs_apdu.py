"""GBCS framing: the General Signing APDU (0xDF) and the General Ciphering wrapper (0xDD).

Decoding keeps every field needed to re-encode the message byte for byte (the suite
compares what the CHF sends with what it should have sent) and remembers where the
signed part ends, because the signature covers the encoded bytes, not the decoded values.

The other-information field comes in every form the DCC's RTDS 4.5.0 holds: the message
code alone (2 bytes); with the supplementary remote party id (10); and its counter (18);
and a supplementary originator counter (26); or the remote party's key-agreement
certificate after the counter (more than 26). A pre-command (an unsigned command the DCC
returns for the supplier to sign) ends with its content: it has no signature field at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from construct import Int8ub, Int16ub, Int32ub, Int64ub, Struct
from hanota.layers.der import encode_value, read_length, read_tlv, read_value
from hanota.layers.model import DecodeError

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
COUNTER = Struct("value" / Int64ub)
MESSAGE_CODE_SIZE = 2
REMOTE_PARTY_ID_END = MESSAGE_CODE_SIZE + SYSTEM_TITLE_SIZE  # 10
REMOTE_PARTY_COUNTER_END = REMOTE_PARTY_ID_END + 8  # 18
ORIGINATOR_COUNTER_END = REMOTE_PARTY_COUNTER_END + 8  # 26
OTHER_INFORMATION_SIZES = (
    MESSAGE_CODE_SIZE, REMOTE_PARTY_ID_END, REMOTE_PARTY_COUNTER_END, ORIGINATOR_COUNTER_END
)
TAG_DER_SEQUENCE = 0x30
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

    The other-information fields after the message code are optional, each needing the
    one before it: the supplementary remote party id (commands and responses routed by
    the access control broker), its counter, then either a supplementary originator
    counter or the remote party's key-agreement certificate (DER, kept as it came).
    ``signature_field`` is False for a pre-command, which ends with its content; an
    unsigned message otherwise carries an empty signature (length 0x00).
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
    supplementary_originator_counter: int | None = None
    key_agreement_certificate: bytes | None = None
    signature_field: bool = True

    @property
    def transaction_id(self) -> bytes:
        """CRA flag and originator counter (9 bytes): a response repeats its command's
        counter, so this pairs them (with the CRA flag set apart)."""
        return TRANSACTION_ID.build(
            {"cra_flag": self.cra_flag, "originator_counter": self.originator_counter}
        )


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
    data: bytes, offset: int = 0, end: int | None = None, *, bare_apdu: bool = True
) -> tuple[GeneralSigning, int]:
    """Decode the 0xDF APDU at ``offset`` that must end exactly at ``end``.

    Returns the APDU and the offset where its content ends (where the signed part stops).
    A bare command (``bare_apdu``, not inside 0xDD) may end with its content: a
    pre-command. Every other APDU must carry the signature field, so a message cut just
    after its content is an error, not a pre-command.
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
    other_at = at
    other, at = read_value(data, at, end, "other_information")
    extra = _decode_other_information(data, other_at, at - len(other), other)
    content, content_end = read_value(data, at, end, "content")
    signature_field = content_end != end or not bare_apdu or ids.cra_flag != CRA_COMMAND
    signature, after = b"", content_end
    if signature_field:
        signature, after = _read_fixed(
            data, content_end, end, "signature", (0, SIGNATURE_SIZE)
        )
    if after != end:
        raise DecodeError(LAYER, "signature", after, f"{end - after} bytes after the signature")
    apdu = GeneralSigning(
        cra_flag=ids.cra_flag,
        originator_counter=ids.originator_counter,
        originator=_title(originator),
        recipient=_title(recipient),
        message_code=OTHER_INFORMATION.parse(other[:MESSAGE_CODE_SIZE]).message_code,
        content=content,
        date_time=date_time or None,
        signature=signature or None,
        signature_field=signature_field,
        **extra,
    )
    return apdu, content_end


def _decode_other_information(
    data: bytes, offset: int, value_at: int, other: bytes
) -> dict[str, object]:
    """The optional fields after the message code, by the field's length (2, 10, 18, 26,
    or 18 followed by a DER certificate)."""
    size = len(other)
    if size not in OTHER_INFORMATION_SIZES and size <= ORIGINATOR_COUNTER_END:
        raise DecodeError(
            LAYER, "other_information", offset,
            f"{size} bytes, expected 2, 10, 18, 26 or 18 followed by a certificate",
        )
    fields: dict[str, object] = {}
    if size >= REMOTE_PARTY_ID_END:
        fields["supplementary_remote_party_id"] = _title(
            other[MESSAGE_CODE_SIZE:REMOTE_PARTY_ID_END]
        )
    if size >= REMOTE_PARTY_COUNTER_END:
        fields["supplementary_remote_party_counter"] = COUNTER.parse(
            other[REMOTE_PARTY_ID_END:REMOTE_PARTY_COUNTER_END]
        ).value
    if size == ORIGINATOR_COUNTER_END:
        fields["supplementary_originator_counter"] = COUNTER.parse(
            other[REMOTE_PARTY_COUNTER_END:]
        ).value
    elif size > ORIGINATOR_COUNTER_END:
        certificate_at = value_at + REMOTE_PARTY_COUNTER_END
        end = value_at + size
        _, stop = read_tlv(data, certificate_at, end, TAG_DER_SEQUENCE,
                           "key_agreement_certificate")
        if stop != end:
            raise DecodeError(
                LAYER, "key_agreement_certificate", stop,
                f"{end - stop} bytes after the certificate in the other information",
            )
        fields["key_agreement_certificate"] = other[REMOTE_PARTY_COUNTER_END:]
    return fields


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
    return b"".join(
        (
            bytes([TAG_GENERAL_SIGNING]),
            encode_value(apdu.transaction_id),
            encode_value(_title_bytes(apdu.originator, "originator")),
            encode_value(_title_bytes(apdu.recipient, "recipient")),
            encode_value(apdu.date_time or b""),
            encode_value(encode_other_information(apdu)),
            encode_value(apdu.content),
        )
    )


def encode_other_information(apdu: GeneralSigning) -> bytes:
    """Message code, then each optional field present (each needs the one before it)."""
    last = (apdu.supplementary_originator_counter, apdu.key_agreement_certificate)
    if None not in last:
        raise ValueError("other information holds a supplementary originator counter or a "
                         "key-agreement certificate, not both")
    if apdu.supplementary_remote_party_counter is None and last != (None, None):
        raise ValueError("a supplementary originator counter or key-agreement certificate "
                         "needs the supplementary remote party counter")
    if apdu.supplementary_remote_party_id is None and \
            apdu.supplementary_remote_party_counter is not None:
        raise ValueError("the supplementary remote party counter needs its id")
    other = OTHER_INFORMATION.build({"message_code": apdu.message_code})
    if apdu.supplementary_remote_party_id is not None:
        other += _title_bytes(apdu.supplementary_remote_party_id, "remote party id")
    if apdu.supplementary_remote_party_counter is not None:
        other += COUNTER.build({"value": apdu.supplementary_remote_party_counter})
    if apdu.supplementary_originator_counter is not None:
        other += COUNTER.build({"value": apdu.supplementary_originator_counter})
    certificate = apdu.key_agreement_certificate
    if certificate is not None:
        # Shorter than a counter, or not a SEQUENCE, would decode as something else.
        if len(certificate) <= ORIGINATOR_COUNTER_END - REMOTE_PARTY_COUNTER_END or \
                certificate[0] != TAG_DER_SEQUENCE:
            raise ValueError("the key-agreement certificate must be a DER certificate")
        other += certificate
    return other


def encode_general_signing(apdu: GeneralSigning) -> bytes:
    """The whole 0xDF APDU, signature field included (0x00 when unsigned), or none at all
    for a pre-command."""
    if apdu.signature is not None and len(apdu.signature) != SIGNATURE_SIZE:
        raise ValueError(f"signature is {len(apdu.signature)} bytes, expected 64 (r‖s)")
    if not apdu.signature_field:
        if apdu.signature is not None:
            raise ValueError("a pre-command (no signature field) carries no signature")
        return encode_signed_part(apdu)
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
    apdu, content_end = decode_general_signing(data, inner_at, tag_at, bare_apdu=False)
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
