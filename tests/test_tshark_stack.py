"""Wireshark's ZigBee dissector (tshark) as the oracle for what lies under ZCL and
around it: NWK commands (ZigBee R22 3.4), APS commands (R22 4.4.11, the Transport Key
and the Tunnel decrypted with the key-transport key of ``ZigBeeAlliance09``), ZDO on
endpoint 0 (R22 2.4), NWK source routes and multicast (R22 3.3.1.7-8), APS group
addressing (R22 2.2.5.1.2), inter-PAN frames (Smart Energy 1.4 annex B), relayed frames
secured hop by hop (R22 4.3.1), APS fragments (R22 2.2.8.4.5), MAC-secured frames
(802.15.4-2015 9.4) and 2015 frames with IEs and sequence-number suppression (7.2, 7.4).

Every frame is built by the project's encoder (or by hand where the encoder does not
go), written to one pcap, dissected by one tshark run with the test network key and
the default trust-centre link key, and read by the project's stateful decoder: both
must show the same layers, addresses, commands and key fields.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
from hanota.layers.codec import crc16_kermit
from hanota.layers.dissector import Dissection, Dissector
from hanota.layers.model import HanFrame, Unsupported
from hanota.layers.security import KeyRing
from hanota.layers.zcl import encode_zcl, make_zcl
from ota_frames import DEVICE_EUI64, pcap_bytes
from stack_frames import (
    BUILD_KEYS,
    NETWORK_KEY,
    NEXT_NETWORK_KEY,
    ROUTER_EUI64,
    ROUTER_SHORT,
    TC_EUI64,
    WIRESHARK_DEFAULT_LINK_KEY,
    aps_command,
    build,
    device_annce,
    fragments,
    inter_pan,
    multicast_group,
    nwk_command,
    ota_notify,
    relayed_block_request,
    source_routed,
    transport_network_key,
    tunnel,
    zdo_frame,
)

pytestmark = [
    pytest.mark.tshark,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed"),
]

FIELDS = (
    "frame.number", "frame.protocols", "wpan.seq_no", "wpan.src16", "wpan.dst16",
    "zbee_nwk.src", "zbee_nwk.dst", "zbee_nwk.src64", "zbee.sec.src64", "zbee_nwk.cmd.id",
    "zbee_aps.cmd.id", "zbee_aps.cmd.key", "zbee_aps.cmd.key_type", "zbee_aps.cluster",
    "zbee_aps.zdp_cluster", "zbee_aps.group", "zbee_zdp.nwk_addr", "zbee_zdp.ext_addr",
    "zbee_nwk.relay.count", "zbee_nwk.relay.index", "zbee_nwk.relay",
    "zbee_nwk.multicast.mode", "zbee_aps.fragmentation", "zbee_aps.block", "zbee_zcl.cmd.id",
    "zbee_nwk.cmd.route.dest", "zbee_nwk.cmd.status", "zbee_nwk.cmd.link.address",
    "zbee_aps.cmd.seqno", "wpan.aux_sec.frame_counter", "wpan.aux_sec.key_index",
)


def _mac_secured() -> bytes:
    """802.15.4-2006 data frame secured by the MAC (level 5, key id mode 1): header,
    aux security header, then 20 encrypted bytes and a 4-byte MIC (802.15.4-2015 9.4)."""
    control = 0x0001 | 0x0008 | 0x0020 | 0x0040 | 2 << 10 | 1 << 12 | 2 << 14
    header = control.to_bytes(2, "little") + bytes((0x33,)) + bytes.fromhex("2b1a" "0000" "214c")
    aux = bytes((0x0D,)) + (12345).to_bytes(4, "little") + bytes((1,))
    body = header + aux + bytes(range(20)) + bytes.fromhex("deadbeef")
    return body + crc16_kermit(body).to_bytes(2, "little")


def _version_2015(ies: bool) -> bytes:
    """An Image Notify in an 802.15.4-2015 frame: sequence number suppressed, PAN id
    compression by table 7-2 (destination PAN only) and, when ``ies``, a header
    termination IE 2 (0x7F) before the payload (7.4.2)."""
    plain = build(HanFrame(*ota_notify(3)))[:-2]
    control = 0x0001 | 0x0020 | 0x0040 | 2 << 10 | 2 << 12 | 2 << 14 | 0x0100
    control |= 0x0200 if ies else 0
    header = control.to_bytes(2, "little") + bytes.fromhex("2b1a" "214c" "0000")
    body = header + (bytes.fromhex("803f") if ies else b"") + plain[9:]
    return body + crc16_kermit(body).to_bytes(2, "little")


def _with_next_key(seq: int) -> bytes:
    """An Image Notify secured with the next network key (key sequence number 1), which
    only the Tunnel's Transport Key tells."""
    mac, nwk, aps, zcl = ota_notify(seq)
    assert nwk.security is not None
    nwk = dataclasses.replace(nwk, security=dataclasses.replace(nwk.security, key_seq=1))
    return build(HanFrame(mac, nwk, aps, zcl), KeyRing((NEXT_NETWORK_KEY,), ()))


