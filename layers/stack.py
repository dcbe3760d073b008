"""Commands of the ZigBee stack under ZCL: NWK commands, APS commands, ZDO messages.

Why one declarative table per layer rather than code per command: these frames are
rare (joins, rejoins, route discovery, key transport), so clarity beats speed, and one
small field codec decodes and encodes them all. Layouts are those of the ZigBee
specification R22 (05-3474-22): NWK commands 3.4, APS commands 4.4.11, ZDO 2.4.3/2.4.4.
A command this module knows by name only keeps its payload as bytes (``payload``);
bytes after the last known field are kept as ``trailing``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from hanota.layers.model import DecodeError, StackCommand

TRAILING = "trailing"
PAYLOAD = "payload"


class Field(NamedTuple):
    """One field. kind: u8, u16, u32, i8, eui64 (8 bytes, shown big-endian), key (16
    bytes), u16_list (``count`` names the field holding the number of entries, or
    ``count_mask`` masks it), link_status_list, power_delta_list. ``when`` decides from
    the fields decoded so far whether the field is present. A NamedTuple, like the
    layouts: a hundred are made at import, and a dataclass costs a millisecond a class
    to create."""

    name: str
    kind: str
    when: Callable[[dict[str, Any]], bool] | None = None
    count: str | None = None
    count_mask: int = 0xFF


def _bit(name: str, mask: int) -> Callable[[dict[str, Any]], bool]:
    return lambda fields: bool(fields[name] & mask)


def _one_of(name: str, *values: int) -> Callable[[dict[str, Any]], bool]:
    return lambda fields: fields[name] in values


class CommandLayout(NamedTuple):
    command_id: int
    name: str
    fields: tuple[Field, ...] | None  # None: known by name only, payload kept as bytes


def _table(*layouts: CommandLayout) -> dict[int, CommandLayout]:
    return {layout.command_id: layout for layout in layouts}


def _cmd(command_id: int, name: str, *fields: Field) -> CommandLayout:
    return CommandLayout(command_id, name, tuple(fields))


def _named(command_id: int, name: str) -> CommandLayout:
    return CommandLayout(command_id, name, None)


# ---- NWK commands (R22 3.4) -------------------------------------------------------------

NWK_COMMANDS = _table(
    _cmd(0x01, "route_request", Field("options", "u8"), Field("route_request_id", "u8"),
         Field("destination", "u16"), Field("path_cost", "u8"),
         Field("destination64", "eui64", _bit("options", 0x20))),
    _cmd(0x02, "route_reply", Field("options", "u8"), Field("route_request_id", "u8"),
         Field("originator", "u16"), Field("responder", "u16"), Field("path_cost", "u8"),
         Field("originator64", "eui64", _bit("options", 0x10)),
         Field("responder64", "eui64", _bit("options", 0x20))),
    _cmd(0x03, "network_status", Field("status_code", "u8"), Field("destination", "u16")),
    _cmd(0x04, "leave", Field("options", "u8")),  # 0x20 rejoin, 0x40 request, 0x80 children
    _cmd(0x05, "route_record", Field("relay_count", "u8"),
         Field("relays", "u16_list", count="relay_count")),
    _cmd(0x06, "rejoin_request", Field("capability", "u8")),
    _cmd(0x07, "rejoin_response", Field("network_address", "u16"),
         Field("rejoin_status", "u8")),
    _cmd(0x08, "link_status", Field("options", "u8"),
         Field("links", "link_status_list", count="options", count_mask=0x1F)),
    _cmd(0x09, "network_report", Field("options", "u8"), Field("extended_pan_id", "eui64"),
         Field("pan_ids", "u16_list", count="options", count_mask=0x1F)),
    _cmd(0x0A, "network_update", Field("options", "u8"), Field("extended_pan_id", "eui64"),
         Field("update_id", "u8"), Field("new_pan_id", "u16")),
    _cmd(0x0B, "end_device_timeout_request", Field("requested_timeout", "u8"),
         Field("configuration", "u8")),
    _cmd(0x0C, "end_device_timeout_response", Field("status", "u8"),
         Field("parent_information", "u8")),
    _cmd(0x0D, "link_power_delta", Field("options", "u8"), Field("count", "u8"),
         Field("deltas", "power_delta_list", count="count")),
    _named(0x0E, "network_commissioning_request"),  # R23
    _named(0x0F, "network_commissioning_response"),  # R23
)

# ---- APS commands (R22 4.4.11) ----------------------------------------------------------

KEY_TYPE_NETWORK = 1
KEY_TYPE_APPLICATION_LINK = 3
KEY_TYPE_TRUST_CENTER_LINK = 4
APS_TUNNEL = 0x0E
APS_TRANSPORT_KEY = 0x05
APS_SWITCH_KEY = 0x09

APS_COMMANDS = _table(
    _named(0x01, "skke_1"),
    _named(0x02, "skke_2"),
    _named(0x03, "skke_3"),
    _named(0x04, "skke_4"),
    # key types (R22 table 4-13): 0 TC master (obsolete), 1 standard network key,
    # 2 application master (obsolete), 3 application link key, 4 TC link key,
    # 5 high-security network key (obsolete)
    _cmd(APS_TRANSPORT_KEY, "transport_key", Field("key_type", "u8"), Field("key", "key"),
         Field("key_seq", "u8", _one_of("key_type", 1, 5)),
         Field("destination", "eui64", _one_of("key_type", 0, 1, 4, 5)),
         Field("source", "eui64", _one_of("key_type", 0, 1, 4, 5)),
         Field("partner", "eui64", _one_of("key_type", 2, 3)),
         Field("initiator", "u8", _one_of("key_type", 2, 3))),
    _cmd(0x06, "update_device", Field("device_address", "eui64"),
         Field("device_short_address", "u16"), Field("status", "u8")),
    _cmd(0x07, "remove_device", Field("target_address", "eui64")),
    _cmd(0x08, "request_key", Field("key_type", "u8"),
         Field("partner", "eui64", _one_of("key_type", 2))),
    _cmd(APS_SWITCH_KEY, "switch_key", Field("key_seq", "u8")),
    _named(0x0A, "ea_init_challenge"),
    _named(0x0B, "ea_response_challenge"),
    _named(0x0C, "ea_init_mac_data"),
    _named(0x0D, "ea_response_mac_data"),
    _cmd(APS_TUNNEL, "tunnel", Field("destination", "eui64")),  # + the tunneled APS frame
    _cmd(0x0F, "verify_key", Field("key_type", "u8"), Field("source", "eui64"),
         Field("initiator_verify_key_hash", "key")),
    _cmd(0x10, "confirm_key", Field("status", "u8"), Field("key_type", "u8"),
         Field("destination", "eui64")),
    _named(0x11, "relay_message_downstream"),  # R23
    _named(0x12, "relay_message_upstream"),  # R23
)

# ---- ZDO (R22 2.4.3 client requests, 2.4.4 server responses) ----------------------------

ZDO_DEVICE_ANNCE = 0x0013
ZDO_RESPONSE = 0x8000
_NWK_OF_INTEREST = Field("nwk_address_of_interest", "u16")
_STATUS_OK = _one_of("status", 0)

_ZDO_NAMES: dict[int, str] = {
    0x0000: "nwk_addr", 0x0001: "ieee_addr", 0x0002: "node_desc", 0x0003: "power_desc",
    0x0004: "simple_desc", 0x0005: "active_ep", 0x0006: "match_desc", 0x0010: "complex_desc",
    0x0011: "user_desc", 0x0012: "discovery_cache", 0x0015: "system_server_discovery",
    0x0016: "discovery_store", 0x0017: "node_desc_store", 0x0018: "power_desc_store",
    0x0019: "active_ep_store", 0x001A: "simple_desc_store", 0x001B: "remove_node_cache",
    0x001C: "find_node_cache", 0x001D: "extended_simple_desc", 0x001E: "extended_active_ep",
    0x001F: "parent_annce", 0x0020: "end_device_bind", 0x0021: "bind", 0x0022: "unbind",
    0x0023: "bind_register", 0x0024: "replace_device", 0x0025: "store_bkup_bind_entry",
    0x0026: "remove_bkup_bind_entry", 0x0027: "backup_bind_table",
    0x0028: "recover_bind_table", 0x0029: "backup_source_bind",
    0x002A: "recover_source_bind", 0x0030: "mgmt_nwk_disc", 0x0031: "mgmt_lqi",
    0x0032: "mgmt_rtg", 0x0033: "mgmt_bind", 0x0034: "mgmt_leave",
    0x0035: "mgmt_direct_join", 0x0036: "mgmt_permit_joining", 0x0037: "mgmt_cache",
    0x0038: "mgmt_nwk_update", 0x0039: "mgmt_nwk_enhanced_update",
    0x003A: "mgmt_nwk_ieee_joining_list",
}
_ZDO_SPECIAL_NAMES = {
    ZDO_DEVICE_ANNCE: "device_annce",
    0x0014: "user_desc_set",
    0x8014: "user_desc_conf",
    0x8038: "mgmt_nwk_update_notify",
    0x803B: "mgmt_nwk_unsolicited_enhanced_update_notify",
}


def _zdo_table() -> dict[int, CommandLayout]:
    table = {cluster: _named(cluster, name + "_req") for cluster, name in _ZDO_NAMES.items()}
    for cluster, name in _ZDO_NAMES.items():
        table[ZDO_RESPONSE | cluster] = _cmd(ZDO_RESPONSE | cluster, name + "_rsp",
                                             Field("status", "u8"))
    for cluster, name in _ZDO_SPECIAL_NAMES.items():
        table[cluster] = _named(cluster, name)
    specific = [
        _cmd(0x0000, "nwk_addr_req", Field("ieee_address", "eui64"),
             Field("request_type", "u8"), Field("start_index", "u8")),
        _cmd(0x0001, "ieee_addr_req", _NWK_OF_INTEREST, Field("request_type", "u8"),
             Field("start_index", "u8")),
        _cmd(0x0002, "node_desc_req", _NWK_OF_INTEREST),
        _cmd(0x0003, "power_desc_req", _NWK_OF_INTEREST),
        _cmd(0x0004, "simple_desc_req", _NWK_OF_INTEREST, Field("endpoint", "u8")),
        _cmd(0x0005, "active_ep_req", _NWK_OF_INTEREST),
        _cmd(ZDO_DEVICE_ANNCE, "device_annce", Field("nwk_address", "u16"),
             Field("ieee_address", "eui64"), Field("capability", "u8")),
        _cmd(0x0031, "mgmt_lqi_req", Field("start_index", "u8")),
        _cmd(0x0034, "mgmt_leave_req", Field("device_address", "eui64"), Field("flags", "u8")),
        _cmd(0x0036, "mgmt_permit_joining_req", Field("permit_duration", "u8"),
             Field("tc_significance", "u8")),
        _cmd(0x8000, "nwk_addr_rsp", Field("status", "u8"),
             Field("ieee_address", "eui64", _STATUS_OK),
             Field("nwk_address", "u16", _STATUS_OK)),
        _cmd(0x8001, "ieee_addr_rsp", Field("status", "u8"),
             Field("ieee_address", "eui64", _STATUS_OK),
             Field("nwk_address", "u16", _STATUS_OK)),
    ]
    table.update({layout.command_id: layout for layout in specific})
    return table


ZDO_COMMANDS = _zdo_table()
LAYOUTS = {"nwk": NWK_COMMANDS, "aps": APS_COMMANDS, "zdo": ZDO_COMMANDS}

# ---- the field codec --------------------------------------------------------------------

_FIXED = {"u8": 1, "i8": 1, "u16": 2, "u32": 4, "eui64": 8, "key": 16}


def _truncated(layer: str, name: str, pos: int, need: int, have: int) -> DecodeError:
    return DecodeError(layer, name, pos, f"truncated: need {need} bytes, {max(have, 0)} left")


def _decode_fields(
    layer: str, layout: tuple[Field, ...], data: bytes, pos: int, base: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    end = len(data)
    for field in layout:
        if field.when is not None and not field.when(out):
            continue
        kind = field.kind
        size = _FIXED.get(kind)
        if size is None:
            count = out[field.count] & field.count_mask if field.count else 0
            size = count * (2 if kind == "u16_list" else 3)
        if pos + size > end:
            raise _truncated(layer, field.name, base + pos, size, end - pos)
        chunk = data[pos : pos + size]
        if kind in ("u8", "u16", "u32"):
            value: Any = int.from_bytes(chunk, "little")
        elif kind == "i8":
            value = int.from_bytes(chunk, "little", signed=True)
        elif kind == "eui64":
            value = chunk[::-1].hex().upper()
        elif kind == "key":
            value = chunk
        elif kind == "u16_list":
            value = [chunk[i] | chunk[i + 1] << 8 for i in range(0, size, 2)]
        elif kind == "link_status_list":
            value = [{"address": chunk[i] | chunk[i + 1] << 8, "incoming_cost": chunk[i + 2] & 7,
                      "outgoing_cost": (chunk[i + 2] >> 4) & 7} for i in range(0, size, 3)]
        else:  # power_delta_list
            value = [{"address": chunk[i] | chunk[i + 1] << 8,
                      "delta": int.from_bytes(chunk[i + 2 : i + 3], "little", signed=True)}
                     for i in range(0, size, 3)]
        out[field.name] = value
        pos += size
    if pos < end:
        out[TRAILING] = data[pos:]
    return out


def _encode_fields(layout: tuple[Field, ...], fields: dict[str, Any], name: str) -> bytes:
    out = bytearray()
    for field in layout:
        if field.when is not None and not field.when(fields):
            continue
        try:
            value = fields[field.name]
        except KeyError:
            raise ValueError(f"{name}: field {field.name!r} is required") from None
        kind = field.kind
        if kind in ("u8", "u16", "u32"):
            out += int(value).to_bytes(_FIXED[kind], "little")
        elif kind == "i8":
            out += int(value).to_bytes(1, "little", signed=True)
        elif kind == "eui64":
            raw = bytes.fromhex(value)
            if len(raw) != 8:
                raise ValueError(f"{name}: {field.name} {value!r} is not 16 hex digits")
            out += raw[::-1]
        elif kind == "key":
            if len(value) != 16:
                raise ValueError(f"{name}: {field.name} needs 16 bytes, got {len(value)}")
            out += bytes(value)
        elif kind == "u16_list":
            out += b"".join(int(item).to_bytes(2, "little") for item in value)
        elif kind == "link_status_list":
            for link in value:
                out += int(link["address"]).to_bytes(2, "little")
                out.append((link["incoming_cost"] & 7) | (link["outgoing_cost"] & 7) << 4)
        else:  # power_delta_list
            for entry in value:
                out += int(entry["address"]).to_bytes(2, "little")
                out += int(entry["delta"]).to_bytes(1, "little", signed=True)
    return bytes(out) + bytes(fields.get(TRAILING, b""))


def unknown_name(layer: str, command_id: int) -> str:
    width = 4 if layer == "zdo" else 2
    return f"{layer}_0x{command_id:0{width}X}"


def decode_command(layer: str, command_id: int, data: bytes, pos: int, base: int,
                   prefix: dict[str, Any] | None = None) -> StackCommand:
    """The command ``command_id`` of ``layer`` whose fields start at ``pos`` of ``data``
    (``base`` maps positions to offsets of the raw frame). ``prefix`` holds fields
    decoded before (the ZDO transaction sequence number)."""
    layout = LAYOUTS[layer].get(command_id)
    fields = dict(prefix or {})
    if layout is None or layout.fields is None:
        fields[PAYLOAD] = data[pos:]
        name = layout.name if layout is not None else unknown_name(layer, command_id)
        return StackCommand(layer, command_id, name, fields)
    fields.update(_decode_fields(layer, layout.fields, data, pos, base))
    return StackCommand(layer, command_id, layout.name, fields)


def decode_nwk_command(payload: bytes, base: int) -> StackCommand:
    """NWK command frame payload: command id (1) then its fields (R22 3.4)."""
    if not payload:
        raise _truncated("nwk", "command_id", base, 1, 0)
    return decode_command("nwk", payload[0], payload, 1, base)


def decode_zdo(cluster: int, payload: bytes, base: int) -> StackCommand:
    """ZDO frame on endpoint 0: transaction sequence number (1) then the message of the
    cluster (R22 2.4.2.8)."""
    if not payload:
        raise _truncated("zdo", "transaction_seq", base, 1, 0)
    return decode_command("zdo", cluster, payload, 1, base, {"transaction_seq": payload[0]})


def encode_command(command: StackCommand) -> bytes:
    """Payload as sent: NWK/APS command id then fields; ZDO transaction seq then fields.

    A command known by name only (or unknown) is sent with its ``payload`` bytes. The
    APS Tunnel command takes its tunneled frame, as sent, in ``tunneled_frame``.
    """
    layer = command.layer
    if layer not in LAYOUTS:
        raise ValueError(f"no stack layer {layer!r}")
    fields = command.fields
    if layer == "zdo":
        head = bytes((fields.get("transaction_seq", 0),))
    else:
        head = bytes((command.command_id,))
    layout = LAYOUTS[layer].get(command.command_id)
    if layout is None or layout.fields is None or PAYLOAD in fields:
        return head + bytes(fields.get(PAYLOAD, b""))
    body = _encode_fields(layout.fields, fields, command.name)
    if layer == "aps" and command.command_id == APS_TUNNEL:
        body += bytes(fields.get("tunneled_frame", b""))
    return head + body


def make_command(layer: str, name: str, fields: dict[str, Any]) -> StackCommand:
    """A StackCommand by name, with its command id (ZDO: cluster) filled in."""
    for command_id, layout in LAYOUTS[layer].items():
        if layout.name == name:
            return StackCommand(layer, command_id, name, dict(fields))
    raise ValueError(f"no {layer} command named {name!r}")
