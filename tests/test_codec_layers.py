"""Decoding layer by layer (no tshark needed; tests/test_tshark_stack.py checks the same
frames against Wireshark): every layer below an error is kept and the error names its
layer, field and offset; what is under ZCL (NWK commands R22 3.4, APS commands R22
4.4.11, ZDO R22 2.4) is decoded and built; who sent a relayed frame is told apart from
who secured its last hop (R22 4.3.1)."""

from __future__ import annotations

import dataclasses

import pytest
from hanota.layers.codec import build_frame, crc16_kermit, dissect_frame, parse_frame
from hanota.layers.model import DecodeError, HanFrame, MicFailure, Unsupported
from hanota.layers.security import KeyRing
from hypothesis import given, settings
from hypothesis import strategies as st
from ota_frames import DEVICE_EUI64, OTA_CASES, sample_frame
from stack_frames import (
    BUILD_KEYS,
    NETWORK_KEY,
    ROUTER_EUI64,
    TC_EUI64,
    aps_command,
    build,
    device_annce,
    fragments,
    inter_pan,
    multicast_group,
    nwk_command,
    relayed_block_request,
    source_routed,
    transport_network_key,
    tunnel,
    zdo_frame,
)

ROUND_TRIPS = {
    "transport_key": transport_network_key(1),
    "transport_key_nwk_secured": transport_network_key(2, nwk_secured=True),
    "update_device": aps_command(3, "update_device", {
        "device_address": DEVICE_EUI64, "device_short_address": 0x4C21, "status": 1}),
    "request_key": aps_command(4, "request_key", {"key_type": 2, "partner": TC_EUI64},
                               key_id=0),
    "switch_key": aps_command(5, "switch_key", {"key_seq": 3}, key_id=None),
    "confirm_key": aps_command(6, "confirm_key", {"status": 0, "key_type": 4,
                                                  "destination": DEVICE_EUI64}, key_id=3),
    "route_request": nwk_command(7, "route_request", {
        "options": 0x28, "route_request_id": 1, "destination": 0x4C21, "path_cost": 0,
        "destination64": DEVICE_EUI64}),
    "network_status": nwk_command(8, "network_status", {"status_code": 0x0C,
                                                        "destination": 0x4C21}),
    "link_power_delta": nwk_command(9, "link_power_delta", {
        "options": 1, "count": 1, "deltas": [{"address": 0x1234, "delta": -3}]}),
    "device_annce": device_annce(10),
    "nwk_addr_rsp": zdo_frame(11, "nwk_addr_rsp", {"status": 0, "ieee_address": DEVICE_EUI64,
                                                   "nwk_address": 0x4C21}),
    "relayed": relayed_block_request(12, with_src64=True),
    "source_routed": source_routed(13),
    "multicast": multicast_group(14),
    "inter_pan": inter_pan(15),
    "tunnel": tunnel(16),
}


@pytest.mark.parametrize("label", sorted(ROUND_TRIPS))
def test_stack_frames_round_trip(label: str) -> None:
    frame = ROUND_TRIPS[label]
    raw = build(frame)
    decoded = parse_frame(raw, BUILD_KEYS)
    if label == "tunnel":  # decoding adds what the tunneled frame says
        assert decoded.aps_command is not None
        fields = decoded.aps_command.fields
        assert fields["tunneled_command"] == "transport_key"
        assert fields["tunneled_fields"]["key"] == NETWORK_KEY
    else:
        assert decoded == frame
    assert build_frame(decoded, BUILD_KEYS) == raw


def test_aps_commands_have_no_cluster_profile_or_endpoints() -> None:
    decoded = parse_frame(build(transport_network_key(1)), BUILD_KEYS)
    assert decoded.aps is not None and decoded.aps_command is not None
    aps = decoded.aps
    assert (aps.cluster, aps.profile, aps.dst_ep, aps.src_ep) == (None, None, None, None)
    assert decoded.zcl is None and decoded.aps_command.name == "transport_key"


def test_fragment_blocks_round_trip() -> None:
    for frame in fragments(20, bytes(range(100)), 40):
        assert parse_frame(build(frame), BUILD_KEYS) == frame


