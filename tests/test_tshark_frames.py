"""Wireshark's ZigBee dissector (tshark) as the oracle for the whole codec.

Every OTA command and optional-field variant, Read Attributes (Response) of
CurrentFileVersion and a Default Response are built NWK-encrypted with a test key,
written to one pcap (link type 195) and dissected by one tshark run with the key: tshark
must decrypt every frame (APS layer present) and show the same field values as
parse_frame. Plus APS-secured frames (link key, key-transport key) and a frame secured
with a key tshark does not have: no APS layer there, and MicFailure from parse_frame.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hanota.layers.codec import build_frame, parse_frame
from hanota.layers.model import HanFrame, MicFailure
from hanota.layers.security import KeyRing
from ota_frames import (
    ALL_CASES,
    LINK_KEY_HEX,
    NETWORK_KEY_HEX,
    OTA_CASES,
    WRONG_KEY_HEX,
    pcap_bytes,
    sample_frame,
)

pytestmark = [
    pytest.mark.tshark,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed"),
]

KEYS = KeyRing.from_hex([f"nwk:{NETWORK_KEY_HEX}", f"link:{LINK_KEY_HEX}"])
WRONG_KEYS = KeyRing.from_hex([WRONG_KEY_HEX])
OTA = "zbee_zcl_general.ota."

# our field name -> tshark field (same for every command unless FIELD_CONTROL says)
TSHARK_FIELD = {
    "payload_type": OTA + "payload.type",
    "query_jitter": OTA + "query_jitter",
    "manufacturer_code": OTA + "manufacturer_code",
    "image_type": OTA + "image.type",
    "file_version": OTA + "file.version",
    "hardware_version": OTA + "hw_ver",
    "status": OTA + "status",
    "image_size": OTA + "image.size",
    "file_offset": OTA + "file.offset",
    "maximum_data_size": OTA + "max_data_size",
    "request_node_address": OTA + "ieee_addr",
    "block_request_delay": OTA + "min_block_period",  # Wireshark's older name for it
    "minimum_block_period": OTA + "min_block_period",
    "page_size": OTA + "page.size",
    "response_spacing": OTA + "rsp_spacing",
    "data_size": OTA + "data_size",
    "data": OTA + "image.data",
    "current_time": OTA + "current_time",
    "request_time": OTA + "request_time",
    "upgrade_time": OTA + "upgrade_time",
    "zigbee_stack_version": OTA + "zb_stack.ver",
}
FIELD_CONTROL = {
    "query_next_image_request": OTA + "query_next_image_req.field_ctrl",
    "image_block_request": OTA + "image_block_req.field_ctrl",
    "image_page_request": OTA + "image_page_req.field_ctrl",
}
# Fields tshark 4.0 does not dissect (its OTA dissector predates them): compared only
# if the installed tshark shows them.
TSHARK_BLIND = {("image_block_response", "minimum_block_period")}

APS_KEY_IDS = {"aps_link_key": 0, "aps_key_transport_key": 2, "aps_key_load_key": 3}

# (label, frame, keys it is built with, decryptable by the keys tshark is given?)
Case = tuple[str, HanFrame, KeyRing, bool]


def _cases() -> list[Case]:
    cases: list[Case] = [
        (label, sample_frame(command, fields, number + 1), KEYS, True)
        for number, (label, command, fields) in enumerate(ALL_CASES)
    ]
    notify = sample_frame("image_notify", {"payload_type": 0, "query_jitter": 10}, 89)
    broadcast = dataclasses.replace(
        notify,
        mac=dataclasses.replace(notify.mac, dst16=0xFFFF, ack_request=False),
        nwk=dataclasses.replace(notify.nwk, dst16=0xFFFF),
    )
    cases.append(("notify_broadcast", broadcast, KEYS, True))
    _, command, fields = OTA_CASES[17]
    for number, (label, key_id) in enumerate(APS_KEY_IDS.items()):
        frame = sample_frame(command, fields, 90 + number, aps_key_id=key_id)
        cases.append((label, frame, KEYS, True))
    cases.append(("wrong_key", sample_frame(command, fields, 99), WRONG_KEYS, False))
    return cases


CASES = _cases()
BY_LABEL = {case[0]: case for case in CASES}


def _flatten(tree: Any, out: dict[str, list[str]]) -> None:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(value, str):
                out.setdefault(key, []).append(value)
            else:
                _flatten(value, out)
    elif isinstance(tree, list):
        for item in tree:
            _flatten(item, out)


@pytest.fixture(scope="module")
def dissected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[str]]]:
    """One tshark run over all frames: label -> tshark field -> values in frame order."""
    pcap = Path(tmp_path_factory.mktemp("tshark")) / "ota.pcap"
    pcap.write_bytes(pcap_bytes([build_frame(frame, keys) for _, frame, keys, _ in CASES]))
    keys = [f'uat:zigbee_pc_keys:"{NETWORK_KEY_HEX}","Normal","nwk"',
            f'uat:zigbee_pc_keys:"{LINK_KEY_HEX}","Normal","link"']
    command = ["tshark", "-n", "-r", str(pcap), "-T", "json"]
    for key in keys:
        command += ["-o", key]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    packets = json.loads(result.stdout)
    assert len(packets) == len(CASES)
    out = {}
    for (label, _, _, _), packet in zip(CASES, packets, strict=True):
        fields: dict[str, list[str]] = {}
        _flatten(packet["_source"]["layers"], fields)
        out[label] = fields
    return out


def _value(tshark_text: str, ours: Any) -> Any:
    """tshark's text for a field, converted to the type of our value."""
    if isinstance(ours, bytes):
        return bytes.fromhex(tshark_text.replace(":", ""))
    if isinstance(ours, str):  # EUI-64
        return f"{int(tshark_text.replace(':', ''), 16):016X}"
    return int(tshark_text, 0)


