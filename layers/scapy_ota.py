"""Scapy dissection of the OTA Upgrade cluster, generated from layers.ota.COMMANDS.

Why: scapy's ZigBee stack stops at the ZCL header for cluster 0x0019. Generating its
packet classes from the same table as the fast codec makes scapy a second, independently
implemented reader of that table (its own field classes, its own conditional-field
machinery) for interactive inspection and cross-checks, without a second description
to keep in step.

Importing this module binds the classes into scapy's own stack
(``Dot15d4FCS -> ZigbeeNWK -> ZigbeeAppDataPayload -> ZigbeeClusterLibrary``) and selects
ZigBee as the 802.15.4 upper layer. Scapy cannot decrypt ZigBee, so ``dissect`` hands it
``layers.codec.plaintext_frame``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scapy.config import conf
from scapy.fields import (
    ByteEnumField,
    ByteField,
    ConditionalField,
    Field,
    FieldLenField,
    LEIntField,
    LEShortField,
    StrLenField,
    XLEIntField,
    XLEShortField,
)
from scapy.layers.dot15d4 import Dot15d4FCS, dot15d4AddressField
from scapy.layers.zigbee import ZigbeeClusterLibrary
from scapy.packet import Packet

from layers import ota
from layers.codec import plaintext_frame
from layers.ota import CommandSpec, Condition, FieldSpec
from layers.security import KeyRing

_HEX_FIELDS = {"manufacturer_code", "image_type", "file_version"}


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

_scapy_guess = ZigbeeClusterLibrary.guess_payload_class


def _guess_payload_class(self: ZigbeeClusterLibrary, payload: bytes) -> type[Packet]:
    """OTA cluster-specific commands by id; everything else as scapy decides."""
    under = self.underlayer
    if (
        self.zcl_frametype == 1
        and not self.manufacturer_specific
        and under is not None
        and under.getfieldval("cluster") == ota.CLUSTER_ID
        and self.command_identifier in OTA_PACKETS
    ):
        return OTA_PACKETS[self.command_identifier]
    return _scapy_guess(self, payload)


ZigbeeClusterLibrary.guess_payload_class = _guess_payload_class
conf.dot15d4_protocol = "zigbee"


def dissect(raw: bytes, keys: KeyRing | None = None, *, fcs: bool = True) -> Packet:
    """Scapy packet of a (possibly NWK/APS-secured) frame with FCS, decrypted first."""
    if not fcs:
        raise ValueError("scapy's Dot15d4FCS needs the FCS: pass the frame with it")
    return Dot15d4FCS(plaintext_frame(raw, keys))


def ota_fields(packet: Packet) -> dict[str, Any]:
    """Field values of a dissected OTA command layer in layers.model's conventions (EUI-64
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
    """Scapy packet of an OTA command payload from fields in layers.model's conventions."""
    spec = ota.BY_NAME[command]
    kinds = {f.name: f.kind for f in spec.fields}
    values = {
        name: int(value, 16) if kinds.get(name) == "eui64" else value
        for name, value in fields.items()
        if name in kinds
    }
    return OTA_PACKETS_BY_NAME[command](**values)