def _fragmented() -> list[bytes]:
    attribute = {"attribute": 0x0006, "status": 0, "data_type": 0x41, "value": bytes(150)}
    zcl = make_zcl("read_attributes_response", {"records": [attribute]}, 5, cluster=0x0000,
                   direction=1)
    return [build(frame) for frame in fragments(70, encode_zcl(zcl, 0x0000), 60)]


def _frames() -> list[tuple[str, bytes]]:
    tk_next = aps_command(40, "switch_key", {"key_seq": 1}, dst16=0xFFFD, key_id=None)
    frames = [
        ("transport_key", build(transport_network_key(1))),
        ("route_request", build(nwk_command(2, "route_request", {
            "options": 0x08, "route_request_id": 7, "destination": 0xFFFC, "path_cost": 0}))),
        ("route_reply", build(nwk_command(3, "route_reply", {
            "options": 0x30, "route_request_id": 7, "originator": 0x4C21, "responder": 0,
            "path_cost": 3, "originator64": DEVICE_EUI64, "responder64": TC_EUI64},
            dst16=0x4C21))),
        ("network_status", build(nwk_command(4, "network_status", {
            "status_code": 0x0B, "destination": 0x1234}))),
        ("leave", build(nwk_command(5, "leave", {"options": 0x20}, dst16=0xFFFD))),
        ("route_record", build(nwk_command(6, "route_record", {
            "relay_count": 2, "relays": [0x1111, 0x2222]}, dst16=0))),
        ("rejoin_request", build(nwk_command(7, "rejoin_request", {"capability": 0x8E},
                                             dst16=0, src16=0x4C21, source64=None))),
        ("rejoin_response", build(nwk_command(8, "rejoin_response", {
            "network_address": 0x4C21, "rejoin_status": 0}, dst16=0x4C21, source64=None))),
        ("link_status", build(nwk_command(9, "link_status", {"options": 0x62, "links": [
            {"address": 0x1111, "incoming_cost": 1, "outgoing_cost": 3},
            {"address": 0x2222, "incoming_cost": 7, "outgoing_cost": 7}]}))),
        ("end_device_timeout_request", build(nwk_command(
            10, "end_device_timeout_request", {"requested_timeout": 3, "configuration": 0},
            dst16=0, src16=0x4C21, source64=DEVICE_EUI64))),
        ("update_device", build(aps_command(12, "update_device", {
            "device_address": DEVICE_EUI64, "device_short_address": 0x4C21, "status": 1},
            dst16=0, src16=ROUTER_SHORT, key_id=None, source64=ROUTER_EUI64))),
        ("remove_device", build(aps_command(13, "remove_device", {
            "target_address": DEVICE_EUI64}, dst16=ROUTER_SHORT, key_id=0))),
        ("request_key", build(aps_command(14, "request_key", {"key_type": 4}, dst16=0,
                                          src16=0x4C21, key_id=0, source64=DEVICE_EUI64))),
        ("verify_key", build(aps_command(16, "verify_key", {
            "key_type": 4, "source": DEVICE_EUI64, "initiator_verify_key_hash": bytes(16)},
            dst16=0, src16=0x4C21, key_id=None, source64=DEVICE_EUI64))),
        ("confirm_key", build(aps_command(17, "confirm_key", {
            "status": 0, "key_type": 4, "destination": DEVICE_EUI64}, key_id=0))),
        ("device_annce", build(device_annce(18))),
        ("ieee_addr_req", build(zdo_frame(19, "ieee_addr_req", {
            "nwk_address_of_interest": 0x4C21, "request_type": 0, "start_index": 0},
            dst16=0x4C21, src16=0, source64=TC_EUI64))),
        ("relayed_with_src64", build(relayed_block_request(20, with_src64=True))),
        ("relayed", build(relayed_block_request(21, with_src64=False))),
        ("source_routed", build(source_routed(22))),
        ("multicast_group", build(multicast_group(23))),
        ("inter_pan", build(inter_pan(24))),
        ("mac_secured", _mac_secured()),
        ("version_2015_ies", _version_2015(ies=True)),
        ("version_2015", _version_2015(ies=False)),
        ("tunnel_next_key", build(tunnel(30, NEXT_NETWORK_KEY, 1))),
        ("switch_key", build(tk_next)),
        ("after_switch", _with_next_key(41)),
    ]
    frames += [(f"fragment_{i}", raw) for i, raw in enumerate(_fragmented())]
    return frames


