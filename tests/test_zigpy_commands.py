"""Differential test against zigpy's OTA cluster command schemas (an independent
implementation of the same ZCL chapter): same bytes both ways, same field values."""

from __future__ import annotations

from typing import Any

import pytest
from hanota.layers import ota
from hanota.layers.zcl import decode_zcl, encode_zcl, make_zcl
from ota_frames import OTA_CASES, sample_frame

general = pytest.importorskip("zigpy.zcl.clusters.general")
zigpy_types = pytest.importorskip("zigpy.types")

# zigpy's names where they differ from zigbee-ota.md's, per command
ZIGPY_NAMES: dict[str, dict[str, str]] = {
    "image_notify": {"file_version": "new_file_version"},
    "query_next_image_request": {"file_version": "current_file_version"},
    "image_block_request": {"request_node_address": "request_node_addr",
                            "block_request_delay": "minimum_block_period"},
    "image_page_request": {"request_node_address": "request_node_addr"},
    "image_block_response": {"data": "image_data"},
    "query_device_specific_file_request": {
        "request_node_address": "request_node_addr",
        "zigbee_stack_version": "current_zigbee_stack_version",
    },
}
# fields zigpy does not carry as such (the length prefix of LVBytes)
NOT_IN_ZIGPY = {("image_block_response", "data_size")}


def _zigpy_command(command_id: int, direction: int) -> Any:
    table = general.Ota.client_commands if direction else general.Ota.server_commands
    return table[command_id]


def _to_zigpy(command: str, fields: dict[str, Any]) -> dict[str, Any]:
    names = ZIGPY_NAMES.get(command, {})
    spec = {f.name: f.kind for f in ota.BY_NAME[command].fields}
    out = {}
    for name, value in fields.items():
        if (command, name) in NOT_IN_ZIGPY:
            continue
        if spec[name] == "eui64":
            value = zigpy_types.EUI64.convert(":".join(value[i : i + 2] for i in range(0, 16, 2)))
        out[names.get(name, name)] = value
    return out


def _from_zigpy(value: Any) -> Any:
    if isinstance(value, list | tuple) and len(value) == 8:  # EUI64 (little-endian list)
        return str(value).replace(":", "").upper()
    if isinstance(value, bytes):
        return bytes(value)
    return int(value)


def test_zigpy_knows_every_ota_command_with_the_same_direction() -> None:
    for spec in ota.COMMANDS:
        assert _zigpy_command(spec.command_id, spec.direction) is not None, spec.name


@pytest.mark.parametrize(("case", "command", "fields"), OTA_CASES, ids=[c[0] for c in OTA_CASES])
def test_same_bytes_and_fields_as_zigpy(case: str, command: str, fields: dict) -> None:
    zcl = sample_frame(command, fields).zcl
    assert zcl is not None
    payload = encode_zcl(zcl, ota.CLUSTER_ID)
    ours = decode_zcl(payload, ota.CLUSTER_ID).fields  # complete, incl. derived fields
    zigpy_command = _zigpy_command(zcl.command_id, zcl.direction)

    # zigpy serializes our field values to our bytes
    assert zigpy_command.schema(**_to_zigpy(command, ours)).serialize() == payload[3:]

    # zigpy deserializes our bytes to our field values, consuming them all
    decoded, rest = zigpy_command.schema.deserialize(payload[3:])
    assert rest == b""
    shown = {
        name: _from_zigpy(value) for name, value in decoded.as_dict().items() if value is not None
    }
    assert shown == {name: _from_zigpy(value) for name, value in _to_zigpy(command, ours).items()}


foundation = pytest.importorskip("zigpy.zcl.foundation")
ATTRIBUTE_WRITES = [  # MinimumBlockPeriod written by the CHF, CurrentFileVersion reported
    ("write_attributes", [{"attribute": 0x0009, "data_type": 0x21, "value": 250}]),
    ("report_attributes", [{"attribute": 0x0002, "data_type": 0x23, "value": 0x01020304},
                           {"attribute": 0x0006, "data_type": 0x30, "value": 2}]),
]


@pytest.mark.parametrize(("command", "records"), ATTRIBUTE_WRITES,
                         ids=[c for c, _ in ATTRIBUTE_WRITES])
def test_attribute_records_read_as_zigpy_reads_them(command: str, records: list) -> None:
    """Write and Report Attributes (ZCL r8 2.5.7, 2.5.11): zigpy parses our bytes to the
    same attributes, types and values, and we decode back what we encoded."""
    zcl = make_zcl(command, {"records": records}, 7)
    payload = encode_zcl(zcl, ota.CLUSTER_ID)
    assert decode_zcl(payload, ota.CLUSTER_ID).fields == {"records": records}
    schema = foundation.GENERAL_COMMANDS[zcl.command_id].schema
    decoded, rest = schema.deserialize(payload[3:])
    assert rest == b""
    attributes = next(iter(decoded.as_dict().values()))
    assert [(int(a.attrid), int(a.value.type), int(a.value.value)) for a in attributes] == \
        [(r["attribute"], r["data_type"], r["value"]) for r in records]


@pytest.mark.parametrize("payload", [b"\x00", b"\x86\x09\x00\x87\x01\x00"],
                         ids=["all-written", "two-refused"])
def test_write_attributes_response_reads_as_zigpy_reads_it(payload: bytes) -> None:
    zcl = decode_zcl(b"\x00\x07\x04" + payload, ota.CLUSTER_ID)
    assert zcl.command == "write_attributes_response"
    schema = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Write_Attributes_rsp].schema
    decoded, _ = schema.deserialize(payload)
    assert [(r["status"], r["attribute"]) for r in zcl.fields["records"]] == \
        [(int(r.status), None if r.attrid is None else int(r.attrid))
         for r in decoded.status_records]
    assert encode_zcl(zcl, ota.CLUSTER_ID) == b"\x00\x07\x04" + payload