def _one(fields: dict[str, list[str]], name: str, index: int = 0) -> str:
    assert name in fields, f"tshark shows no {name}"
    return fields[name][index]


def _check_headers(ours: HanFrame, fields: dict[str, list[str]]) -> None:
    assert ours.nwk is not None and ours.nwk.security is not None and ours.aps is not None
    assert _one(fields, "wpan.fcs_ok") == "1"
    assert int(_one(fields, "wpan.seq_no")) == ours.mac.seq
    assert int(_one(fields, "wpan.dst_pan"), 16) == ours.mac.pan_id
    assert int(_one(fields, "wpan.dst16"), 16) == ours.mac.dst16
    assert int(_one(fields, "wpan.src16"), 16) == ours.mac.src16
    assert int(_one(fields, "zbee_nwk.dst"), 16) == ours.nwk.dst16
    assert int(_one(fields, "zbee_nwk.src"), 16) == ours.nwk.src16
    assert int(_one(fields, "zbee_nwk.seqno")) == ours.nwk.seq
    assert int(_one(fields, "zbee_nwk.radius")) == ours.nwk.radius
    assert int(_one(fields, "zbee.sec.counter")) == ours.nwk.security.frame_counter
    assert _value(_one(fields, "zbee.sec.src64"), "") == ours.nwk.security.source64
    assert int(_one(fields, "zbee.sec.key_seqno")) == ours.nwk.security.key_seq
    assert int(_one(fields, "zbee_aps.cluster"), 16) == ours.aps.cluster
    assert int(_one(fields, "zbee_aps.profile"), 16) == ours.aps.profile
    assert int(_one(fields, "zbee_aps.dst")) == ours.aps.dst_ep
    assert int(_one(fields, "zbee_aps.src")) == ours.aps.src_ep
    assert int(_one(fields, "zbee_aps.counter")) == ours.aps.counter