FRAMES = _frames()
NUMBERS = {label: number for number, (label, _) in enumerate(FRAMES, 1)}


@pytest.fixture(scope="module")
def tshark_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    path: Path = tmp_path_factory.mktemp("stack") / "stack.pcap"
    path.write_bytes(pcap_bytes([raw for _, raw in FRAMES]))
    command = ["tshark", "-n", "-r", str(path),
               "-o", f'uat:zigbee_pc_keys:"{NETWORK_KEY.hex()}","Normal","nwk"',
               "-o", f'uat:zigbee_pc_keys:"{WIRESHARK_DEFAULT_LINK_KEY}","Normal","za09"',
               "-T", "fields", "-E", "separator=|", "-E", "occurrence=a"]
    for field in FIELDS:
        command += ["-e", field]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = [dict(zip(FIELDS, line.split("|"), strict=True)) for line in output.splitlines()]
    assert len(rows) == len(FRAMES)
    return {label: rows[number - 1] for label, number in NUMBERS.items()}


@pytest.fixture(scope="module")
def ours() -> dict[str, Dissection]:
    """The whole pcap through one dissector, with the network key only: what the
    default link key teaches (the next network key in the Tunnel) it must learn."""
    dissector = Dissector(KeyRing((NETWORK_KEY,), ()))
    return {label: dissector.dissect(raw, time=float(number), number=number)
            for (label, raw), number in zip(FRAMES, NUMBERS.values(), strict=True)}


def _hex16(value: int | None) -> str:
    return "" if value is None else f"0x{value:04x}"


def _eui(value: str | None) -> str:
    return "" if value is None else ":".join(value[i:i + 2] for i in range(0, 16, 2)).lower()


@pytest.mark.parametrize("label", [label for label, _ in FRAMES])
def test_layers_and_addresses_agree_with_tshark(label: str, tshark_rows: dict,
                                                ours: dict[str, Dissection]) -> None:
    row, han = tshark_rows[label], ours[label].han
    protocols = row["frame.protocols"].split(":")
    assert ("zbee_nwk" in protocols) == (han.nwk is not None), (label, protocols)
    assert ("zbee_aps" in protocols) == (han.aps is not None), (label, protocols)
    assert ("zbee_zdp" in protocols) == (han.zdo is not None), (label, protocols)
    has_zcl = "zbee_zcl" in protocols
    assert has_zcl == (han.zcl is not None), (label, protocols)
    mac = han.mac
    assert row["wpan.seq_no"] == ("" if mac.seq is None else str(mac.seq))
    assert row["wpan.src16"] == _hex16(mac.src16) and row["wpan.dst16"] == _hex16(mac.dst16)
    nwk = han.nwk
    if nwk is not None and nwk.src16 is not None:
        assert (row["zbee_nwk.src"], row["zbee_nwk.dst"]) == (_hex16(nwk.src16),
                                                               _hex16(nwk.dst16))
        assert row["zbee_nwk.src64"] == _eui(nwk.src64)
    # tshark lists the aux headers' sources in frame order: NWK, APS, tunneled APS
    sources = [han.securing64]
    if han.aps is not None and han.aps.security is not None:
        sources.append(han.aps.security.source64)
    if han.aps_command is not None and "tunneled_security" in han.aps_command.fields:
        sources.append(han.aps_command.fields["tunneled_security"]["source64"])
    expected = ",".join(_eui(source) for source in sources if source is not None)
    assert row["zbee.sec.src64"] == expected, label


