"""Scapy layers for the OTA Upgrade cluster (0x0019), generated from hanota.layers.ota.COMMANDS.

Why: scapy's ZigBee stack stops at the ZCL header for cluster 0x0019. Generating its
packet classes from the same table as the fast codec makes scapy a second, independently
implemented reader of that table (its own field classes, its own conditional-field
machinery), and gives a test engineer who knows scapy the suite's frames and a way to
build their own (see ``hanota.layers.scapy_secure``).

How it binds, with scapy's own mechanisms only (no scapy method is replaced and no scapy
setting is changed for the process):

- ``ZclOta`` is a ``ZigbeeClusterLibrary`` subclass for the OTA cluster: its command id
  is named as an OTA command when cluster-specific, and its payloads are bound to it with
  ``bind_layers``: the ten OTA commands, and Read Attributes / Read Attributes Response /
  Default Response with the OTA attribute, command and status names.
- Scapy's ``ZigbeeAppDataPayload`` hands every ZCL frame to ``ZigbeeClusterLibrary`` (its
  ``guess_payload_class`` hard-codes it), so the subclass is chosen by cluster here, in
  ``dissect`` / ``ota_layers``, which re-read the ZCL bytes of a cluster 0x0019 frame as
  ``ZclOta``. ``FrameRecord.scapy()`` goes through ``dissect``.
- For building, ``bind_top_down`` fills the header bits (frame type, command id,
  direction; the APS cluster under ``ZclOta``) when a user stacks an OTA command on
  ``ZclOta`` or on scapy's own ``ZigbeeClusterLibrary``.

Scapy cannot decrypt ZigBee: ``dissect`` hands it ``hanota.layers.codec.plaintext_frame``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from hanota.layers import ota
from hanota.layers.codec import plaintext_frame
from hanota.layers.ota import CommandSpec, Condition, FieldSpec
from hanota.layers.security import KeyRing
from scapy.config import conf
from scapy.fields import (
    ByteEnumField,
    ByteField,
    ConditionalField,
    Field,
    FieldLenField,
    FieldListField,
    LEIntField,
    LEShortEnumField,
    LEShortField,
    PacketListField,
    StrLenField,
    XLEIntField,
    XLEShortField,
)
from scapy.layers.dot15d4 import Dot15d4, Dot15d4FCS, dot15d4AddressField
from scapy.layers.zigbee import (
    ZCLGeneralDefaultResponse,
    ZCLGeneralReadAttributes,
    ZCLGeneralReadAttributesResponse,
    ZCLReadAttributeStatusRecord,
    ZigbeeAppDataPayload,
    ZigbeeClusterLibrary,
)
from scapy.packet import Packet, bind_layers, bind_top_down

_HEX_FIELDS = {"manufacturer_code", "image_type", "file_version"}
FRAME_TYPE_PROFILE_WIDE = 0
FRAME_TYPE_CLUSTER_SPECIFIC = 1
READ_ATTRIBUTES = 0x00
READ_ATTRIBUTES_RESPONSE = 0x01
DEFAULT_RESPONSE = 0x0B

OTA_COMMAND_NAMES: dict[int, str] = {spec.command_id: spec.name for spec in ota.COMMANDS}
_GENERAL_COMMAND_NAMES: dict[int, str] = ZigbeeClusterLibrary.fields_desc[-1].i2s
_STATUS_NAMES: dict[int, str] = {
    **ZCLGeneralDefaultResponse.fields_desc[1].i2s, **ota.STATUS,
}


# ---- the ten OTA commands ------------------------------------------------------------------


def _condition(when: Condition) -> Callable[[Packet], bool]:
    return lambda pkt: when.holds(pkt.getfieldval(when.field))


def _field(spec: FieldSpec, command: CommandSpec) -> Field:
    """The scapy field for one table entry."""
    name = spec.name
    if spec.kind == "u8":
        if name == "status":
            return ByteEnumField(name, 0, ota.STATUS)
        length_of = next(
            (f.name for f in command.fields if f.length_field == name), None
        )
        if length_of is not None:
            return FieldLenField(name, None, length_of=length_of, fmt="B")
        return ByteField(name, 0)
    if spec.kind == "u16":
        return XLEShortField(name, 0) if name in _HEX_FIELDS else LEShortField(name, 0)
    if spec.kind == "u32":
        return XLEIntField(name, 0) if name in _HEX_FIELDS else LEIntField(name, 0)
    if spec.kind == "eui64":
        return dot15d4AddressField(name, 0, adjust=lambda pkt, x: 8)
    length_field = spec.length_field
    assert length_field is not None
    return StrLenField(name, b"", length_from=lambda pkt: pkt.getfieldval(length_field))


def _packet_class(spec: CommandSpec) -> type[Packet]:
    fields_desc = []
    for field_spec in spec.fields:
        field = _field(field_spec, spec)
        if field_spec.when is not None:
            field = ConditionalField(field, _condition(field_spec.when))
        fields_desc.append(field)
    class_name = "ZCLOta" + "".join(word.capitalize() for word in spec.name.split("_"))
    title = spec.name.replace("_", " ").title()
    return type(class_name, (Packet,), {"name": f"ZCL OTA Upgrade: {title}",
                                        "fields_desc": fields_desc})


OTA_PACKETS: dict[int, type[Packet]] = {
    spec.command_id: _packet_class(spec) for spec in ota.COMMANDS
}
OTA_PACKETS_BY_NAME: dict[str, type[Packet]] = {
    spec.name: OTA_PACKETS[spec.command_id] for spec in ota.COMMANDS
}
# Module attributes, so ``from hanota.layers.scapy_ota import ZCLOtaImageNotify`` works.
globals().update({cls.__name__: cls for cls in OTA_PACKETS.values()})


# ---- profile-wide commands with the OTA cluster's names -------------------------------------


class ZCLOtaReadAttributes(ZCLGeneralReadAttributes):
    """Read Attributes on the OTA cluster: attribute ids named (CurrentFileVersion ...)."""

    name = "ZCL OTA Upgrade: Read Attributes"
    fields_desc: ClassVar[list[Field]] = [
        FieldListField("attribute_identifiers", [], LEShortEnumField("", 0, ota.ATTRIBUTES)),
    ]


class ZCLOtaReadAttributeStatusRecord(ZCLReadAttributeStatusRecord):
    name = "ZCL OTA Upgrade: Read Attribute Status Record"
    fields_desc: ClassVar[list[Field]] = [
        LEShortEnumField("attribute_identifier", 0, ota.ATTRIBUTES),
        *ZCLReadAttributeStatusRecord.fields_desc[1:],
    ]


class ZCLOtaReadAttributesResponse(ZCLGeneralReadAttributesResponse):
    name = "ZCL OTA Upgrade: Read Attributes Response"
    fields_desc: ClassVar[list[Field]] = [
        PacketListField("read_attribute_status_record", [], ZCLOtaReadAttributeStatusRecord),
    ]


class ZCLOtaDefaultResponse(ZCLGeneralDefaultResponse):
    """Default Response on the OTA cluster. The command it answers is named as an OTA
    command: in this cluster a Default Response answers cluster-specific commands (a
    profile-wide Read Attributes gets its own response)."""

    name = "ZCL OTA Upgrade: Default Response"
    fields_desc: ClassVar[list[Field]] = [
        ByteEnumField("response_command_identifier", 0, OTA_COMMAND_NAMES),
        ByteEnumField("status", 0, _STATUS_NAMES),
    ]


# ---- the OTA cluster's ZCL header -----------------------------------------------------------


class _CommandIdField(ByteField):
    """The ZCL command id, named by frame type: an OTA command when cluster-specific."""

    def i2repr(self, pkt: Packet | None, x: int) -> str:
        cluster_specific = pkt is not None and pkt.getfieldval("zcl_frametype") == 1 and (
            not pkt.getfieldval("manufacturer_specific"))
        names = OTA_COMMAND_NAMES if cluster_specific else _GENERAL_COMMAND_NAMES
        return names.get(x, f"0x{x:02x}")


class ZclOta(ZigbeeClusterLibrary):
    """ZCL frame of the OTA Upgrade cluster (0x0019)."""

    name = "Zigbee Cluster Library (ZCL) Frame: OTA Upgrade cluster"
    fields_desc: ClassVar[list[Field]] = [
        *ZigbeeClusterLibrary.fields_desc[:-1],
        _CommandIdField("command_identifier", 0),
    ]
    # Its own bindings, consulted before those inherited from ZigbeeClusterLibrary.
    payload_guess: ClassVar[list[Any]] = []


for _spec in ota.COMMANDS:
    _direction = 1 if _spec.direction == ota.SERVER_TO_CLIENT else 0
    _bits = {"zcl_frametype": FRAME_TYPE_CLUSTER_SPECIFIC,
             "command_identifier": _spec.command_id, "command_direction": _direction}
    bind_layers(ZclOta, OTA_PACKETS[_spec.command_id], manufacturer_specific=0, **_bits)
    bind_top_down(ZigbeeClusterLibrary, OTA_PACKETS[_spec.command_id], **_bits)
for _command, _payload in (
    (READ_ATTRIBUTES, ZCLOtaReadAttributes),
    (READ_ATTRIBUTES_RESPONSE, ZCLOtaReadAttributesResponse),
    (DEFAULT_RESPONSE, ZCLOtaDefaultResponse),
):
    bind_layers(ZclOta, _payload, zcl_frametype=FRAME_TYPE_PROFILE_WIDE,
                manufacturer_specific=0, command_identifier=_command)
bind_top_down(ZigbeeAppDataPayload, ZclOta, cluster=ota.CLUSTER_ID)


# ---- dissection ------------------------------------------------------------------------------


@contextmanager
def _zigbee_above_802154() -> Iterator[None]:
    """Scapy picks the 802.15.4 upper layer from ``conf.dot15d4_protocol``; it is set
    only while this module dissects, so nothing else in the process sees a change."""
    previous = conf.dot15d4_protocol
    conf.dot15d4_protocol = "zigbee"
    try:
        yield
    finally:
        conf.dot15d4_protocol = previous


def ota_layers(packet: Packet) -> Packet:
    """``packet`` with the ZCL frame of an OTA-cluster frame read as ``ZclOta`` (in place;
    returned for chaining). Other clusters are left as scapy dissected them."""
    zcl = packet.getlayer(ZigbeeClusterLibrary)
    if zcl is None or isinstance(zcl, ZclOta):
        return packet
    aps = zcl.underlayer
    if not isinstance(aps, ZigbeeAppDataPayload) or aps.getfieldval("cluster") != ota.CLUSTER_ID:
        return packet
    zcl_bytes = bytes(zcl.original) if zcl.original else bytes(zcl)
    aps.remove_payload()
    aps.add_payload(ZclOta(zcl_bytes, _underlayer=aps))
    return packet


def dissect(raw: bytes, keys: KeyRing | None = None, *, fcs: bool = True) -> Packet:
    """Scapy packet of a (possibly NWK/APS-secured) 802.15.4 frame, decrypted first.

    ``fcs``: whether ``raw`` ends with the FCS (``Dot15d4FCS``) or not (``Dot15d4``), as
    ``FrameRecord.fcs`` says. Raises ``MicFailure`` when a secured layer no key verifies
    and ``DecodeError`` when the frame does not decode (hanota.layers.codec decides both).
    """
    plain = plaintext_frame(raw, keys, fcs=fcs)
    with _zigbee_above_802154():
        packet = Dot15d4FCS(plain) if fcs else Dot15d4(plain)
    return ota_layers(packet)


def ota_fields(packet: Packet) -> dict[str, Any]:
    """Field values of a dissected OTA command layer in hanota.layers.model's conventions (EUI-64
    as 16 upper-case hex digits). Only the fields scapy found present are returned: its
    ConditionalField leaves an absent field None."""
    out: dict[str, Any] = {}
    for field in packet.fields_desc:
        value = packet.fields.get(field.name)
        if value is None:
            continue
        if isinstance(field.fld if isinstance(field, ConditionalField) else field,
                      dot15d4AddressField):
            value = f"{value:016X}"
        out[field.name] = value
    return out


def ota_packet(command: str, fields: dict[str, Any]) -> Packet:
    """Scapy packet of an OTA command payload from fields in hanota.layers.model's conventions."""
    spec = ota.BY_NAME[command]
    kinds = {f.name: f.kind for f in spec.fields}
    values = {
        name: int(value, 16) if kinds.get(name) == "eui64" else value
        for name, value in fields.items()
        if name in kinds
    }
    return OTA_PACKETS_BY_NAME[command](**values)
