"""ZCL frame codec: header, profile-wide commands on any cluster, cluster-specific
commands generated from their declarative tables (hanota.layers.ota.COMMANDS).

Why generated: the tables are shared with the scapy dissector, and compiling them once
into struct runs keeps decoding of the 65,000 Image Block Responses of a 1 MiB transfer
fast without a hand-written codec per command.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hanota.layers import ota
from hanota.layers.fastinit import fast_constructor
from hanota.layers.model import DecodeError, Zcl
from hanota.layers.ota import CommandSpec, Condition, FieldSpec
from hanota.layers.zcl_types import DATA_TYPES as DATA_TYPES
from hanota.layers.zcl_types import DataType as DataType
from hanota.layers.zcl_types import decode_value, encode_value

LAYER = "zcl"
FRAME_TYPE_PROFILE_WIDE = 0
FRAME_TYPE_CLUSTER_SPECIFIC = 1
MANUFACTURER_SPECIFIC = 0x04
DIRECTION_SERVER_TO_CLIENT = 0x08
DISABLE_DEFAULT_RESPONSE = 0x10

READ_ATTRIBUTES = 0x00
READ_ATTRIBUTES_RESPONSE = 0x01
WRITE_ATTRIBUTES = 0x02
WRITE_ATTRIBUTES_RESPONSE = 0x04
REPORT_ATTRIBUTES = 0x0A
DEFAULT_RESPONSE = 0x0B
GENERAL_COMMANDS: dict[int, str] = {
    READ_ATTRIBUTES: "read_attributes",
    READ_ATTRIBUTES_RESPONSE: "read_attributes_response",
    WRITE_ATTRIBUTES: "write_attributes",
    WRITE_ATTRIBUTES_RESPONSE: "write_attributes_response",
    REPORT_ATTRIBUTES: "report_attributes",
    DEFAULT_RESPONSE: "default_response",
}
"""The profile-wide commands an OTA exchange uses (ZCL r8 2.5): the CHF reads
CurrentFileVersion and may write MinimumBlockPeriod; a device may report its version."""
GENERAL_IDS: dict[str, int] = {name: cid for cid, name in GENERAL_COMMANDS.items()}

# Cluster-specific command tables by cluster id.
CLUSTER_COMMANDS: dict[int, tuple[CommandSpec, ...]] = {ota.CLUSTER_ID: ota.COMMANDS}

UNKNOWN_PREFIX = "unknown_0x"
TRAILING = "trailing"
_make_zcl = fast_constructor(Zcl)


def _truncated(field: str, pos: int, need: int, have: int) -> DecodeError:
    return DecodeError(LAYER, field, pos, f"truncated: need {need} bytes, {have} left")


# ---- cluster-specific commands compiled from their tables -------------------------------

_STRUCT_FORMAT = {"u8": "B", "u16": "H", "u32": "I"}
_STRUCT_SIZE = {"u8": 1, "u16": 2, "u32": 4}


@dataclass(frozen=True, slots=True)
class _Step:
    """A run of fixed-size fields sharing one condition, or a single variable field."""

    when: Condition | None
    names: tuple[str, ...]
    kind: str
    layout: struct.Struct | None = None
    length_field: str | None = None
    sizes: tuple[int, ...] = ()

    def truncated(self, pos: int, have: int) -> DecodeError:
        """Name the first field of the run that does not fit, at its own offset."""
        for name, size in zip(self.names, self.sizes, strict=True):
            if size > have:
                return _truncated(name, pos, size, have)
            pos += size
            have -= size
        return _truncated(self.names[-1], pos, 0, have)


def _compile(spec: CommandSpec) -> tuple[_Step, ...]:
    steps: list[_Step] = []
    for field in spec.fields:
        if field.kind in _STRUCT_FORMAT:
            last = steps[-1] if steps else None
            if last is not None and last.kind == "struct" and last.when == field.when:
                assert last.layout is not None
                layout = struct.Struct(last.layout.format + _STRUCT_FORMAT[field.kind])
                names = (*last.names, field.name)
                sizes = (*last.sizes, _STRUCT_SIZE[field.kind])
                steps[-1] = _Step(field.when, names, "struct", layout, sizes=sizes)
            else:
                layout = struct.Struct("<" + _STRUCT_FORMAT[field.kind])
                sizes = (_STRUCT_SIZE[field.kind],)
                steps.append(_Step(field.when, (field.name,), "struct", layout, sizes=sizes))
        else:
            steps.append(_Step(field.when, (field.name,), field.kind, None, field.length_field))
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class _Compiled:
    spec: CommandSpec
    steps: tuple[_Step, ...]
    # Fields a caller may omit on encode, with how to derive them from the others.
    derived: tuple[tuple[str, Callable[[dict[str, Any]], int]], ...]


def _flag_deriver(dependents: list[FieldSpec]) -> Callable[[dict], int]:
    """payload_type / field_control from which optional fields the caller supplied."""

    def derive(fields: dict[str, Any]) -> int:
        value = 0
        for dep in dependents:
            assert dep.when is not None
            if fields.get(dep.name) is None:
                continue
            if dep.when.kind == "bit":
                value |= 1 << dep.when.value
            else:
                value = max(value, dep.when.value)
        return value

    return derive


def _length_deriver(data_field: str) -> Callable[[dict], int]:
    def derive(fields: dict[str, Any]) -> int:
        return len(fields.get(data_field, b""))

    return derive


def _compile_command(spec: CommandSpec) -> _Compiled:
    controllers: dict[str, list[FieldSpec]] = {}
    derived: list[tuple[str, Callable[[dict[str, Any]], int]]] = []
    for field in spec.fields:
        if field.when is not None and field.when.kind in ("bit", "min"):
            controllers.setdefault(field.when.field, []).append(field)
        if field.length_field is not None:
            derived.append((field.length_field, _length_deriver(field.name)))
    for name, dependents in controllers.items():
        derived.append((name, _flag_deriver(dependents)))
    return _Compiled(spec, _compile(spec), tuple(derived))


_BY_CLUSTER_ID: dict[int, dict[int, _Compiled]] = {
    cluster: {spec.command_id: _compile_command(spec) for spec in specs}
    for cluster, specs in CLUSTER_COMMANDS.items()
}
_BY_CLUSTER_NAME: dict[int, dict[str, _Compiled]] = {
    cluster: {c.spec.name: c for c in by_id.values()} for cluster, by_id in _BY_CLUSTER_ID.items()
}


def _decode_specific(command: _Compiled, data: bytes, pos: int, base: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    end = len(data)
    for step in command.steps:
        when = step.when
        if when is not None and not when.holds(out[when.field]):
            continue
        if step.kind == "struct":
            layout = step.layout
            assert layout is not None
            if pos + layout.size > end:
                raise step.truncated(base + pos, end - pos)
            out.update(zip(step.names, layout.unpack_from(data, pos), strict=True))
            pos += layout.size
        elif step.kind == "eui64":
            if pos + 8 > end:
                raise _truncated(step.names[0], base + pos, 8, end - pos)
            out[step.names[0]] = data[pos : pos + 8][::-1].hex().upper()
            pos += 8
        else:
            assert step.length_field is not None
            size = out[step.length_field]
            if pos + size > end:
                raise _truncated(step.names[0], base + pos, size, end - pos)
            out[step.names[0]] = data[pos : pos + size]
            pos += size
    if pos < end:
        out[TRAILING] = data[pos:]
    return out


def _encode_specific(command: _Compiled, fields: dict[str, Any]) -> bytes:
    values = dict(fields)
    for name, derive in command.derived:
        if values.get(name) is None:
            values[name] = derive(values)
    out = bytearray()
    for step in command.steps:
        when = step.when
        if when is not None and not when.holds(_required(command, values, when.field)):
            continue
        if step.kind == "struct":
            assert step.layout is not None
            args = [_required(command, values, name) for name in step.names]
            try:
                out += step.layout.pack(*args)
            except struct.error as error:
                raise ValueError(f"{command.spec.name} {step.names}: {error}") from error
        elif step.kind == "eui64":
            out += _eui64_air(_required(command, values, step.names[0]))
        else:
            out += bytes(_required(command, values, step.names[0]))
    out += values.get(TRAILING, b"")
    return bytes(out)


def _required(command: _Compiled, values: dict[str, Any], name: str) -> Any:
    try:
        value = values[name]
    except KeyError:
        raise ValueError(f"{command.spec.name}: field {name!r} is required") from None
    if value is None:
        raise ValueError(f"{command.spec.name}: field {name!r} is required")
    return value


def _eui64_air(text: str) -> bytes:
    value = bytes.fromhex(text)
    if len(value) != 8:
        raise ValueError(f"EUI-64 {text!r} is not 16 hex digits")
    return value[::-1]


# ---- profile-wide commands ---------------------------------------------------------------


def _decode_general(command_id: int, data: bytes, pos: int, base: int) -> dict[str, Any]:
    end = len(data)
    if command_id == READ_ATTRIBUTES:
        if (end - pos) % 2:
            raise _truncated("attributes", base + end - 1, 2, 1)
        return {"attributes": [data[i] | data[i + 1] << 8 for i in range(pos, end, 2)]}
    if command_id == READ_ATTRIBUTES_RESPONSE:
        records = []
        while pos < end:
            if pos + 3 > end:
                raise _truncated("records", base + pos, 3, end - pos)
            attribute = data[pos] | data[pos + 1] << 8
            status = data[pos + 2]
            pos += 3
            data_type = value = None
            if status == 0:
                if pos >= end:
                    raise _truncated("data_type", base + pos, 1, 0)
                data_type = data[pos]
                value, pos = decode_value(data_type, data, pos + 1, base)
            records.append(
                {"attribute": attribute, "status": status, "data_type": data_type, "value": value}
            )
        return {"records": records}
    if command_id in (WRITE_ATTRIBUTES, REPORT_ATTRIBUTES):
        return {"records": _attribute_records(data, pos, base)}
    if command_id == WRITE_ATTRIBUTES_RESPONSE:
        return {"records": _write_statuses(data, pos, base)}
    if pos + 2 > end:
        raise _truncated("command_id", base + pos, 2, end - pos)
    fields: dict[str, Any] = {"command_id": data[pos], "status": data[pos + 1]}
    if pos + 2 < end:
        fields[TRAILING] = data[pos + 2 :]
    return fields


def _attribute_records(data: bytes, pos: int, base: int) -> list[dict[str, Any]]:
    """Write Attributes and Report Attributes records (ZCL r8 2.5.7, 2.5.11): attribute
    identifier, data type, value."""
    end = len(data)
    records = []
    while pos < end:
        if pos + 3 > end:
            raise _truncated("records", base + pos, 3, end - pos)
        attribute = data[pos] | data[pos + 1] << 8
        data_type = data[pos + 2]
        value, pos = decode_value(data_type, data, pos + 3, base)
        records.append({"attribute": attribute, "data_type": data_type, "value": value})
    return records


def _write_statuses(data: bytes, pos: int, base: int) -> list[dict[str, Any]]:
    """Write Attributes Response (ZCL r8 2.5.8): one SUCCESS byte when every write
    succeeded, else a status and attribute identifier per failed write."""
    end = len(data)
    if end - pos == 1:
        return [{"status": data[pos], "attribute": None}]
    records = []
    while pos < end:
        if pos + 3 > end:
            raise _truncated("records", base + pos, 3, end - pos)
        records.append({"status": data[pos], "attribute": data[pos + 1] | data[pos + 2] << 8})
        pos += 3
    return records


def _encode_general(command_id: int, fields: dict[str, Any]) -> bytes:
    if command_id == READ_ATTRIBUTES:
        return b"".join(int(a).to_bytes(2, "little") for a in fields["attributes"])
    if command_id == READ_ATTRIBUTES_RESPONSE:
        out = bytearray()
        for record in fields["records"]:
            out += int(record["attribute"]).to_bytes(2, "little")
            out.append(record["status"])
            if record["status"] == 0:
                out.append(record["data_type"])
                out += encode_value(record["data_type"], record["value"])
        return bytes(out)
    if command_id in (WRITE_ATTRIBUTES, REPORT_ATTRIBUTES):
        return b"".join(int(r["attribute"]).to_bytes(2, "little") + bytes((r["data_type"],))
                        + encode_value(r["data_type"], r["value"]) for r in fields["records"])
    if command_id == WRITE_ATTRIBUTES_RESPONSE:
        return b"".join(bytes((r["status"],)) if r["attribute"] is None
                        else bytes((r["status"],)) + int(r["attribute"]).to_bytes(2, "little")
                        for r in fields["records"])
    return bytes((fields["command_id"], fields["status"])) + fields.get(TRAILING, b"")


# ---- the ZCL frame -----------------------------------------------------------------------


def _unknown_name(command_id: int) -> str:
    return f"{UNKNOWN_PREFIX}{command_id:02X}"


def decode_zcl(payload: bytes, cluster: int, offset: int = 0) -> Zcl:
    """Decode a ZCL frame; ``offset`` (where ``payload`` starts in the raw frame) only
    shifts the offsets reported in DecodeError."""
    end = len(payload)
    if end < 3:
        raise _truncated("frame_control", offset, 3, end)
    control = payload[0]
    pos = 1
    manufacturer_code = None
    if control & MANUFACTURER_SPECIFIC:
        if end < 5:
            raise _truncated("manufacturer_code", offset + 1, 4, end - 1)
        manufacturer_code = payload[1] | payload[2] << 8
        pos = 3
    seq = payload[pos]
    command_id = payload[pos + 1]
    pos += 2
    frame_type = control & 3
    if frame_type > FRAME_TYPE_CLUSTER_SPECIFIC:
        raise DecodeError(LAYER, "frame_control", offset, f"reserved frame type {frame_type}")
    cluster_specific = frame_type == FRAME_TYPE_CLUSTER_SPECIFIC
    name: str
    if cluster_specific:
        command = _BY_CLUSTER_ID.get(cluster, {}).get(command_id)
        if command is None or manufacturer_code is not None:
            name, fields = _unknown_name(command_id), {"payload": payload[pos:]}
        else:
            name, fields = command.spec.name, _decode_specific(command, payload, pos, offset)
    elif command_id in GENERAL_COMMANDS:  # manufacturer-specific attributes: same layout
        name = GENERAL_COMMANDS[command_id]
        fields = _decode_general(command_id, payload, pos, offset)
    else:
        name, fields = _unknown_name(command_id), {"payload": payload[pos:]}
    return _make_zcl(
        command=name,
        fields=fields,
        seq=seq,
        command_id=command_id,
        cluster_specific=cluster_specific,
        direction=(control >> 3) & 1,
        disable_default_response=bool(control & DISABLE_DEFAULT_RESPONSE),
        manufacturer_code=manufacturer_code,
    )


def encode_zcl(zcl: Zcl, cluster: int) -> bytes:
    """ZCL frame as sent. The payload encoder is chosen by ``zcl.command``; the header
    carries ``zcl.command_id`` as given."""
    control = FRAME_TYPE_CLUSTER_SPECIFIC if zcl.cluster_specific else FRAME_TYPE_PROFILE_WIDE
    if zcl.direction:
        control |= DIRECTION_SERVER_TO_CLIENT
    if zcl.disable_default_response:
        control |= DISABLE_DEFAULT_RESPONSE
    if zcl.manufacturer_code is not None:
        header = bytes((control | MANUFACTURER_SPECIFIC,)) + zcl.manufacturer_code.to_bytes(
            2, "little"
        ) + bytes((zcl.seq, zcl.command_id))
    else:
        header = bytes((control, zcl.seq, zcl.command_id))
    name = zcl.command
    if name.startswith(UNKNOWN_PREFIX):
        return header + bytes(zcl.fields["payload"])
    if zcl.cluster_specific:
        command = _BY_CLUSTER_NAME.get(cluster, {}).get(name)
        if command is None:
            raise ValueError(f"no cluster-specific command {name!r} on cluster 0x{cluster:04X}")
        return header + _encode_specific(command, zcl.fields)
    if name not in GENERAL_IDS:
        raise ValueError(f"no profile-wide command {name!r}")
    try:
        return header + _encode_general(GENERAL_IDS[name], zcl.fields)
    except (KeyError, TypeError) as error:
        raise ValueError(f"{name}: bad fields {zcl.fields!r}: {error!r}") from error


def _default_direction(name: str, cluster: int) -> int:
    """Direction of a profile-wide command when the caller does not say.

    The OTA attributes live on the client, so on cluster 0x0019 the CHF (server) sends
    Read and Write Attributes with the direction bit set, the device answers and reports
    without it; on other clusters the usual client-reads-server direction applies.
    Default Response has no fixed direction: 0 unless the caller says otherwise.
    """
    if name in ("read_attributes", "write_attributes"):
        return 1 if cluster == ota.CLUSTER_ID else 0
    if name in ("read_attributes_response", "write_attributes_response", "report_attributes"):
        return 0 if cluster == ota.CLUSTER_ID else 1
    return 0


def make_zcl(
    command: str,
    fields: dict[str, Any],
    seq: int,
    *,
    cluster: int = ota.CLUSTER_ID,
    direction: int | None = None,
    disable_default_response: bool = True,
    manufacturer_code: int | None = None,
) -> Zcl:
    """A Zcl for ``command`` with command id, frame type and direction filled in."""
    specific = _BY_CLUSTER_NAME.get(cluster, {}).get(command)
    if specific is not None:
        command_id, cluster_specific = specific.spec.command_id, True
        natural_direction = specific.spec.direction
    elif command in GENERAL_IDS:
        command_id, cluster_specific = GENERAL_IDS[command], False
        natural_direction = _default_direction(command, cluster)
    elif command.startswith(UNKNOWN_PREFIX):
        command_id, cluster_specific, natural_direction = int(command[-2:], 16), True, 0
    else:
        raise ValueError(f"unknown ZCL command {command!r} on cluster 0x{cluster:04X}")
    return Zcl(
        command=command,
        fields=dict(fields),
        seq=seq,
        command_id=command_id,
        cluster_specific=cluster_specific,
        direction=natural_direction if direction is None else direction,
        disable_default_response=disable_default_response,
        manufacturer_code=manufacturer_code,
    )
