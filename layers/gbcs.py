"""GBCS messages of SECMP0007: decode, re-encode, sign, verify, and build the CHF's alerts.

The entry point for the suite is ``decode_gbcs`` (0xDF or 0xDD, payload decoded by message
code). The CHF emulator builds its alerts with ``build_ccs08_alert`` / ``build_cs08_alert``
/ ``build_cs08_response``, signed with its test key (VER-6). Keys and certificates come in
as PEM bytes: this layer does no I/O.

Signature (GBCS, checked on the RTDS CCS08 vector): ECDSA P-256 over SHA-256 of every byte
after the 0xDF tag up to the end of the content, carried as raw r‖s after a length 0x40.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hanota.layers.der import encode_value
from hanota.layers.gbcs_apdu import (
    CRA_ALERT,
    CRA_COMMAND,
    CRA_RESPONSE,
    TAG_GENERAL_CIPHERING,
    TAG_GENERAL_SIGNING,
    GeneralCiphering,
    GeneralSigning,
    decode_general_ciphering,
    decode_general_signing,
    encode_general_ciphering,
    encode_general_signing,
    encode_signed_part,
)
from hanota.layers.gbcs_payloads import (
    ACTIVATE_IMAGE_FAILURE,
    ACTIVATE_IMAGE_SUCCESS,
    ALERT_FIRMWARE_TRANSFER_FAIL,
    ALERT_FIRMWARE_TRANSFER_SUCCESS,
    ALERT_READ_FIRMWARE_VERSION,
    CCS08_FILE_TRANSFER_FAILURE,
    CCS08_HARDWARE_VERSION_MISMATCH,
    CCS08_IMAGE_DISCARDED,
    CCS08_SUCCESS,
    CS08_READ_FAILURE,
    CS08_READ_SUCCESS,
    MESSAGE_CODE_CCS08,
    MESSAGE_CODE_CS08,
    Ccs08Alert,
    Cs08Alert,
    Cs08Command,
    Cs08Response,
    Payload,
    decode_payload,
    encode_payload,
)
from hanota.layers.model import DecodeError

__all__ = [
    "ACTIVATE_IMAGE_FAILURE",
    "ACTIVATE_IMAGE_SUCCESS",
    "ALERT_FIRMWARE_TRANSFER_FAIL",
    "ALERT_FIRMWARE_TRANSFER_SUCCESS",
    "ALERT_READ_FIRMWARE_VERSION",
    "CCS08_FILE_TRANSFER_FAILURE",
    "CCS08_HARDWARE_VERSION_MISMATCH",
    "CCS08_IMAGE_DISCARDED",
    "CCS08_SUCCESS",
    "CRA_ALERT",
    "CRA_COMMAND",
    "CRA_RESPONSE",
    "CS08_READ_FAILURE",
    "CS08_READ_SUCCESS",
    "MESSAGE_CODE_CCS08",
    "MESSAGE_CODE_CS08",
    "Ccs08Alert",
    "Cs08Alert",
    "Cs08Command",
    "Cs08Response",
    "GbcsMessage",
    "GeneralCiphering",
    "GeneralSigning",
    "build_ccs08_alert",
    "build_cs08_alert",
    "build_cs08_response",
    "build_general_signing",
    "decode_gbcs",
    "encode_gbcs",
    "load_certificate_pem",
    "load_private_key_pem",
    "sign_apdu",
    "verify_apdu",
]

LAYER = "gbcs"
PublicKeyOrCertificate = ec.EllipticCurvePublicKey | x509.Certificate


@dataclass(frozen=True, slots=True)
class GbcsMessage:
    """A decoded GBCS message: the 0xDF APDU, its 0xDD wrapper if any, the payload.

    ``payload`` is None for message codes the suite does not model.
    """

    apdu: GeneralSigning
    payload: Payload | None
    ciphering: GeneralCiphering | None = None


def _locate_apdu(data: bytes) -> tuple[GeneralSigning, GeneralCiphering | None, int, int]:
    """Decode the framing; return apdu, wrapper, APDU start offset, content end offset."""
    if not data:
        raise DecodeError(LAYER, "tag", 0, "empty message")
    if data[0] == TAG_GENERAL_SIGNING:
        apdu, content_end = decode_general_signing(data)
        return apdu, None, 0, content_end
    if data[0] == TAG_GENERAL_CIPHERING:
        wrapper, inner_at, content_end = decode_general_ciphering(data)
        return wrapper.apdu, wrapper, inner_at, content_end
    raise DecodeError(LAYER, "tag", 0, f"0x{data[0]:02X}, expected 0xDF or 0xDD")


def decode_gbcs(data: bytes) -> GbcsMessage:
    """Decode a General Signing (0xDF) or General Ciphering (0xDD) message and its payload."""
    apdu, wrapper, _, content_end = _locate_apdu(data)
    content_at = content_end - len(apdu.content)
    payload = decode_payload(apdu.message_code, apdu.cra_flag, data, content_at, content_end)
    return GbcsMessage(apdu=apdu, payload=payload, ciphering=wrapper)


def encode_gbcs(message: GbcsMessage) -> bytes:
    """Re-encode a decoded message: the APDU (and wrapper) as they are, payload from the
    APDU's content bytes (so an undecoded payload survives)."""
    if message.ciphering is not None:
        return encode_general_ciphering(message.ciphering)
    return encode_general_signing(message.apdu)


