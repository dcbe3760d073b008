"""Scapy's own ZigBee stack, extended by hanota.layers.scapy_ota, against the fast codec.

For every sample frame: build_frame -> (decrypt) -> scapy dissection shows the same
header and OTA field values as parse_frame, and scapy builds the same payload bytes. The
OTA cluster's frames show with its names, FrameRecord.scapy() gives the decrypted packet,
and scapy itself is left as it was (no method replaced, no setting changed).

Scapy is imported by a fixture, not at collection: loading scapy's 802.15.4 layer changes
what scapy's pcap readers return for link type 195 in the whole process, which other
test modules must not see just because this one was collected.
"""

from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType

import pytest
from hanota.layers import ota
from hanota.layers.codec import build_frame, parse_frame
from hanota.layers.model import FrameRecord, MicFailure
from hanota.layers.security import KeyRing
from hanota.layers.zcl import decode_zcl, encode_zcl
from ota_frames import ALL_CASES, LINK_KEY_HEX, NETWORK_KEY_HEX, OTA_CASES, sample_frame

KEYS = KeyRing.from_hex([f"nwk:{NETWORK_KEY_HEX}", f"link:{LINK_KEY_HEX}"])


@pytest.fixture(scope="module")
def so() -> ModuleType:
    """hanota.layers.scapy_ota, imported on first use."""
    return importlib.import_module("hanota.layers.scapy_ota")


@pytest.fixture(scope="module")
def zb() -> ModuleType:
    """scapy's ZigBee layers."""
    return importlib.import_module("scapy.layers.zigbee")


