"""The use-case payloads SECMP0007 needs: CCS08 (0x0128) and CS08 (0x0129), ASN.1 DER.

These are what the CHF reports about an OTA run (VER-2..VER-4), so the field names are
the ones the verdicts and the CLI print. ``firmware_version`` stays ``bytes`` because GBCS
carries it as an OCTET STRING (4 bytes: the OTA file version, big-endian).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hanota.layers.der import (
    NULL,
    TAG_SEQUENCE,
    encode_generalized_time,
    encode_integer,
    encode_octet_string,
    encode_tlv,
    read_generalized_time,
    read_integer,
    read_octet_string,
    read_tlv,
)
from hanota.layers.gbcs_apdu import CRA_ALERT, CRA_COMMAND, CRA_RESPONSE
from hanota.layers.model import DecodeError

LAYER = "gbcs"
MESSAGE_CODE_CCS08 = 0x0128
MESSAGE_CODE_CS08 = 0x0129

ALERT_FIRMWARE_TRANSFER_FAIL = 0x8F89
ALERT_FIRMWARE_TRANSFER_SUCCESS = 0x8F8A
ALERT_READ_FIRMWARE_VERSION = 0x8F8B

CCS08_SUCCESS = 0
CCS08_IMAGE_DISCARDED = 1
CCS08_HARDWARE_VERSION_MISMATCH = 2
CCS08_FILE_TRANSFER_FAILURE = 3

CS08_READ_SUCCESS = 0
CS08_READ_FAILURE = 1
ACTIVATE_IMAGE_SUCCESS = 0
ACTIVATE_IMAGE_FAILURE = 1


@dataclass(frozen=True, slots=True)
class Ccs08Alert:
    """CCS08 Firmware Transfer Alert: what happened to one image on the HAN."""

    alert_code: int
    execution_date_time: datetime
    entity_id: str
    firmware_version: bytes
    response_code: int


@dataclass(frozen=True, slots=True)
class Cs08Command:
    """CS08 / SR 11.2 Read PPMID/HCALCS Firmware Version command: ASN.1 NULL."""


@dataclass(frozen=True, slots=True)
class Cs08Response:
    """CS08 response: the version the CHF read back and whether the read worked."""

    firmware_version: bytes
    response_code: int


@dataclass(frozen=True, slots=True)
class Cs08Alert:
    """CS08 alert 0x8F8B after an activation: version read and whether it is the image's."""

    alert_code: int
    execution_date_time: datetime
    firmware_version: bytes
    activate_image: int


Payload = Ccs08Alert | Cs08Command | Cs08Response | Cs08Alert


def encode_payload(payload: Payload) -> bytes:
    """DER of a use-case payload."""
    match payload:
        case Ccs08Alert():
            if len(payload.firmware_version) != 4:
                raise ValueError("CCS08 firmware_version is OCTET STRING (4)")
            parts = [
                encode_integer(payload.alert_code),
                encode_generalized_time(payload.execution_date_time),
                encode_octet_string(bytes.fromhex(payload.entity_id)),
                encode_octet_string(payload.firmware_version),
                encode_integer(payload.response_code),
            ]
        case Cs08Command():
            return NULL
        case Cs08Response():
            parts = [
                encode_octet_string(payload.firmware_version),
                encode_integer(payload.response_code),
            ]
        case Cs08Alert():
            parts = [
                encode_integer(payload.alert_code),
                encode_generalized_time(payload.execution_date_time),
                encode_octet_string(payload.firmware_version),
                encode_integer(payload.activate_image),
            ]
        case _:
            raise TypeError(f"{type(payload).__name__} is not a CCS08/CS08 payload")
    return encode_tlv(TAG_SEQUENCE, b"".join(parts))


def _end_of_sequence(data: bytes, at: int, stop: int, end: int) -> None:
    if at != stop:
        raise DecodeError(LAYER, "content", at, f"{stop - at} unexpected bytes in the SEQUENCE")
    if stop != end:
        raise DecodeError(LAYER, "content", stop, f"{end - stop} bytes after the payload")


def _decode_ccs08(data: bytes, offset: int, end: int) -> Ccs08Alert:
    at, stop = read_tlv(data, offset, end, TAG_SEQUENCE, "ccs08")
    alert_code, at = read_integer(data, at, stop, "alert_code")
    moment, at = read_generalized_time(data, at, stop, "execution_date_time")
    entity, at = read_octet_string(data, at, stop, "entity_id", 8)
    version, at = read_octet_string(data, at, stop, "firmware_version", 4)
    response_code, at = read_integer(data, at, stop, "response_code")
    _end_of_sequence(data, at, stop, end)
    return Ccs08Alert(alert_code, moment, entity.hex().upper(), version, response_code)


def _decode_cs08_command(data: bytes, offset: int, end: int) -> Cs08Command:
    if data[offset:end] != NULL:
        raise DecodeError(LAYER, "content", offset, "CS08 command payload must be NULL (05 00)")
    return Cs08Command()


def _decode_cs08_response(data: bytes, offset: int, end: int) -> Cs08Response:
    at, stop = read_tlv(data, offset, end, TAG_SEQUENCE, "cs08_response")
    version, at = read_octet_string(data, at, stop, "firmware_version")
    response_code, at = read_integer(data, at, stop, "response_code")
    _end_of_sequence(data, at, stop, end)
    return Cs08Response(version, response_code)


def _decode_cs08_alert(data: bytes, offset: int, end: int) -> Cs08Alert:
    at, stop = read_tlv(data, offset, end, TAG_SEQUENCE, "cs08_alert")
    alert_code, at = read_integer(data, at, stop, "alert_code")
    moment, at = read_generalized_time(data, at, stop, "execution_date_time")
    version, at = read_octet_string(data, at, stop, "firmware_version")
    activate_image, at = read_integer(data, at, stop, "activate_image")
    _end_of_sequence(data, at, stop, end)
    return Cs08Alert(alert_code, moment, version, activate_image)


def decode_payload(
    message_code: int, cra_flag: int, data: bytes, offset: int, end: int
) -> Payload | None:
    """Decode the content at ``data[offset:end]`` by message code and CRA flag.

    None for message codes this suite does not model (the APDU itself still decodes).
    """
    if message_code == MESSAGE_CODE_CCS08:
        return _decode_ccs08(data, offset, end)
    if message_code == MESSAGE_CODE_CS08:
        decoder = {
            CRA_COMMAND: _decode_cs08_command,
            CRA_RESPONSE: _decode_cs08_response,
            CRA_ALERT: _decode_cs08_alert,
        }[cra_flag]
        return decoder(data, offset, end)
    return None
