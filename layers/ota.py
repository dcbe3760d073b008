"""OTA Upgrade cluster (0x0019): the one declarative description of its ten commands.

Why a table: the fast codec (hanota.layers.zcl) and the scapy dissector
(hanota.layers.scapy_ota) are both generated from ``COMMANDS``, so the two cannot drift
apart, and the conditional fields (payload type, field-control bits, status-dependent
bodies) are stated once.
Field names are the snake_case names of shared/domain/zigbee-ota.md.
"""

from __future__ import annotations

from dataclasses import dataclass

CLUSTER_ID = 0x0019

SUCCESS = 0x00
NOT_AUTHORIZED = 0x7E
MALFORMED_COMMAND = 0x80
UNSUP_CLUSTER_COMMAND = 0x81
ABORT = 0x95
INVALID_IMAGE = 0x96
WAIT_FOR_DATA = 0x97
NO_IMAGE_AVAILABLE = 0x98
REQUIRE_MORE_IMAGE = 0x99

# Image Notify's and Query Next Image's wildcards: any manufacturer, any image type.
WILDCARD_MANUFACTURER = 0xFFFF
WILDCARD_IMAGE_TYPE = 0xFFFF

STATUS: dict[int, str] = {
    SUCCESS: "SUCCESS",
    NOT_AUTHORIZED: "NOT_AUTHORIZED",
    MALFORMED_COMMAND: "MALFORMED_COMMAND",
    UNSUP_CLUSTER_COMMAND: "UNSUP_CLUSTER_COMMAND",
    ABORT: "ABORT",
    INVALID_IMAGE: "INVALID_IMAGE",
    WAIT_FOR_DATA: "WAIT_FOR_DATA",
    NO_IMAGE_AVAILABLE: "NO_IMAGE_AVAILABLE",
    REQUIRE_MORE_IMAGE: "REQUIRE_MORE_IMAGE",
}

# Client attributes (read by the CHF with ZCL Read Attributes).
UPGRADE_SERVER_ID = 0x0000
FILE_OFFSET = 0x0001
CURRENT_FILE_VERSION = 0x0002
CURRENT_ZIGBEE_STACK_VERSION = 0x0003
DOWNLOADED_FILE_VERSION = 0x0004
DOWNLOADED_ZIGBEE_STACK_VERSION = 0x0005
IMAGE_UPGRADE_STATUS = 0x0006
MANUFACTURER_ID = 0x0007
IMAGE_TYPE_ID = 0x0008
MINIMUM_BLOCK_PERIOD = 0x0009
IMAGE_STAMP = 0x000A

ATTRIBUTES: dict[int, str] = {
    UPGRADE_SERVER_ID: "UpgradeServerID",
    FILE_OFFSET: "FileOffset",
    CURRENT_FILE_VERSION: "CurrentFileVersion",
    CURRENT_ZIGBEE_STACK_VERSION: "CurrentZigBeeStackVersion",
    DOWNLOADED_FILE_VERSION: "DownloadedFileVersion",
    DOWNLOADED_ZIGBEE_STACK_VERSION: "DownloadedZigBeeStackVersion",
    IMAGE_UPGRADE_STATUS: "ImageUpgradeStatus",
    MANUFACTURER_ID: "ManufacturerID",
    IMAGE_TYPE_ID: "ImageTypeID",
    MINIMUM_BLOCK_PERIOD: "MinimumBlockPeriod",
    IMAGE_STAMP: "ImageStamp",
}

# ZCL data type of each client attribute (ids of hanota.layers.zcl.DATA_TYPES).
ATTRIBUTE_TYPES: dict[int, int] = {
    UPGRADE_SERVER_ID: 0xF0,
    FILE_OFFSET: 0x23,
    CURRENT_FILE_VERSION: 0x23,
    CURRENT_ZIGBEE_STACK_VERSION: 0x21,
    DOWNLOADED_FILE_VERSION: 0x23,
    DOWNLOADED_ZIGBEE_STACK_VERSION: 0x21,
    IMAGE_UPGRADE_STATUS: 0x30,
    MANUFACTURER_ID: 0x21,
    IMAGE_TYPE_ID: 0x21,
    MINIMUM_BLOCK_PERIOD: 0x21,
    IMAGE_STAMP: 0x23,
}

IMAGE_UPGRADE_STATUS_NAMES: dict[int, str] = {
    0: "normal",
    1: "download in progress",
    2: "download complete",
    3: "waiting to upgrade",
    4: "count down",
    5: "wait for more",
    6: "waiting for external event",
}