@pytest.mark.parametrize("aps_key_id", [None, 0])
@pytest.mark.parametrize(("case", "command", "fields"), ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_scapy_dissects_what_parse_frame_decodes(
    case: str, command: str, fields: dict, aps_key_id: int | None, so: ModuleType, zb: ModuleType
) -> None:
    raw = build_frame(sample_frame(command, fields, aps_key_id=aps_key_id), KEYS)
    ours = parse_frame(raw, KEYS)
    packet = so.dissect(raw, KEYS)
    assert ours.nwk is not None and ours.aps is not None and ours.zcl is not None

    nwk = packet[zb.ZigbeeNWK]
    assert (nwk.destination, nwk.source, nwk.seqnum, nwk.radius) == (
        ours.nwk.dst16, ours.nwk.src16, ours.nwk.seq, ours.nwk.radius)
    assert not nwk.flags.security
    aps = packet[zb.ZigbeeAppDataPayload]
    assert (aps.cluster, aps.profile, aps.dst_endpoint, aps.src_endpoint, aps.counter) == (
        ours.aps.cluster, ours.aps.profile, ours.aps.dst_ep, ours.aps.src_ep, ours.aps.counter)
    zcl = packet[zb.ZigbeeClusterLibrary]
    assert (zcl.transaction_sequence, zcl.command_identifier, zcl.command_direction,
            zcl.zcl_frametype, zcl.disable_default_response) == (
        ours.zcl.seq, ours.zcl.command_id, ours.zcl.direction, int(ours.zcl.cluster_specific),
        int(ours.zcl.disable_default_response))
    assert importlib.import_module("scapy.packet").Raw not in packet, "bytes left undissected"

    payload = zcl.payload
    if command in ota.BY_NAME:
        assert isinstance(payload, so.OTA_PACKETS[ota.BY_NAME[command].command_id])
        assert so.ota_fields(payload) == ours.zcl.fields
    elif command == "read_attributes":
        assert isinstance(payload, zb.ZCLGeneralReadAttributes)
        assert payload.attribute_identifiers == ours.zcl.fields["attributes"]
    elif command == "read_attributes_response":
        assert isinstance(payload, zb.ZCLGeneralReadAttributesResponse)
        records = [
            {"attribute": r.attribute_identifier, "status": r.status,
             "data_type": r.attribute_data_type,
             "value": int.from_bytes(r.attribute_value, "little")}
            for r in payload.read_attribute_status_record
        ]
        assert records == ours.zcl.fields["records"]
    else:
        assert isinstance(payload, zb.ZCLGeneralDefaultResponse)
        assert (payload.response_command_identifier, payload.status) == (
            ours.zcl.fields["command_id"], ours.zcl.fields["status"])


@pytest.mark.parametrize(("case", "command", "fields"), OTA_CASES, ids=[c[0] for c in OTA_CASES])
def test_scapy_builds_the_same_payload(
    case: str, command: str, fields: dict, so: ModuleType
) -> None:
    zcl = sample_frame(command, fields).zcl
    assert zcl is not None
    ours = encode_zcl(zcl, ota.CLUSTER_ID)
    complete = decode_zcl(ours, ota.CLUSTER_ID).fields  # with field_control etc. filled in
    assert bytes(so.ota_packet(command, complete)) == ours[3:]


def test_other_clusters_keep_scapy_behaviour(so: ModuleType) -> None:
    frame = sample_frame("image_notify", {"payload_type": 0, "query_jitter": 5})
    assert frame.aps is not None and frame.zcl is not None
    metering = dataclasses.replace(
        frame,
        aps=dataclasses.replace(frame.aps, cluster=0x0702),
        zcl=dataclasses.replace(frame.zcl, command="unknown_0x00", fields={"payload": b"\x00\x05"}),
    )
    packet = so.dissect(build_frame(metering, KEYS), KEYS)
    assert not any(isinstance(layer, tuple(so.OTA_PACKETS.values()))
                   for layer in packet.iterpayloads())


def test_dissect_without_the_key_is_a_mic_failure(so: ModuleType) -> None:
    raw = build_frame(sample_frame(*OTA_CASES[0][1:]), KEYS)
    with pytest.raises(MicFailure):
        so.dissect(raw, KeyRing())


@pytest.mark.parametrize(
    ("case", "shown"),
    [
        ("notify_type0", ["OTA Upgrade cluster", "command_identifier= image_notify",
                          "ZCL OTA Upgrade: Image Notify"]),
        ("read_attributes", ["command_identifier= read_attributes",
                             "attribute_identifiers= [CurrentFileVersion]"]),
        ("read_attributes_response", ["attribute_identifier= CurrentFileVersion",
                                      "status    = SUCCESS"]),
        ("default_response", ["ZCL OTA Upgrade: Default Response",
                              "response_command_identifier= image_notify"]),
        ("end_request_invalid", ["command_identifier= upgrade_end_request",
                                 "status    = INVALID_IMAGE"]),
    ],
)
def test_ota_cluster_frames_show_with_the_clusters_names(
    case: str, shown: list[str], so: ModuleType
) -> None:
    _, command, fields = next(c for c in ALL_CASES if c[0] == case)
    text = so.dissect(build_frame(sample_frame(command, fields), KEYS), KEYS).show(dump=True)
    for line in shown:
        assert line in text, line


def test_scapy_itself_is_left_as_it_was(so: ModuleType, zb: ModuleType) -> None:
    config = importlib.import_module("scapy.config").conf
    before = config.dot15d4_protocol
    so.dissect(build_frame(sample_frame(*OTA_CASES[0][1:]), KEYS), KEYS)
    assert config.dot15d4_protocol == before
    library = zb.ZigbeeClusterLibrary
    assert library.__dict__["guess_payload_class"].__module__ == "scapy.layers.zigbee"
    assert "dispatch_hook" not in library.__dict__
    ours = {so.ZclOta, *so.OTA_PACKETS.values()}
    for lower in (library, zb.ZigbeeAppDataPayload):
        assert not {cls for _, cls in lower.payload_guess} & ours, lower  # build-only binds


@pytest.mark.parametrize("fcs", [True, False])
def test_frame_record_gives_its_decrypted_scapy_packet(fcs: bool, zb: ModuleType) -> None:
    frame = sample_frame(*OTA_CASES[4][1:], aps_key_id=0)
    record = FrameRecord(1, 0.0, build_frame(frame, KEYS, fcs=fcs), fcs=fcs)
    packet = record.scapy(KEYS)
    assert not packet[zb.ZigbeeNWK].flags.security
    assert not packet[zb.ZigbeeAppDataPayload].frame_control.security
    assert packet.getlayer("ZCL OTA Upgrade: Query Next Image Request") is not None
    with pytest.raises(MicFailure):
        record.scapy()