def _check_zcl(ours: HanFrame, fields: dict[str, list[str]]) -> None:
    zcl = ours.zcl
    assert zcl is not None
    assert int(_one(fields, "zbee_zcl.cmd.tsn")) == zcl.seq
    assert int(_one(fields, "zbee_zcl.dir")) == zcl.direction
    assert int(_one(fields, "zbee_zcl.ddr")) == int(zcl.disable_default_response)
    assert int(_one(fields, "zbee_zcl.type"), 16) == int(zcl.cluster_specific)
    if not zcl.cluster_specific:
        assert int(_one(fields, "zbee_zcl.cmd.id"), 16) == zcl.command_id
        _check_general(zcl.command, zcl.fields, fields)
        return
    id_field = OTA + ("cmd.srv_tx.id" if zcl.direction else "cmd.srv_rx.id")
    assert int(_one(fields, id_field), 16) == zcl.command_id
    for name, value in zcl.fields.items():
        tshark_name = FIELD_CONTROL.get(zcl.command) if name == "field_control" else None
        tshark_name = tshark_name or TSHARK_FIELD[name]
        if (zcl.command, name) in TSHARK_BLIND and tshark_name not in fields:
            continue
        assert _value(_one(fields, tshark_name), value) == value, name


def _check_general(command: str, ours: dict[str, Any], fields: dict[str, list[str]]) -> None:
    if command == "read_attributes":
        shown = [int(v, 16) for v in fields[OTA + "attr_id"]]
        assert shown == ours["attributes"]
    elif command == "read_attributes_response":
        (record,) = ours["records"]
        assert int(_one(fields, OTA + "attr_id"), 16) == record["attribute"]
        assert int(_one(fields, "zbee_zcl.attr.status"), 16) == record["status"]
        assert int(_one(fields, "zbee_zcl.attr.data.type"), 16) == record["data_type"]
        # Wireshark shows CurrentFileVersion with the OTA file-version field
        assert int(_one(fields, OTA + "file.version"), 16) == record["value"]
    else:
        assert int(_one(fields, "zbee_zcl.cmd.id.rsp"), 16) == ours["command_id"]
        assert int(_one(fields, "zbee_zcl.attr.status"), 16) == ours["status"]


def _decryptable() -> Iterator[Case]:
    return (case for case in CASES if case[3])


@pytest.mark.parametrize("case", list(_decryptable()), ids=[c[0] for c in _decryptable()])
def test_tshark_decrypts_and_shows_the_same_values(
    case: Case, dissected: dict[str, dict[str, list[str]]]
) -> None:
    label, frame, keys, _ = case
    fields = dissected[label]
    assert "zbee_aps.cluster" in fields, "tshark did not decrypt the frame (no APS layer)"
    ours = parse_frame(build_frame(frame, keys), KEYS)
    assert ours.zcl is not None and frame.zcl is not None
    assert ours.zcl.command == frame.zcl.command
    _check_headers(ours, fields)
    _check_zcl(ours, fields)


@pytest.mark.parametrize("label", sorted(APS_KEY_IDS))
def test_tshark_decrypts_aps_security_with_the_link_key(
    label: str, dissected: dict[str, dict[str, list[str]]]
) -> None:
    fields = dissected[label]
    ours = parse_frame(build_frame(BY_LABEL[label][1], KEYS), KEYS)
    assert ours.aps is not None and ours.aps.security is not None
    assert ours.aps.security.key_id == APS_KEY_IDS[label]
    assert _one(fields, "zbee_aps.security") == "1"
    # the second aux header shown is the APS one, decrypted with (a key derived from)
    # the link key
    assert int(_one(fields, "zbee.sec.key_id", 1), 16) == APS_KEY_IDS[label]
    assert int(_one(fields, "zbee.sec.counter", 1)) == ours.aps.security.frame_counter
    assert _one(fields, "zbee.sec.decryption_key", 1) == "link"
    assert int(_one(fields, OTA + "status"), 16) == 0


def test_wrong_key_is_no_aps_layer_in_tshark_and_mic_failure_here(
    dissected: dict[str, dict[str, list[str]]]
) -> None:
    fields = dissected["wrong_key"]
    assert "zbee_nwk.security" in fields
    assert "zbee_aps.cluster" not in fields
    raw = build_frame(BY_LABEL["wrong_key"][1], WRONG_KEYS)
    with pytest.raises(MicFailure) as error:
        parse_frame(raw, KEYS)
    assert error.value.layer == "nwk"
    assert parse_frame(raw, WRONG_KEYS).zcl is not None
