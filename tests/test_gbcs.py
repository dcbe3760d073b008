"""GBCS codec against the DCC RTDS vectors, and the builders the CHF emulator uses."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hanota.layers.der import encode_integer, encode_length, read_integer, read_length
from hanota.layers.gbcs import (
    Ccs08Alert,
    Cs08Alert,
    Cs08Command,
    Cs08Response,
    GeneralSigning,
    build_ccs08_alert,
    build_cs08_alert,
    build_cs08_response,
    build_general_signing,
    decode_gbcs,
    encode_gbcs,
    load_certificate_pem,
    load_private_key_pem,
    sign_apdu,
    verify_apdu,
)
from hanota.layers.model import DecodeError

DATA = Path(__file__).parent / "data" / "rtds"
KEYS = Path(__file__).parents[1] / "emulators" / "keys"
SUPPLIER = "90B3D51F30000002"
CHF = "00DB1234567890A2"
PPMID = "00DB1234567890A4"


def vector(name: str) -> bytes:
    return bytes.fromhex("".join((DATA / name).read_text().split()))


CCS08 = vector("CCS08_NA_NA_ALERT_GBCS.HEX")
CS08_COMMAND = vector("CS08_11.2_SUCCESS_COMMAND_GBCS.HEX")
CS08_RESPONSE = vector("CS08_11.2_SUCCESS_RESPONSE_GBCS.HEX")
RTDS_CHF_CERT = load_certificate_pem((DATA / "00db1234567890a2-ds.pem").read_bytes())
TEST_KEY = load_private_key_pem((KEYS / "chf-test-ds.key").read_bytes())
TEST_CERT = load_certificate_pem((KEYS / "chf-test-ds.pem").read_bytes())
WHEN = datetime(2026, 11, 23, 18, 30, 5, tzinfo=UTC)


def test_ccs08_vector_decodes_to_the_rtds_values() -> None:
    message = decode_gbcs(CCS08)
    apdu = message.apdu
    assert message.ciphering is None
    assert (apdu.cra_flag, apdu.originator_counter) == (3, 0x0FA0)
    assert (apdu.originator, apdu.recipient) == (CHF, SUPPLIER)
    assert apdu.message_code == 0x0128
    assert apdu.date_time is None
    assert apdu.supplementary_remote_party_id is None
    assert apdu.signature is not None and len(apdu.signature) == 64
    assert message.payload == Ccs08Alert(
        alert_code=0x8F8A,
        execution_date_time=datetime(2015, 1, 1, tzinfo=UTC),
        entity_id=PPMID,
        firmware_version=bytes.fromhex("0123ABCD"),
        response_code=0,
    )


def test_cs08_command_vector_decodes_to_the_rtds_values() -> None:
    message = decode_gbcs(CS08_COMMAND)
    apdu = message.apdu
    assert message.ciphering is not None
    assert message.ciphering.security_header == 0x11
    assert message.ciphering.invocation_counter == 0
    assert message.ciphering.gmac_tag == bytes.fromhex("BDC5E70406017D96EE0F9759")
    assert (apdu.cra_flag, apdu.originator_counter) == (1, 0x0514)
    assert (apdu.originator, apdu.recipient) == (SUPPLIER, PPMID)
    assert apdu.message_code == 0x0129
    assert apdu.supplementary_remote_party_id == "90B3D51F30010000"
    assert apdu.supplementary_remote_party_counter == 1000
    assert apdu.signature is None
    assert apdu.content == bytes.fromhex("0500")
    assert message.payload == Cs08Command()


def test_cs08_response_vector_decodes_to_the_rtds_values() -> None:
    message = decode_gbcs(CS08_RESPONSE)
    apdu = message.apdu
    assert message.ciphering is not None
    assert message.ciphering.gmac_tag == bytes.fromhex("0DA6F255E953F315B792D962")
    assert (apdu.cra_flag, apdu.originator_counter) == (2, 0x0514)
    assert (apdu.originator, apdu.recipient) == (PPMID, SUPPLIER)
    assert apdu.message_code == 0x0129
    assert message.payload == Cs08Response(bytes.fromhex("0123ABCD"), 0)


@pytest.mark.parametrize("data", [CCS08, CS08_COMMAND, CS08_RESPONSE], ids=["ccs08", "cmd", "rsp"])
def test_rtds_vectors_re_encode_byte_for_byte(data: bytes) -> None:
    assert encode_gbcs(decode_gbcs(data)) == data


def test_payload_re_encodes_byte_for_byte_through_the_dataclass() -> None:
    from hanota.layers.gbcs_payloads import encode_payload

    for data in (CCS08, CS08_COMMAND, CS08_RESPONSE):
        message = decode_gbcs(data)
        assert message.payload is not None
        assert encode_payload(message.payload) == message.apdu.content


def test_alert_code_integer_is_encoded_with_its_sign_byte() -> None:
    assert encode_integer(0x8F8A) == bytes.fromhex("0203008F8A")
    assert encode_integer(0) == bytes.fromhex("020100")
    assert encode_integer(127) == bytes.fromhex("02017F")
    assert encode_integer(128) == bytes.fromhex("02020080")
    assert encode_integer(-128) == bytes.fromhex("020180")


def test_der_lengths_in_all_three_forms() -> None:
    assert encode_length(0x7F) == b"\x7f"
    assert encode_length(0x80) == b"\x81\x80"
    assert encode_length(0x1234) == b"\x82\x12\x34"
    assert read_length(b"\x82\x01\x00" + bytes(256), 0, 259, "x") == (256, 3)


def test_non_minimal_der_is_refused() -> None:
    with pytest.raises(DecodeError, match="not minimally"):
        read_length(b"\x81\x05" + bytes(5), 0, 7, "content")
    with pytest.raises(DecodeError, match="not minimally"):
        read_integer(bytes.fromhex("02020001"), 0, 4, "alert_code")


def test_ccs08_signature_verifies_with_the_rtds_certificate() -> None:
    assert verify_apdu(CCS08, RTDS_CHF_CERT) is True
    assert verify_apdu(CCS08, RTDS_CHF_CERT.public_key()) is True


def test_ccs08_signature_fails_when_one_content_byte_is_flipped() -> None:
    corrupted = bytearray(CCS08)
    response_code_at = CCS08.index(bytes.fromhex("0201004015")) + 2
    corrupted[response_code_at] ^= 0x01
    assert decode_gbcs(bytes(corrupted)).payload.response_code == 1
    assert verify_apdu(bytes(corrupted), RTDS_CHF_CERT) is False


def test_ccs08_signature_fails_with_another_key() -> None:
    assert verify_apdu(CCS08, TEST_CERT) is False


def test_unsigned_apdu_does_not_verify() -> None:
    assert verify_apdu(CS08_COMMAND, RTDS_CHF_CERT) is False


def test_sign_apdu_turns_an_unsigned_apdu_into_a_verifiable_one() -> None:
    unsigned = build_ccs08_alert(
        originator=CHF,
        recipient=SUPPLIER,
        counter=7,
        time=WHEN,
        alert_code=0x8F89,
        entity_id=PPMID,
        firmware_version=0x01020304,
        response_code=3,
        private_key=None,
    )
    assert unsigned.endswith(b"\x00")
    signed = sign_apdu(unsigned, TEST_KEY)
    assert signed[:-65] == unsigned[:-1]
    assert signed[-65] == 0x40
    assert verify_apdu(signed, TEST_CERT) is True
    assert verify_apdu(signed, RTDS_CHF_CERT) is False


def test_resigning_the_rtds_alert_keeps_its_signed_part() -> None:
    resigned = sign_apdu(CCS08, TEST_KEY)
    assert resigned[:-64] == CCS08[:-64]
    assert verify_apdu(resigned, TEST_CERT) is True


def test_ccs08_builder_output_verifies_and_decodes_to_its_fields() -> None:
    data = build_ccs08_alert(
        originator=CHF,
        recipient=SUPPLIER,
        counter=0x1234,
        time=WHEN,
        alert_code=0x8F8A,
        entity_id=PPMID.lower(),
        firmware_version=bytes.fromhex("0123ABCD"),
        response_code=0,
        private_key=TEST_KEY,
    )
    assert verify_apdu(data, TEST_CERT) is True
    message = decode_gbcs(data)
    assert (message.apdu.cra_flag, message.apdu.originator_counter) == (3, 0x1234)
    assert (message.apdu.originator, message.apdu.recipient) == (CHF, SUPPLIER)
    assert message.apdu.message_code == 0x0128
    assert message.payload == Ccs08Alert(0x8F8A, WHEN, PPMID, bytes.fromhex("0123ABCD"), 0)


def test_ccs08_builder_reproduces_the_rtds_vector_up_to_the_signature() -> None:
    data = build_ccs08_alert(
        originator=CHF,
        recipient=SUPPLIER,
        counter=0x0FA0,
        time=datetime(2015, 1, 1, tzinfo=UTC),
        alert_code=0x8F8A,
        entity_id=PPMID,
        firmware_version=0x0123ABCD,
        response_code=0,
        private_key=None,
    )
    assert data[:-1] == CCS08[:-65]


def test_cs08_alert_builder_output_verifies_and_decodes_to_its_fields() -> None:
    data = build_cs08_alert(
        originator=CHF,
        recipient=SUPPLIER,
        counter=9,
        time=WHEN,
        firmware_version=0x0123ABCE,
        activate_image=0,
        private_key=TEST_KEY,
    )
    assert verify_apdu(data, TEST_CERT) is True
    message = decode_gbcs(data)
    assert (message.apdu.cra_flag, message.apdu.message_code) == (3, 0x0129)
    assert message.payload == Cs08Alert(0x8F8B, WHEN, bytes.fromhex("0123ABCE"), 0)


def test_cs08_response_builder_matches_the_rtds_inner_apdu() -> None:
    data = build_cs08_response(
        originator=PPMID,
        recipient=SUPPLIER,
        counter=0x0514,
        firmware_version=0x0123ABCD,
        response_code=0,
        private_key=None,
        supplementary_remote_party_id="90B3D51F30010000",
        supplementary_remote_party_counter=1000,
    )
    inner_start = CS08_RESPONSE.index(b"\xdf\x09")
    assert data == CS08_RESPONSE[inner_start:-12]


def test_cs08_response_builder_signed() -> None:
    data = build_cs08_response(
        originator=CHF,
        recipient=SUPPLIER,
        counter=1,
        firmware_version=b"\x00\x00\x00\x02",
        response_code=1,
        private_key=TEST_KEY,
    )
    assert verify_apdu(data, TEST_CERT) is True
    assert decode_gbcs(data).payload == Cs08Response(b"\x00\x00\x00\x02", 1)


def test_unknown_message_code_decodes_without_payload() -> None:
    apdu = GeneralSigning(3, 1, CHF, SUPPLIER, 0x0001, b"\x01\x02\x03")
    message = decode_gbcs(build_general_signing(apdu, None))
    assert message.payload is None
    assert message.apdu == apdu


def test_date_time_field_round_trips() -> None:
    apdu = GeneralSigning(
        2,
        5,
        CHF,
        SUPPLIER,
        0x0129,
        bytes.fromhex("3009040401020304020100"),
        date_time=bytes(range(12)),
    )
    data = build_general_signing(apdu, None)
    assert data[29:42] == b"\x0c" + bytes(range(12))
    assert decode_gbcs(data).apdu == apdu


@pytest.mark.parametrize(
    ("mutate", "field", "offset"),
    [
        (lambda d: b"\xde" + d[1:], "tag", 0),
        (lambda d: d[:1] + b"\x08" + d[2:], "transaction_id", 1),
        (lambda d: d[:11] + b"\x07" + d[12:], "originator_system_title", 11),
        (lambda d: d[:29] + b"\x05" + d[30:], "date_time", 29),
        (lambda d: d[:30] + b"\x03" + d[31:], "other_information", 30),
        (lambda d: d + b"\x00", "signature", len(CCS08)),
        (lambda d: d[:-1], "signature", 77),
        (lambda d: d[:36] + b"\x03" + d[37:], "alert_code", 36),
    ],
)
def test_malformed_ccs08_names_field_and_offset(mutate, field: str, offset: int) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_gbcs(mutate(CCS08))
    assert (caught.value.layer, caught.value.field, caught.value.offset) == ("gbcs", field, offset)


def test_malformed_general_ciphering_names_field_and_offset() -> None:
    longer = CS08_COMMAND[:7] + b"\x47" + CS08_COMMAND[8:]
    with pytest.raises(DecodeError) as caught:
        decode_gbcs(longer)
    assert (caught.value.field, caught.value.offset) == ("ciphered_content", 7)
    with pytest.raises(DecodeError) as caught:
        decode_gbcs(CS08_COMMAND[:1] + b"\x01\x00" + CS08_COMMAND[2:])
    assert (caught.value.field, caught.value.offset) == ("transaction_id", 1)


def test_builders_refuse_bad_system_titles() -> None:
    with pytest.raises(ValueError, match="originator"):
        build_cs08_alert(
            originator="00DB",
            recipient=SUPPLIER,
            counter=1,
            time=WHEN,
            firmware_version=1,
            activate_image=0,
            private_key=None,
        )


def test_keys_must_be_p256() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="P-256"):
        load_private_key_pem(other)


def test_test_certificate_matches_the_test_key_and_says_test_only() -> None:
    assert TEST_CERT.public_key().public_numbers() == TEST_KEY.public_key().public_numbers()
    assert "TEST ONLY" in TEST_CERT.subject.rfc4514_string()
    assert CHF in TEST_CERT.subject.rfc4514_string()


def test_encoding_something_else_as_a_payload_is_refused() -> None:
    from hanota.layers.gbcs_payloads import encode_payload

    with pytest.raises(TypeError, match="not a CCS08/CS08 payload"):
        encode_payload("0500")  # type: ignore[arg-type]