@pytest.mark.parametrize("label", [label for label, _ in FRAMES[:10]])
def test_nwk_commands_agree_with_tshark(label: str, tshark_rows: dict, ours: dict) -> None:
    row, han = tshark_rows[label], ours[label].han
    if han.nwk_command is None:
        assert label == "transport_key"
        return
    assert row["zbee_nwk.cmd.id"] == f"0x{han.nwk_command.command_id:02x}"
    fields = han.nwk_command.fields
    if "destination" in fields:
        key = "zbee_nwk.cmd.route.dest" if label == "route_request" else "zbee_nwk.cmd.addr"
        assert row.get(key, _hex16(fields["destination"])) == _hex16(fields["destination"])
    if label == "link_status":
        addresses = [_hex16(link["address"]) for link in fields["links"]]
        assert row["zbee_nwk.cmd.link.address"].split(",") == addresses


def test_aps_commands_have_no_cluster_and_agree_with_tshark(tshark_rows: dict,
                                                            ours: dict) -> None:
    for label in ("transport_key", "update_device", "remove_device", "request_key",
                  "verify_key", "confirm_key", "switch_key", "tunnel_next_key"):
        row, han = tshark_rows[label], ours[label].han
        assert han.error is None, label
        assert han.aps is not None and han.aps_command is not None, label
        assert (han.aps.cluster, han.aps.profile, han.aps.dst_ep) == (None, None, None)
        assert row["zbee_aps.cluster"] == ""
        assert row["zbee_aps.cmd.id"].split(",")[0] == f"0x{han.aps_command.command_id:02x}"
    tk = ours["transport_key"].han.aps_command
    assert tshark_rows["transport_key"]["zbee_aps.cmd.key"] == tk.fields["key"].hex()
    tunnel_row = tshark_rows["tunnel_next_key"]
    tunneled = ours["tunnel_next_key"].han.aps_command.fields
    assert tunnel_row["zbee_aps.cmd.id"] == "0x0e,0x05"  # Tunnel, and the Transport Key in it
    assert tunneled["tunneled_command"] == "transport_key"
    assert tunnel_row["zbee_aps.cmd.key"] == tunneled["tunneled_fields"]["key"].hex()
    assert tshark_rows["switch_key"]["zbee_aps.cmd.seqno"] == "1"


def test_zdo_device_annce_agrees_with_tshark(tshark_rows: dict, ours: dict) -> None:
    row, zdo = tshark_rows["device_annce"], ours["device_annce"].han.zdo
    assert zdo is not None and zdo.name == "device_annce"
    assert row["zbee_aps.zdp_cluster"] == "0x0013"
    assert row["zbee_zdp.nwk_addr"] == _hex16(zdo.fields["nwk_address"])
    assert row["zbee_zdp.ext_addr"] == _eui(zdo.fields["ieee_address"])
    assert tshark_rows["ieee_addr_req"]["zbee_aps.zdp_cluster"] == "0x0001"