CLIENT_TO_SERVER = 0
SERVER_TO_CLIENT = 1


@dataclass(frozen=True, slots=True)
class Condition:
    """When an optional field is present, stated on an earlier field of the command.

    kind ``"min"``: field >= value (image notify payload type); ``"bit"``: bit ``value``
    of the field is set (field control); ``"eq"``: field == value (response status).
    """

    field: str
    kind: str
    value: int

    def holds(self, observed: int) -> bool:
        if self.kind == "min":
            return observed >= self.value
        if self.kind == "bit":
            return bool(observed >> self.value & 1)
        return observed == self.value


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field. kind: ``u8``/``u16``/``u32`` (little-endian), ``eui64`` (text, reversed
    on the air) or ``octets`` (length given by the earlier field ``length_field``)."""

    name: str
    kind: str
    when: Condition | None = None
    length_field: str | None = None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One cluster-specific command: id, snake_case name, direction, fields in order."""

    command_id: int
    name: str
    direction: int
    fields: tuple[FieldSpec, ...]


def _f(name: str, kind: str, when: Condition | None = None) -> FieldSpec:
    return FieldSpec(name, kind, when)


def _image_id(when: Condition | None = None) -> tuple[FieldSpec, ...]:
    """manufacturer_code, image_type, file_version: the triple most commands carry."""
    return (
        _f("manufacturer_code", "u16", when),
        _f("image_type", "u16", when),
        _f("file_version", "u32", when),
    )


_OK = Condition("status", "eq", SUCCESS)
_WAIT = Condition("status", "eq", WAIT_FOR_DATA)

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(0x00, "image_notify", SERVER_TO_CLIENT, (
        _f("payload_type", "u8"),
        _f("query_jitter", "u8"),
        _f("manufacturer_code", "u16", Condition("payload_type", "min", 1)),
        _f("image_type", "u16", Condition("payload_type", "min", 2)),
        _f("file_version", "u32", Condition("payload_type", "min", 3)),
    )),
    CommandSpec(0x01, "query_next_image_request", CLIENT_TO_SERVER, (
        _f("field_control", "u8"),
        *_image_id(),
        _f("hardware_version", "u16", Condition("field_control", "bit", 0)),
    )),
    CommandSpec(0x02, "query_next_image_response", SERVER_TO_CLIENT, (
        _f("status", "u8"),
        *_image_id(_OK),
        _f("image_size", "u32", _OK),
    )),
    CommandSpec(0x03, "image_block_request", CLIENT_TO_SERVER, (
        _f("field_control", "u8"),
        *_image_id(),
        _f("file_offset", "u32"),
        _f("maximum_data_size", "u8"),
        _f("request_node_address", "eui64", Condition("field_control", "bit", 0)),
        _f("block_request_delay", "u16", Condition("field_control", "bit", 1)),
    )),
    CommandSpec(0x04, "image_page_request", CLIENT_TO_SERVER, (
        _f("field_control", "u8"),
        *_image_id(),
        _f("file_offset", "u32"),
        _f("maximum_data_size", "u8"),
        _f("page_size", "u16"),
        _f("response_spacing", "u16"),
        _f("request_node_address", "eui64", Condition("field_control", "bit", 0)),
    )),
    CommandSpec(0x05, "image_block_response", SERVER_TO_CLIENT, (
        _f("status", "u8"),
        *_image_id(_OK),
        _f("file_offset", "u32", _OK),
        _f("data_size", "u8", _OK),
        FieldSpec("data", "octets", _OK, length_field="data_size"),
        _f("current_time", "u32", _WAIT),
        _f("request_time", "u32", _WAIT),
        _f("minimum_block_period", "u16", _WAIT),
    )),
    CommandSpec(0x06, "upgrade_end_request", CLIENT_TO_SERVER, (
        _f("status", "u8"),
        *_image_id(),
    )),
    CommandSpec(0x07, "upgrade_end_response", SERVER_TO_CLIENT, (
        *_image_id(),
        _f("current_time", "u32"),
        _f("upgrade_time", "u32"),
    )),
    CommandSpec(0x08, "query_device_specific_file_request", CLIENT_TO_SERVER, (
        _f("request_node_address", "eui64"),
        *_image_id(),
        _f("zigbee_stack_version", "u16"),
    )),
    CommandSpec(0x09, "query_device_specific_file_response", SERVER_TO_CLIENT, (
        _f("status", "u8"),
        *_image_id(_OK),
        _f("image_size", "u32", _OK),
    )),
)

BY_NAME: dict[str, CommandSpec] = {spec.name: spec for spec in COMMANDS}
