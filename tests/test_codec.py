"""Frame codec: build -> parse round trips, security, errors with offsets, derived fields."""

from __future__ import annotations

import dataclasses

import pytest
from hanota.layers import ota
from hanota.layers.codec import (
    build_frame,
    crc16_kermit,
    dissect_frame,
    mac_ack,
    parse_frame,
    plaintext_frame,
)
from hanota.layers.model import (
    DecodeError,
    Fragment,
    HanFrame,
    Mac,
    MicFailure,
    Multicast,
    Nwk,
    SourceRoute,
    StackCommand,
)
from hanota.layers.security import KeyRing
from hanota.layers.zcl import decode_zcl, encode_zcl, make_zcl
from ota_frames import (
    ALL_CASES,
    CHF_EUI64,
    LINK_KEY_HEX,
    NETWORK_KEY_HEX,
    OTA_CASES,
    WRONG_KEY_HEX,
    sample_frame,
)

KEYS = KeyRing.from_hex([f"nwk:{NETWORK_KEY_HEX}", f"link:{LINK_KEY_HEX}"])


def test_fcs_is_crc16_kermit() -> None:
    assert crc16_kermit(b"123456789") == 0x2189  # the CRC catalogue's check value


@pytest.mark.parametrize(("case", "command", "fields"), ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_round_trip_nwk_secured(case: str, command: str, fields: dict) -> None:
    frame = sample_frame(command, fields)
    raw = build_frame(frame, KEYS)
    parsed = parse_frame(raw, KEYS)
    assert parsed.mac == frame.mac
    assert parsed.nwk == frame.nwk
    assert parsed.aps == frame.aps
    assert parsed.zcl is not None and frame.zcl is not None
    assert parsed.zcl.command == command
    assert {k: parsed.zcl.fields[k] for k in fields} == fields
    assert dataclasses.replace(parsed.zcl, fields=frame.zcl.fields) == frame.zcl
    # what was decoded re-encodes to the same bytes
    assert build_frame(parsed, KEYS) == raw


def test_derived_fields_are_filled_in() -> None:
    by_case = {case: (command, fields) for case, command, fields in OTA_CASES}
    expected = {
        "notify_type3": ("payload_type", 3),
        "qni_request_hw": ("field_control", 1),
        "block_request_node": ("field_control", 1),
        "block_request_delay": ("field_control", 2),
        "page_request_node": ("field_control", 1),
        "block_response_ok": ("data_size", 40),
    }
    for case, (name, value) in expected.items():
        frame = parse_frame(build_frame(sample_frame(*by_case[case]), KEYS), KEYS)
        assert frame.zcl is not None
        assert frame.zcl.fields[name] == value, case


def test_image_block_response_bytes_are_as_specified() -> None:
    zcl = make_zcl("image_block_response", {"status": 0, "manufacturer_code": 0x1234,
                                            "image_type": 0x0101, "file_version": 0x01020304,
                                            "file_offset": 0x40, "data": b"\xaa\xbb"}, 7)
    assert encode_zcl(zcl, ota.CLUSTER_ID).hex() == (
        "19" "07" "05" "00" "3412" "0101" "04030201" "40000000" "02" "aabb"
    )


def test_wait_for_data_and_abort_bodies() -> None:
    wait = bytes.fromhex("1909059700e1f5051ee1f505fa00")
    zcl = decode_zcl(wait, ota.CLUSTER_ID)
    assert zcl.fields == {"status": 0x97, "current_time": 100_000_000,
                          "request_time": 100_000_030, "minimum_block_period": 250}
    assert decode_zcl(bytes.fromhex("19090595"), ota.CLUSTER_ID).fields == {"status": 0x95}


def test_read_attributes_direction_on_the_ota_cluster() -> None:
    request = make_zcl("read_attributes", {"attributes": [2]}, 1)
    assert (request.direction, request.cluster_specific, request.command_id) == (1, False, 0)
    assert encode_zcl(request, ota.CLUSTER_ID) == bytes.fromhex("1801000200")
    response = make_zcl("read_attributes_response", {"records": []}, 1)
    assert response.direction == 0
    assert make_zcl("read_attributes", {"attributes": []}, 1, cluster=0x0702).direction == 0
    assert make_zcl("read_attributes", {"attributes": []}, 1, direction=0).direction == 0


def test_read_attributes_response_data_types() -> None:
    records = [
        {"attribute": 0, "status": 0, "data_type": 0xF0, "value": CHF_EUI64},
        {"attribute": 1, "status": 0, "data_type": 0x23, "value": 0xFFFFFFFF},
        {"attribute": 2, "status": 0x86, "data_type": None, "value": None},
        {"attribute": 3, "status": 0, "data_type": 0x25, "value": 2**48 - 1},
        {"attribute": 4, "status": 0, "data_type": 0x2B, "value": -(2**31)},
        {"attribute": 5, "status": 0, "data_type": 0x10, "value": True},
        {"attribute": 6, "status": 0, "data_type": 0x30, "value": 6},
        {"attribute": 7, "status": 0, "data_type": 0x19, "value": 0x8001},
        {"attribute": 8, "status": 0, "data_type": 0x41, "value": b"\x01\x02"},
        {"attribute": 9, "status": 0, "data_type": 0x42, "value": "PPMID"},
        {"attribute": 10, "status": 0, "data_type": 0xE2, "value": 800_000_000},
        {"attribute": 11, "status": 0, "data_type": 0x42, "value": None},
    ]
    zcl = make_zcl("read_attributes_response", {"records": records}, 4)
    payload = encode_zcl(zcl, ota.CLUSTER_ID)
    assert payload[3:15] == bytes.fromhex("0000" "00" "f0" "a29078563412db00")
    assert decode_zcl(payload, ota.CLUSTER_ID).fields == {"records": records}


def test_unknown_cluster_command_keeps_its_payload() -> None:
    zcl = decode_zcl(bytes.fromhex("1905420102"), ota.CLUSTER_ID)
    assert (zcl.command, zcl.fields) == ("unknown_0x42", {"payload": b"\x01\x02"})
    assert encode_zcl(zcl, ota.CLUSTER_ID) == bytes.fromhex("1905420102")


def test_default_response_round_trip() -> None:
    payload = bytes.fromhex("18110b0681")
    zcl = decode_zcl(payload, ota.CLUSTER_ID)
    assert (zcl.command, zcl.fields) == ("default_response", {"command_id": 6, "status": 0x81})
    assert encode_zcl(zcl, ota.CLUSTER_ID) == payload


def test_wrong_key_is_a_mic_failure_on_nwk() -> None:
    raw = build_frame(sample_frame(*OTA_CASES[0][1:]), KEYS)
    with pytest.raises(MicFailure) as error:
        parse_frame(raw, KeyRing.from_hex([WRONG_KEY_HEX]))
    assert error.value.layer == "nwk"
    assert error.value.offset == len(raw) - 2 - 4
    with pytest.raises(MicFailure):
        parse_frame(raw)


def test_several_keys_are_tried() -> None:
    raw = build_frame(sample_frame(*OTA_CASES[0][1:]), KEYS)
    ring = KeyRing.from_hex([WRONG_KEY_HEX, NETWORK_KEY_HEX])
    assert parse_frame(raw, ring).zcl is not None


@pytest.mark.parametrize("key_id", [0, 2, 3])
def test_aps_security_with_link_key(key_id: int) -> None:
    frame = sample_frame("upgrade_end_request", dict(OTA_CASES[17][2]), aps_key_id=key_id)
    raw = build_frame(frame, KEYS)
    parsed = parse_frame(raw, KEYS)
    assert parsed.aps == frame.aps
    assert parsed.zcl is not None and parsed.zcl.fields["status"] == 0
    wrong_link = KeyRing((bytes.fromhex(NETWORK_KEY_HEX),), (bytes.fromhex(WRONG_KEY_HEX),))
    with pytest.raises(MicFailure) as error:
        parse_frame(raw, wrong_link)
    assert error.value.layer == "aps"


def test_corrupted_ciphertext_is_a_mic_failure_not_garbage() -> None:
    raw = bytearray(build_frame(sample_frame(*OTA_CASES[14][1:]), KEYS, fcs=False))
    raw[40] ^= 1
    with pytest.raises(MicFailure):
        parse_frame(bytes(raw), KEYS, fcs=False)


def test_bad_fcs_is_reported_at_its_offset() -> None:
    raw = bytearray(build_frame(sample_frame(*OTA_CASES[0][1:]), KEYS))
    raw[-1] ^= 0xFF
    with pytest.raises(DecodeError) as error:
        parse_frame(bytes(raw), KEYS)
    where = (error.value.layer, error.value.field, error.value.offset)
    assert where == ("mac", "fcs", len(raw) - 2)


def test_every_truncation_is_a_decode_error() -> None:
    for _, command, fields in ALL_CASES:
        raw = build_frame(sample_frame(command, fields, nwk_secured=False), KEYS, fcs=False)
        for cut in range(len(raw)):
            try:
                parse_frame(raw[:cut], KEYS, fcs=False)
            except DecodeError as error:
                assert 0 <= error.offset <= cut
        for cut in range(len(raw) + 2):
            with pytest.raises(DecodeError):
                parse_frame(raw[:cut], KEYS)


def test_truncated_zcl_reports_the_absolute_offset() -> None:
    frame = sample_frame("image_block_request", dict(OTA_CASES[8][2]), nwk_secured=False)
    raw = build_frame(frame, fcs=False)
    with pytest.raises(DecodeError) as error:
        parse_frame(raw[:-1], fcs=False)
    assert error.value.layer == "zcl"
    assert error.value.field == "maximum_data_size"
    assert error.value.offset == len(raw) - 1


def test_truncated_inside_encrypted_payload_reports_raw_offset() -> None:
    frame = sample_frame("image_block_request", dict(OTA_CASES[8][2]))
    zcl = dataclasses.replace(frame.zcl, command="unknown_0x03", fields={"payload": b"\x00"})
    raw = build_frame(dataclasses.replace(frame, zcl=zcl), KEYS, fcs=False)
    with pytest.raises(DecodeError) as error:
        parse_frame(raw, KEYS, fcs=False)
    # the 1-byte field control is the last plaintext byte before the 4-byte MIC
    assert (error.value.layer, error.value.field) == ("zcl", "manufacturer_code")
    assert error.value.offset == len(raw) - 4


def test_mac_ack() -> None:
    raw = mac_ack(0x42)
    assert raw[:3] == b"\x02\x00\x42"
    assert parse_frame(raw) == HanFrame(Mac(2, 0x42))


def test_mac_command_and_beacon_decode_without_upper_layers() -> None:
    beacon = bytes.fromhex("00800f2b1a0000ff0f0022")
    parsed = parse_frame(beacon, fcs=False)
    assert parsed.mac.frame_type == 0 and parsed.mac.src16 == 0 and parsed.nwk is None
    data_request = bytes.fromhex("63c8" "01" "2b1a" "0000" "b39078563412db00" "04")
    parsed = parse_frame(data_request + crc16_kermit(data_request).to_bytes(2, "little"))
    assert (parsed.mac.frame_type, parsed.mac.src64, parsed.nwk) == (3, "00DB1234567890B3", None)


def test_extended_mac_and_nwk_addresses_round_trip() -> None:
    frame = sample_frame(*OTA_CASES[0][1:])
    frame = dataclasses.replace(
        frame,
        mac=Mac(1, 9, 0x1A2B, None, None, False, "00DB1234567890B3", CHF_EUI64),
        nwk=dataclasses.replace(frame.nwk, dst64="00DB1234567890B3", src64=CHF_EUI64),
    )
    assert parse_frame(build_frame(frame, KEYS), KEYS) == frame


def test_nwk_command_frame_decodes_nwk_and_its_command() -> None:
    nwk = Nwk(0xFFFC, 0, 3, 1, frame_type=1)
    leave = StackCommand("nwk", 0x04, "leave", {"options": 0x20})
    frame = HanFrame(Mac(1, 1, 0x1A2B, 0xFFFF, 0), nwk, nwk_command=leave)
    assert parse_frame(build_frame(frame), fcs=True) == frame


def test_plaintext_frame_equals_the_unsecured_build() -> None:
    for _, command, fields in ALL_CASES:
        secured = sample_frame(command, fields, aps_key_id=0)
        plain = dataclasses.replace(
            secured,
            nwk=dataclasses.replace(secured.nwk, security=None),
            aps=dataclasses.replace(secured.aps, security=None),
        )
        assert plaintext_frame(build_frame(secured, KEYS), KEYS) == build_frame(plain)


def test_key_ring_from_hex_roles() -> None:
    ring = KeyRing.from_hex([f"nwk:{NETWORK_KEY_HEX}", "link:" + LINK_KEY_HEX.lower(),
                             ":".join(WRONG_KEY_HEX[i : i + 2] for i in range(0, 32, 2))])
    assert ring.network_keys == (bytes.fromhex(NETWORK_KEY_HEX), bytes.fromhex(WRONG_KEY_HEX))
    assert ring.link_keys == (bytes.fromhex(LINK_KEY_HEX), bytes.fromhex(WRONG_KEY_HEX))
    with pytest.raises(ValueError, match="bytes"):
        KeyRing.from_hex(["0011"])


def test_missing_required_field_is_a_value_error() -> None:
    zcl = make_zcl("query_next_image_response", {"status": 0}, 1)
    with pytest.raises(ValueError, match="manufacturer_code"):
        encode_zcl(zcl, ota.CLUSTER_ID)


def _plain(command_case: int = 0) -> bytes:
    """An unsecured sample frame without FCS: MAC header 9 bytes, NWK header 8, APS 8."""
    _, command, fields = OTA_CASES[command_case]
    return build_frame(sample_frame(command, fields, nwk_secured=False), fcs=False)


def test_nwk_source_route_and_multicast_are_decoded() -> None:
    plain = parse_frame(_plain(), fcs=False)
    assert plain.nwk is not None
    raw = bytearray(_plain())
    raw[10] |= 0x04  # NWK source route
    routed = bytes(raw[:17]) + bytes.fromhex("02" "01" "3412" "7856") + bytes(raw[17:])
    route = SourceRoute(1, (0x1234, 0x5678))
    expected = dataclasses.replace(plain, nwk=dataclasses.replace(plain.nwk, source_route=route))
    assert parse_frame(routed, fcs=False) == expected
    raw = bytearray(_plain())
    raw[10] |= 0x01  # NWK multicast
    multicast = bytes(raw[:17]) + b"\x09" + bytes(raw[17:])
    group = Multicast(1, 2, 0)
    expected = dataclasses.replace(plain, nwk=dataclasses.replace(plain.nwk, multicast=group))
    assert parse_frame(multicast, fcs=False) == expected
    with pytest.raises(DecodeError) as error:
        parse_frame(routed[:22], fcs=False)
    assert (error.value.layer, error.value.field) == ("nwk", "relay_list")


def test_aps_fragment_has_no_zcl_and_reserved_delivery_keeps_the_nwk_layer() -> None:
    raw = bytearray(_plain())
    raw[17] |= 0x80  # APS extended header: first fragment of 3 blocks
    fragment = bytes(raw[:25]) + b"\x01\x03" + bytes(raw[25:])
    parsed = parse_frame(fragment, fcs=False)
    plain = parse_frame(_plain(), fcs=False)
    assert plain.aps is not None and parsed.aps is not None and parsed.zcl is None
    assert parsed.aps.fragment == Fragment(1, 3, None, _plain()[25:])
    assert dataclasses.replace(parsed.aps, fragment=None) == plain.aps
    raw = bytearray(_plain())
    raw[17] |= 0x04  # delivery mode 0b01: reserved (R22 table 2-21)
    with pytest.raises(DecodeError) as error:
        parse_frame(bytes(raw), fcs=False)
    where = (error.value.layer, error.value.field, error.value.offset)
    assert where == ("aps", "delivery_mode", 17)
    partial = dissect_frame(bytes(raw), fcs=False)
    assert (partial.mac, partial.nwk, partial.aps) == (plain.mac, plain.nwk, None)
    assert partial.error == error.value


def test_aps_ack_and_broadcast_round_trip() -> None:
    frame = sample_frame(*OTA_CASES[0][1:])
    assert frame.aps is not None and frame.nwk is not None
    ack = dataclasses.replace(frame, aps=dataclasses.replace(frame.aps, frame_type=2), zcl=None)
    assert parse_frame(build_frame(ack, KEYS), KEYS) == ack
    broadcast = dataclasses.replace(frame, nwk=dataclasses.replace(frame.nwk, dst16=0xFFFD))
    raw = build_frame(broadcast, KEYS)
    assert parse_frame(raw, KEYS) == broadcast
    assert plaintext_frame(raw, KEYS)[17] & 0x0C == 0x08  # APS delivery mode broadcast


def test_mac_oddities_are_decode_errors() -> None:
    raw = bytearray(_plain())
    raw[1] |= 0x22  # 802.15.4-2015 frame (version 2) with IEs present: the NWK header
    with pytest.raises(DecodeError) as error:  # is read as a header IE, too long
        parse_frame(bytes(raw), fcs=False)
    assert (error.value.layer, error.value.field) == ("mac", "header_ie")
    partial = dissect_frame(bytes(raw), fcs=False)
    assert (partial.mac.dst16, partial.mac.src16) == (0x4C21, 0x0000)
    with pytest.raises(DecodeError) as error:
        parse_frame(bytes(128))
    assert (error.value.layer, error.value.field) == ("mac", "length")
    with pytest.raises(ValueError, match="127"):
        build_frame(sample_frame("image_block_response", {"status": 0, "manufacturer_code": 1,
                                                          "image_type": 1, "file_version": 1,
                                                          "file_offset": 0, "data": bytes(90)}),
                    KEYS)


def test_manufacturer_specific_frames() -> None:
    read = make_zcl("read_attributes", {"attributes": [0xF000]}, 3, manufacturer_code=0x1234)
    payload = encode_zcl(read, ota.CLUSTER_ID)
    assert payload == bytes.fromhex("1c" "3412" "03" "00" "00f0")
    assert decode_zcl(payload, ota.CLUSTER_ID) == read
    # a manufacturer-specific cluster command is not the standard command with that id
    specific = decode_zcl(bytes.fromhex("1d341203050095"), ota.CLUSTER_ID)
    assert (specific.command, specific.fields) == ("unknown_0x05", {"payload": b"\x00\x95"})
