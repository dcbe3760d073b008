"""Hypothesis properties of the GBCS codec: round trips, and DecodeError on bad input."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hanota.layers.gbcs import (
    Ccs08Alert,
    Cs08Alert,
    Cs08Command,
    Cs08Response,
    GbcsMessage,
    GeneralCiphering,
    GeneralSigning,
    build_general_signing,
    decode_gbcs,
    encode_gbcs,
    load_private_key_pem,
    verify_apdu,
)
from hanota.layers.gbcs_payloads import encode_payload
from hanota.layers.model import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

KEY = load_private_key_pem(
    (Path(__file__).parents[1] / "emulators" / "keys" / "chf-test-ds.key").read_bytes()
)
RTDS = Path(__file__).parent / "data" / "rtds"
VECTORS = [bytes.fromhex("".join(path.read_text().split())) for path in sorted(RTDS.glob("*.HEX"))]

title = st.binary(min_size=8, max_size=8).map(lambda raw: raw.hex().upper())
u64 = st.integers(0, 2**64 - 1)
moments = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)
).map(lambda moment: moment.replace(microsecond=0, tzinfo=UTC))
codes = st.integers(-(2**40), 2**40)

ccs08 = st.builds(
    Ccs08Alert,
    alert_code=codes,
    execution_date_time=moments,
    entity_id=title,
    firmware_version=st.binary(min_size=4, max_size=4),
    response_code=codes,
)
cs08_alert = st.builds(
    Cs08Alert,
    alert_code=codes,
    execution_date_time=moments,
    firmware_version=st.binary(max_size=300),
    activate_image=codes,
)
cs08_response = st.builds(
    Cs08Response, firmware_version=st.binary(max_size=300), response_code=codes
)
PAYLOAD_FRAMING = {
    Ccs08Alert: (0x0128, 3),
    Cs08Alert: (0x0129, 3),
    Cs08Response: (0x0129, 2),
    Cs08Command: (0x0129, 1),
}


@st.composite
def apdus(draw: st.DrawFn) -> tuple[GeneralSigning, object]:
    payload = draw(st.one_of(ccs08, cs08_alert, cs08_response, st.just(Cs08Command())))
    message_code, cra_flag = PAYLOAD_FRAMING[type(payload)]
    party = draw(st.one_of(st.none(), st.tuples(title, u64)))
    apdu = GeneralSigning(
        cra_flag=cra_flag,
        originator_counter=draw(u64),
        originator=draw(title),
        recipient=draw(title),
        message_code=message_code,
        content=encode_payload(payload),
        date_time=draw(st.one_of(st.none(), st.binary(min_size=12, max_size=12))),
        supplementary_remote_party_id=party[0] if party else None,
        supplementary_remote_party_counter=party[1] if party else None,
        signature=draw(st.one_of(st.none(), st.binary(min_size=64, max_size=64))),
    )
    return apdu, payload


@settings(max_examples=300, deadline=None)
@given(apdus())
def test_general_signing_round_trip(case: tuple[GeneralSigning, object]) -> None:
    apdu, payload = case
    data = encode_gbcs(GbcsMessage(apdu, payload))
    message = decode_gbcs(data)
    assert message.apdu == apdu
    assert message.payload == payload
    assert encode_gbcs(message) == data


@settings(max_examples=200, deadline=None)
@given(
    apdus(), st.integers(0, 0xFF), st.integers(0, 2**32 - 1), st.binary(min_size=12, max_size=12)
)
def test_general_ciphering_round_trip(
    case: tuple[GeneralSigning, object], header: int, counter: int, tag: bytes
) -> None:
    apdu, payload = case
    wrapper = GeneralCiphering(header, counter, apdu, tag)
    data = encode_gbcs(GbcsMessage(apdu, payload, wrapper))
    message = decode_gbcs(data)
    assert message.ciphering == wrapper
    assert message.payload == payload
    assert encode_gbcs(message) == data


@settings(max_examples=50, deadline=None)
@given(apdus())
def test_signed_apdus_verify_and_a_content_flip_breaks_them(
    case: tuple[GeneralSigning, object],
) -> None:
    apdu, _ = case
    data = build_general_signing(apdu, KEY)
    assert verify_apdu(data, KEY.public_key()) is True
    corrupted = bytearray(data)
    corrupted[-66] ^= 0x01  # last content byte: framing intact, signed bytes changed
    assert verify_apdu(bytes(corrupted), KEY.public_key()) is False


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=120),
        st.binary(max_size=120).map(b"\xdf\x09".__add__),
        st.binary(max_size=120).map(b"\xdd\x00\x00\x00\x00\x00\x00".__add__),
    )
)
def test_random_bytes_give_decode_error_or_a_re_encodable_message(data: bytes) -> None:
    try:
        message = decode_gbcs(data)
    except DecodeError as error:
        assert error.layer == "gbcs"
        assert 0 <= error.offset <= len(data)
    else:
        assert encode_gbcs(message) == data


@pytest.mark.parametrize("vector", VECTORS, ids=["ccs08", "cs08-cmd", "cs08-rsp"])
def test_every_truncation_of_the_vectors_is_a_decode_error(vector: bytes) -> None:
    for cut in range(len(vector)):
        with pytest.raises(DecodeError):
            decode_gbcs(vector[:cut])


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(VECTORS), st.data())
def test_mutated_vectors_decode_or_raise_decode_error(vector: bytes, draw: st.DataObject) -> None:
    data = bytearray(vector)
    position = draw.draw(st.integers(0, len(data) - 1))
    data[position] = draw.draw(st.integers(0, 0xFF))
    try:
        message = decode_gbcs(bytes(data))
    except DecodeError as error:
        assert error.layer == "gbcs"
    else:
        assert encode_gbcs(message) == bytes(data)