def test_who_sent_it_on_first_hop_and_relayed_frames() -> None:
    first = parse_frame(build(sample_frame(*OTA_CASES[8][1:])), BUILD_KEYS)
    assert first.first_hop is True
    assert first.originator64 == first.securing64 == DEVICE_EUI64
    relayed = parse_frame(build(relayed_block_request(1, with_src64=False)), BUILD_KEYS)
    assert relayed.first_hop is False
    assert relayed.securing64 == ROUTER_EUI64 and relayed.originator64 is None
    with_src64 = parse_frame(build(relayed_block_request(2, with_src64=True)), BUILD_KEYS)
    assert (with_src64.originator64, with_src64.securing64) == (DEVICE_EUI64, ROUTER_EUI64)
    aps_secured = parse_frame(build(aps_command(3, "remove_device", {
        "target_address": DEVICE_EUI64}, key_id=0)), BUILD_KEYS)
    assert aps_secured.originator64 == TC_EUI64  # APS aux header: end to end


# ---- layer by layer ---------------------------------------------------------------------


def _unsecured(case: int = 8) -> bytes:
    return build_frame(sample_frame(*OTA_CASES[case][1:], nwk_secured=False), fcs=False)


def test_a_zcl_error_keeps_mac_nwk_and_aps() -> None:
    good = parse_frame(_unsecured(), fcs=False)
    cut = dissect_frame(_unsecured()[:-1], fcs=False)
    assert (cut.mac, cut.nwk, cut.aps, cut.zcl) == (good.mac, good.nwk, good.aps, None)
    assert cut.error is not None and (cut.error.layer, cut.error.field) == (
        "zcl", "maximum_data_size")


def test_a_mic_failure_keeps_mac_and_nwk_header() -> None:
    raw = build(sample_frame(*OTA_CASES[0][1:]))
    good = parse_frame(raw, BUILD_KEYS)
    failed = dissect_frame(raw, KeyRing((bytes(16),), ()))
    assert isinstance(failed.error, MicFailure)
    assert (failed.mac, failed.nwk, failed.aps) == (good.mac, good.nwk, None)


def test_a_bad_fcs_is_flagged_with_the_headers_decoded() -> None:
    raw = bytearray(build(sample_frame(*OTA_CASES[0][1:])))
    raw[-1] ^= 0xFF
    flagged = dissect_frame(bytes(raw), BUILD_KEYS)
    assert flagged.error is not None and flagged.error.field == "fcs"
    assert flagged.zcl is not None  # the bytes were fine, only the FCS was not


def test_a_truncated_mac_address_keeps_the_frame_control_and_destination() -> None:
    raw = _unsecured()[:7]  # frame control, seq, PAN, destination, half a source
    partial = dissect_frame(raw, fcs=False)
    assert (partial.mac.seq, partial.mac.dst16, partial.mac.src16) == (1, 0x0000, None)
    assert partial.error is not None and (partial.error.layer, partial.error.field) == (
        "mac", "source")


def test_multipurpose_frame_is_unsupported_not_malformed() -> None:
    partial = dissect_frame(bytes.fromhex("0d00" "01"), fcs=False)
    assert partial.mac.frame_type == 5 and isinstance(partial.error, Unsupported)


def test_a_tunnel_that_does_not_decrypt_keeps_the_command() -> None:
    raw = build(tunnel(1))
    no_link_key = KeyRing((NETWORK_KEY,), ())
    han = dissect_frame(raw, no_link_key)
    assert isinstance(han.error, MicFailure) and han.error.layer == "aps"
    assert han.aps_command is not None and han.aps_command.name == "tunnel"
    assert han.aps_command.fields["destination"] == DEVICE_EUI64


def test_too_short_for_a_frame_control_is_the_only_raise() -> None:
    with pytest.raises(DecodeError):
        dissect_frame(b"\x01", fcs=False)
    with pytest.raises(DecodeError):
        dissect_frame(b"\x01\x02\x03", fcs=True)