def test_routes_groups_and_inter_pan_agree_with_tshark(tshark_rows: dict, ours: dict) -> None:
    row, nwk = tshark_rows["source_routed"], ours["source_routed"].han.nwk
    assert nwk is not None and nwk.source_route is not None
    assert row["zbee_nwk.relay.count"] == str(len(nwk.source_route.relays))
    assert row["zbee_nwk.relay.index"] == str(nwk.source_route.relay_index)
    assert row["zbee_nwk.relay"].split(",") == [str(r) for r in nwk.source_route.relays]
    row, han = tshark_rows["multicast_group"], ours["multicast_group"].han
    assert han.nwk is not None and han.nwk.multicast is not None and han.aps is not None
    assert row["zbee_nwk.multicast.mode"] == str(han.nwk.multicast.mode)
    assert row["zbee_aps.group"] == _hex16(han.aps.group) and han.aps.dst_ep is None
    assert han.aps.delivery == 3
    row, han = tshark_rows["inter_pan"], ours["inter_pan"].han
    assert han.nwk is not None and han.nwk.frame_type == 3 and han.aps is not None
    assert row["zbee_aps.cluster"] == _hex16(han.aps.cluster)
    assert han.zcl is not None and han.zcl.command == "unknown_0x00"  # Get Current Price
    assert row["frame.protocols"].endswith("zbee_zcl:zbee_zcl_se.price")


def test_relayed_frames_name_originator_and_securing_hop_apart(tshark_rows: dict,
                                                               ours: dict) -> None:
    """Per-hop NWK security (R22 4.3.1): the aux header names the router, not the device
    that sent the frame; tshark shows both fields as we do."""
    for label in ("relayed_with_src64", "relayed"):
        han = ours[label].han
        assert han.first_hop is False
        assert han.securing64 == ROUTER_EUI64
        assert tshark_rows[label]["zbee.sec.src64"] == _eui(ROUTER_EUI64)
    assert ours["relayed_with_src64"].han.originator64 == DEVICE_EUI64
    assert tshark_rows["relayed_with_src64"]["zbee_nwk.src64"] == _eui(DEVICE_EUI64)
    assert ours["relayed"].han.originator64 is None  # not provable from this frame
    first_hop = ours["device_annce"].han
    assert first_hop.first_hop and first_hop.originator64 == first_hop.securing64


def test_mac_security_and_2015_frames_agree_with_tshark(tshark_rows: dict, ours: dict) -> None:
    row, han = tshark_rows["mac_secured"], ours["mac_secured"].han
    assert isinstance(han.error, Unsupported) and "MAC-encrypted" in han.error.reason
    assert han.mac.security is not None and han.nwk is None
    assert row["wpan.aux_sec.frame_counter"] == str(han.mac.security.frame_counter)
    assert row["wpan.aux_sec.key_index"] == f"0x{han.mac.security.key_index:02x}"
    for label in ("version_2015_ies", "version_2015"):
        han = ours[label].han
        assert han.error is None and han.mac.seq is None and han.mac.frame_version == 2
        assert han.zcl is not None and han.zcl.command == "image_notify"
    assert ours["version_2015_ies"].han.mac.ies == (("header", 0x7F),)


def test_fragments_reassemble_like_tshark(tshark_rows: dict, ours: dict) -> None:
    labels = [label for label in NUMBERS if label.startswith("fragment_")]
    for label in labels[:-1]:
        assert ours[label].han.zcl is None and ours[label].fragments == ()
        assert tshark_rows[label]["zbee_zcl.cmd.id"] == ""
    last = ours[labels[-1]]
    assert last.fragments == tuple(NUMBERS[label] for label in labels)
    assert last.han.zcl is not None and last.han.zcl.command == "read_attributes_response"
    assert tshark_rows[labels[-1]]["zbee_zcl.cmd.id"] == "0x01"
    assert last.han.zcl.fields["records"][0]["value"] == bytes(150)


def test_the_network_key_is_learnt_and_used_like_tshark(tshark_rows: dict, ours: dict) -> None:
    """The Tunnel's Transport Key (key sequence 1) decrypts with the default TC link key
    (R22 4.6.3.4); frames secured with that key after the Switch Key are then readable,
    by tshark (given the same two keys) and by us."""
    assert NEXT_NETWORK_KEY not in BUILD_KEYS.network_keys
    han = ours["after_switch"].han
    assert han.error is None and han.zcl is not None and han.nwk.security.key_seq == 1
    assert "zbee_zcl" in tshark_rows["after_switch"]["frame.protocols"]