def load_private_key_pem(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM bytes (PKCS#8 or SEC1), refusing any other curve."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("GBCS signing keys are ECDSA P-256")
    return key


def load_certificate_pem(pem: bytes) -> x509.Certificate:
    """An X.509 certificate from PEM bytes; its key must be P-256."""
    certificate = x509.load_pem_x509_certificate(pem)
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("GBCS digital-signing certificates carry an ECDSA P-256 key")
    return certificate


def _signature_bytes(private_key: ec.EllipticCurvePrivateKey, signed: bytes) -> bytes:
    r, s = decode_dss_signature(private_key.sign(signed, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def sign_apdu(unsigned: bytes, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Sign a 0xDF APDU: any signature it has is replaced by a fresh raw r‖s."""
    if not unsigned or unsigned[0] != TAG_GENERAL_SIGNING:
        raise ValueError("sign_apdu signs a General Signing APDU (0xDF)")
    _, content_end = decode_general_signing(unsigned)
    signed_part = unsigned[:content_end]
    return signed_part + encode_value(_signature_bytes(private_key, signed_part[1:]))


def verify_apdu(data: bytes, public_key_or_cert: PublicKeyOrCertificate) -> bool:
    """Whether the APDU (bare or inside 0xDD) carries a valid signature by this key.

    An unsigned APDU is not valid: the caller asks ``apdu.signature is None`` to tell the
    two apart.
    """
    apdu, _, apdu_at, content_end = _locate_apdu(data)
    if apdu.signature is None:
        return False
    key = (
        public_key_or_cert.public_key()
        if isinstance(public_key_or_cert, x509.Certificate)
        else public_key_or_cert
    )
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("GBCS signatures are checked with an ECDSA key")
    r = int.from_bytes(apdu.signature[:32], "big")
    s = int.from_bytes(apdu.signature[32:], "big")
    try:
        key.verify(
            encode_dss_signature(r, s),
            data[apdu_at + 1 : content_end],
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature:
        return False
    return True


def build_general_signing(
    apdu: GeneralSigning, private_key: ec.EllipticCurvePrivateKey | None
) -> bytes:
    """Encode ``apdu`` (its ``signature`` ignored) and sign it, or leave it unsigned."""
    signed_part = encode_signed_part(apdu)
    if private_key is None:
        return signed_part + encode_value(b"")
    return signed_part + encode_value(_signature_bytes(private_key, signed_part[1:]))


def _version_bytes(firmware_version: int | bytes) -> bytes:
    """An OTA file version (int) as the 4-byte OCTET STRING GBCS carries, big-endian."""
    if isinstance(firmware_version, int):
        return firmware_version.to_bytes(4, "big")
    return firmware_version


def _alert(
    originator: str,
    recipient: str,
    counter: int,
    cra_flag: int,
    message_code: int,
    payload: Payload,
    private_key: ec.EllipticCurvePrivateKey | None,
) -> bytes:
    apdu = GeneralSigning(
        cra_flag=cra_flag,
        originator_counter=counter,
        originator=originator,
        recipient=recipient,
        message_code=message_code,
        content=encode_payload(payload),
    )
    return build_general_signing(apdu, private_key)


def build_ccs08_alert(
    *,
    originator: str,
    recipient: str,
    counter: int,
    time: datetime,
    alert_code: int,
    entity_id: str,
    firmware_version: int | bytes,
    response_code: int,
    private_key: ec.EllipticCurvePrivateKey | None,
) -> bytes:
    """CCS08 Firmware Transfer Alert (VER-3) as a 0xDF alert, signed unless key is None."""
    payload = Ccs08Alert(
        alert_code=alert_code,
        execution_date_time=time,
        entity_id=entity_id.upper(),
        firmware_version=_version_bytes(firmware_version),
        response_code=response_code,
    )
    return _alert(
        originator, recipient, counter, CRA_ALERT, MESSAGE_CODE_CCS08, payload, private_key
    )


def build_cs08_alert(
    *,
    originator: str,
    recipient: str,
    counter: int,
    time: datetime,
    firmware_version: int | bytes,
    activate_image: int,
    private_key: ec.EllipticCurvePrivateKey | None,
    alert_code: int = ALERT_READ_FIRMWARE_VERSION,
) -> bytes:
    """CS08 Read Firmware Version alert 0x8F8B (VER-2) as a 0xDF alert."""
    payload = Cs08Alert(
        alert_code=alert_code,
        execution_date_time=time,
        firmware_version=_version_bytes(firmware_version),
        activate_image=activate_image,
    )
    return _alert(
        originator, recipient, counter, CRA_ALERT, MESSAGE_CODE_CS08, payload, private_key
    )


def build_cs08_response(
    *,
    originator: str,
    recipient: str,
    counter: int,
    firmware_version: int | bytes,
    response_code: int,
    private_key: ec.EllipticCurvePrivateKey | None,
    supplementary_remote_party_id: str | None = None,
    supplementary_remote_party_counter: int | None = None,
) -> bytes:
    """CS08 response (VER-4) as a bare 0xDF APDU with CRA flag 2.

    The RTDS response echoes the command's supplementary remote party id and counter in
    its other information; pass them to do the same. The 0xDD wrapper and its GMAC need
    the key-agreement keys and are not built here.
    """
    apdu = GeneralSigning(
        cra_flag=CRA_RESPONSE,
        originator_counter=counter,
        originator=originator,
        recipient=recipient,
        message_code=MESSAGE_CODE_CS08,
        content=encode_payload(Cs08Response(_version_bytes(firmware_version), response_code)),
        supplementary_remote_party_id=supplementary_remote_party_id,
        supplementary_remote_party_counter=supplementary_remote_party_counter,
    )
    return build_general_signing(apdu, private_key)