SAMPLES = [build(frame, BUILD_KEYS) for frame in ROUND_TRIPS.values()]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES), st.data())
def test_damage_above_a_layer_keeps_that_layer(raw: bytes, data: st.DataObject) -> None:
    """Random damage at or after a position: the partial frame keeps everything whose
    bytes lie before it (headers decoded from undamaged bytes are the same); any error
    names an offset inside the frame. A valid FCS is recomputed so the damage reaches
    the upper layers."""
    body = bytearray(raw[:-2])
    good = parse_frame(raw, BUILD_KEYS)
    start = data.draw(st.integers(0, len(body) - 1))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(start, len(body) - 1))
        body[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(start, len(body)))
    damaged = bytes(body[:cut])
    try:
        han = dissect_frame(damaged + crc16_kermit(damaged).to_bytes(2, "little"), BUILD_KEYS)
    except DecodeError as error:
        assert len(damaged) < 2 and error.layer == "mac"
        return
    if han.error is not None:
        assert 0 <= han.error.offset <= len(damaged) + 2
    if start >= len(build_frame(HanFrame(good.mac), fcs=False)):
        assert han.mac == good.mac


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=127))
def test_random_bytes_never_escape_as_other_exceptions(raw: bytes) -> None:
    for fcs in (False, True):
        framed = raw + crc16_kermit(raw).to_bytes(2, "little") if fcs else raw
        try:
            han = dissect_frame(framed, BUILD_KEYS, fcs=fcs)
        except DecodeError:
            assert len(raw) < 2
            continue
        if han.error is not None:
            assert 0 <= han.error.offset <= len(framed)


def test_every_truncation_of_every_stack_frame_is_partial_not_a_crash() -> None:
    for raw in SAMPLES:
        full = parse_frame(raw, BUILD_KEYS)
        for cut in range(2, len(raw) - 2):
            body = raw[:cut]
            han = dissect_frame(body + crc16_kermit(body).to_bytes(2, "little"), BUILD_KEYS)
            assert han.error is not None or han.mac == full.mac
            assert han.error is None or 0 <= han.error.offset <= cut + 2


def test_relayed_frame_built_with_per_hop_security_is_read_by_its_securing_hop() -> None:
    """The emulator's routed frames: MAC source/destination per hop, NWK source and
    destination end to end, aux header source = the hop that secured it."""
    frame = relayed_block_request(1, with_src64=False)
    assert frame.nwk is not None and frame.nwk.security is not None
    hop2 = dataclasses.replace(frame, nwk=dataclasses.replace(
        frame.nwk, security=dataclasses.replace(frame.nwk.security, source64=TC_EUI64)))
    assert parse_frame(build(hop2), BUILD_KEYS).securing64 == TC_EUI64


def test_a_raw_payload_is_carried_where_no_layer_says_what() -> None:
    """The emulator's raw payload (a ZDO command it encodes itself): carried under the
    APS header, or as the NWK payload of a frame without APS; ignored when a layer is
    set."""
    zdo = device_annce(1)
    assert zdo.zdo is not None and zdo.aps is not None
    from hanota.layers.stack import encode_command

    raw_zdo = encode_command(zdo.zdo)
    bare = dataclasses.replace(zdo, zdo=None)
    assert build(zdo) == build_frame(bare, BUILD_KEYS, payload=raw_zdo)
    assert build_frame(zdo, BUILD_KEYS, payload=b"ignored") == build(zdo)
    unsecured = dataclasses.replace(zdo, nwk=dataclasses.replace(zdo.nwk, security=None))
    aps_frame = build(unsecured)[9 + 8 : -2]  # past the MAC and NWK headers
    raw = build_frame(HanFrame(zdo.mac, zdo.nwk), BUILD_KEYS, payload=aps_frame)
    assert raw == build(zdo)  # the NWK payload read as the APS frame it is


def test_nwk_broadcast_addresses_are_named() -> None:
    """R22 3.6.5: 0xFFFF all devices, 0xFFFD rx-on-when-idle, 0xFFFC routers and the
    coordinator, 0xFFFB low-power routers; a unicast has no broadcast name."""
    names = {}
    for dst16 in (0xFFFF, 0xFFFD, 0xFFFC, 0xFFFB, 0x4C21):
        frame = nwk_command(1, "leave", {"options": 0}, dst16=dst16)
        decoded = parse_frame(build(frame), BUILD_KEYS)
        assert decoded.nwk is not None and decoded.nwk.dst16 == dst16
        names[dst16] = decoded.nwk.broadcast
    assert names == {0xFFFF: "all devices", 0xFFFD: "rx-on-when-idle devices",
                     0xFFFC: "routers and coordinator", 0xFFFB: "low-power routers",
                     0x4C21: None}
