"""``hanota decode CAPTURE``: every frame of a capture, decrypted, one line each.

Why its own formatter rather than scapy's: a 1 MiB image transfer is 65,000 frames and
the command must keep pace with tshark, so each line is built straight from the decoded
``HanFrame`` with the field names of zigbee-ota.md, and output is written in batches;
big files are decoded on one process per core.

``--json`` objects always have the keys ``frame``, ``time``, ``layers``, ``mac_seq``,
``src16``, ``dst16``, ``src64``, ``cluster``, ``zcl_command``, ``fields`` (bytes as hex),
``channel``, ``fcs_ok`` (false: bad FCS or the sniffer's CRC-OK bit clear; null: the
capture holds no FCS), ``original_length`` (the frame's length on the air when the
capture cut it) and ``error`` (null when absent), then ``securing64``,
``stack_command``, ``stack_fields``, ``retransmission_of`` and ``fragments``.
``src16``/``dst16`` are the NWK (end-to-end) addresses, ``src64`` the originator's
EUI-64 where the frame proves it and ``securing64`` the node that applied NWK security
(the last relay on a relayed frame: never the originator's identity). ``stack_command``
is ``layer:name`` of a NWK command, APS command or ZDO message (``aps:transport_key``,
``zdo:device_annce``), whose frames have no ZCL command and, for APS commands, no
cluster. A frame that failed in an upper layer keeps the layers below (``layers``,
addresses) beside its ``error``; a flagged frame (bad FCS, cut by the capture) still
shows what decoded, with the flag. Exit status: 0 when the capture was read (bad frames
are reported in their lines), 1 when it breaks off mid-file (the frames before are
output), 2 when it is not a capture or cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO, TextIO

from hanota.keys_file import load_keys_file
from hanota.layers.capture_unwrap import FCS_AUTO, FCS_FORMATS
from hanota.layers.model import BROADCAST_NAMES, DecodeError, FrameRecord, HanFrame, StackCommand
from hanota.layers.ota import CLUSTER_ID, STATUS
from hanota.layers.security import KeyRing
from hanota.layers.wireshark_keys import with_keys
from hanota.targets.pcap import DecodeTally, capture_records, decode_records
from hanota.targets.pcap_parallel import decode_file_parallel

MAC_ACK = 2
BROADCAST_MIN = 0xFFF8
_MAC_NAMES = {0: "MAC(beacon)", 2: "MAC(ack)", 3: "MAC(cmd)"}
DATA_PREVIEW = 8  # bytes of block data shown before the ellipsis
_WHOLE_BYTES = frozenset(("key", "initiator_verify_key_hash"))  # shown whole: to be copied
BATCH = 512  # lines per write
PARALLEL_BATCH = 2048  # records per worker batch
PARALLEL_MIN_BYTES = 1_000_000  # below this, starting workers costs more than it saves

_HEX_WIDTHS: dict[str, int] = {
    "manufacturer_code": 4,
    "image_type": 4,
    "file_version": 8,
    "file_offset": 8,
    "field_control": 2,
    "payload_type": 2,
    "hardware_version": 4,
    "zigbee_stack_version": 4,
    "command_id": 2,
    "attribute": 4,
    "data_type": 2,
    "element_type": 2,
    "nwk_address": 4,
    "nwk_address_of_interest": 4,
    "network_address": 4,
    "device_short_address": 4,
    "originator": 4,
    "responder": 4,
    "relays": 4,
    "address": 4,
    "new_pan_id": 4,
    "pan_ids": 4,
    "capability": 2,
    "options": 2,
    "status_code": 2,
    "destination": 4,  # a short address in NWK commands (an EUI-64 text in APS ones)
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", help="pcap or pcapng file, or - for a stream on stdin")
    parser.add_argument(
        "--key", action="append", default=[], metavar="HEX",
        help="a key to decrypt with: HEX (both roles), nwk:HEX, link:HEX or ic:HEX (an "
             "install code, the link key is derived from it); repeatable. Keys sent in "
             "the capture (Transport Key) are learnt on the way",
    )
    parser.add_argument(
        "--keys-file", action="append", default=[], metavar="FILE",
        help="Wireshark's ZigBee key table (the zigbee_pc_keys file of a Wireshark "
        "profile); its keys are tried in both roles; repeatable",
    )
    parser.add_argument(
        "--fcs-format", choices=FCS_FORMATS, default=FCS_AUTO,
        help="what ends a link-type-195 frame: a CRC-16 FCS, TI CC24xx metadata (RSSI, "
        "CRC-OK bit) or nothing; default auto: decided from the capture's first frames",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per frame")
    parser.add_argument(
        "--jobs", type=int, default=0, metavar="N",
        help="decoding processes (default: one per idle core for captures over 1 MB)",
    )


def _value(name: str, value: Any) -> str:
    """A field as the decoder prints it: hex where the spec thinks in hex, status by name."""
    if isinstance(value, bytes | bytearray):
        if name in _WHOLE_BYTES:
            return value.hex().upper()
        more = "…" if len(value) > DATA_PREVIEW else ""
        return f"{len(value)}B:{value[:DATA_PREVIEW].hex()}{more}"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        if name == "status":
            return STATUS.get(value, f"0x{value:02X}")
        width = _HEX_WIDTHS.get(name)
        return f"0x{value:0{width}X}" if width else str(value)
    if isinstance(value, list):
        return "[" + ",".join(_value(name, item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + " ".join(f"{k}={_value(k, v)}" for k, v in value.items()) + "}"
    return str(value)


def _attribute_list(values: list[int]) -> str:
    return "[" + ",".join(f"0x{value:04X}" for value in values) + "]"


def format_fields(fields: dict[str, Any]) -> str:
    """``file_offset=0x00000040 maximum_data_size=64 ...`` in the command's field order."""
    parts = []
    for name, value in fields.items():
        if name == "attributes" and isinstance(value, list):
            parts.append(f"attributes={_attribute_list(value)}")
        else:
            parts.append(f"{name}={_value(name, value)}")
    return " ".join(parts)


def _address(short: int | None, long: str | None) -> str:
    if short is not None:
        return f"0x{short:04X}"
    return long if long is not None else "-"


def layer_names(han: HanFrame) -> str:
    """``MAC/NWK(sec)/APS/ZCL``: which layers the frame has and which were secured
    (``MAC(sec)``: MAC-encrypted); MAC frames other than data say their type
    (``MAC(ack)``); ZDO messages end in ``ZDO``."""
    mac = han.mac
    names = ["MAC(sec)" if mac.security is not None else _MAC_NAMES.get(mac.frame_type, "MAC")]
    if han.nwk is not None:
        names.append("NWK(sec)" if han.nwk.security is not None else "NWK")
    if han.aps is not None:
        names.append("APS(sec)" if han.aps.security is not None else "APS")
    if han.zcl is not None:
        names.append("ZCL")
    elif han.zdo is not None:
        names.append("ZDO")
    return "/".join(names)


def _route(han: HanFrame) -> str:
    """``src → dst`` (NWK addresses, end to end; a broadcast says its group), with the
    relaying MAC sender and the source route when there are."""
    mac, nwk = han.mac, han.nwk
    if nwk is None or nwk.src16 is None:
        return f"{_address(mac.src16, mac.src64)} → {_address(mac.dst16, mac.dst64)}"
    dst16 = nwk.dst16
    route = f"{_address(nwk.src16, nwk.src64)} → {_address(dst16, nwk.dst64)}"
    if dst16 is not None and dst16 >= BROADCAST_MIN:
        route += f"({BROADCAST_NAMES.get(dst16, 'broadcast')})"
    if mac.src16 is not None and mac.src16 != nwk.src16:
        route += f" (relayed by 0x{mac.src16:04X})"
    if nwk.source_route is not None:
        relays = ",".join(f"0x{relay:04X}" for relay in nwk.source_route.relays)
        route += f" source route [{relays}] index {nwk.source_route.relay_index}"
    return route


def _summary(han: HanFrame) -> str:
    mac, aps, zcl = han.mac, han.aps, han.zcl
    if mac.frame_type == MAC_ACK:
        return f"ack seq {mac.seq}"
    text = f"{_route(han)}  {layer_names(han)}"
    if zcl is not None:
        assert aps is not None
        cluster = "" if aps.cluster == CLUSTER_ID else f"cluster 0x{aps.cluster:04X} "
        return f"{text}  {cluster}{zcl.command} {format_fields(zcl.fields)}".rstrip()
    command: StackCommand | None = han.aps_command or han.zdo or han.nwk_command
    if command is not None:
        kind = {"nwk": "NWK command", "aps": "APS command", "zdo": "ZDO"}[command.layer]
        text += f"  {kind} {command.name} {format_fields(command.fields)}".rstrip()
    elif aps is not None and aps.fragment is not None and aps.fragment.fragmentation:
        fragment = aps.fragment
        total = f"/{fragment.total}" if fragment.total is not None else ""
        text += f"  APS fragment: block {fragment.index}{total} of counter {aps.counter}"
    elif aps is not None:
        cluster = "" if aps.cluster is None else f" cluster 0x{aps.cluster:04X}"
        text += f"  aps frame type {aps.frame_type}{cluster}"
    return text


def text_line(frame: FrameRecord) -> str:
    """One frame as a line: number, time, route, layers, OTA command and fields; a frame
    that failed in an upper layer shows what decoded below it, then the error; one the
    capture flags (bad FCS, cut short) shows what decoded, then the flag."""
    head = f"{frame.number:>6} {frame.time:.6f}  "
    han = frame.han
    if han is None:
        return f"{head}ERROR: {frame.error}"
    line = head + _summary(han)
    if frame.retransmission_of is not None:
        line += f"  (retransmission of frame {frame.retransmission_of})"
    if frame.fragments:
        line += f"  (reassembled from frames {', '.join(map(str, frame.fragments))})"
    if frame.error is not None:
        flagged = frame.fcs_ok is False or frame.original_length is not None
        line += f"  {'FLAGGED' if flagged else 'ERROR'}: {frame.error}"
    return line


def _hex(value: Any) -> str:
    """JSON has no bytes: the encoder calls this for them (and only for them)."""
    if isinstance(value, bytes | bytearray):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_JSON = json.JSONEncoder(separators=(",", ":"), default=_hex)
_FCS_OK = {True: "true", False: "false", None: "null"}
_FLAGS = {ok: f'"fcs_ok":{text},"original_length":null' for ok, text in _FCS_OK.items()}
_NO_RETRY_NO_FRAGMENTS = ',"retransmission_of":null,"fragments":[]}'


def _quoted(text: str) -> str:
    """EUI-64s and names need no escaping."""
    return f'"{text}"'


def json_line(frame: FrameRecord) -> str:
    """One frame as a JSON object; keys are always present, absent values are null.

    Built with f-strings around the C encoder (fields, error) because this runs 65,000
    times per image transfer: nulls and integers are written as they are, EUI-64s and
    names need no escaping.
    """
    head = f'{{"frame":{frame.number},"time":{frame.time!r}'
    channel = "null" if frame.channel is None else frame.channel
    flags = _FLAGS[frame.fcs_ok] if frame.original_length is None else (
        f'"fcs_ok":{_FCS_OK[frame.fcs_ok]},"original_length":{frame.original_length}')
    if frame.retransmission_of is None and not frame.fragments:
        tail = _NO_RETRY_NO_FRAGMENTS
    else:
        retry = "null" if frame.retransmission_of is None else frame.retransmission_of
        blocks = ",".join(map(str, frame.fragments))
        tail = f',"retransmission_of":{retry},"fragments":[{blocks}]}}'
    error = "null" if frame.error is None else _JSON.encode(frame.error)
    han = frame.han
    if han is None:
        return (
            f'{head},"layers":null,"mac_seq":null,"src16":null,"dst16":null,"src64":null,'
            f'"cluster":null,"zcl_command":null,"fields":null,"channel":{channel},{flags},'
            f'"error":{error},"securing64":null,"stack_command":null,"stack_fields":null{tail}'
        )
    mac, nwk, aps, zcl = han.mac, han.nwk, han.aps, han.zcl
    securing64 = None
    if nwk is not None and nwk.src16 is not None:
        src16, dst16, src64 = nwk.src16, nwk.dst16, han.originator64
        if nwk.security is not None:
            securing64 = nwk.security.source64
    else:
        src16, dst16, src64 = mac.src16, mac.dst16, mac.src64
    if zcl is not None:
        command, fields = f'"{zcl.command}"', _JSON.encode(zcl.fields)
        stack_command = stack_fields = "null"
    else:
        command = fields = "null"
        stack = han.aps_command or han.zdo or han.nwk_command
        if stack is not None:
            stack_command = f'"{stack.layer}:{stack.name}"'
            stack_fields = _JSON.encode(stack.fields)
        else:
            stack_command = stack_fields = "null"
    cluster = None if aps is None else aps.cluster
    return (
        f'{head},"layers":"{layer_names(han)}",'
        f'"mac_seq":{"null" if mac.seq is None else mac.seq},'
        f'"src16":{"null" if src16 is None else src16},'
        f'"dst16":{"null" if dst16 is None else dst16},'
        f'"src64":{"null" if src64 is None else _quoted(src64)},'
        f'"cluster":{"null" if cluster is None else cluster},'
        f'"zcl_command":{command},"fields":{fields},"channel":{channel},{flags},'
        f'"error":{error},'
        f'"securing64":{"null" if securing64 is None else _quoted(securing64)},'
        f'"stack_command":{stack_command},"stack_fields":{stack_fields}{tail}'
    )


def write_lines(
    frames: Iterable[FrameRecord], line: Callable[[FrameRecord], str], out: TextIO,
    batch_size: int = BATCH,
) -> None:
    """Format and write in batches: one write call per ``batch_size`` lines. Lines already
    formatted are written even when the capture breaks off (the error comes after them)."""
    batch: list[str] = []
    append = batch.append
    try:
        for frame in frames:
            append(line(frame))
            if len(batch) >= batch_size:
                append("")
                out.write("\n".join(batch))
                batch.clear()
    finally:
        if batch:
            append("")
            out.write("\n".join(batch))


def _open(capture: str) -> BinaryIO:
    """The capture's bytes: a file, or stdin for ``-`` (a sniffer's pipe); run closes it."""
    if capture == "-":
        return sys.stdin.buffer
    return open(capture, "rb")


def _jobs(args: argparse.Namespace) -> int:
    """Worker processes: only for files big enough to repay starting them, never for a
    live pipe (whose frames must come out as they arrive), and only on cores that are
    idle: on a busy machine extra processes measured slower than one."""
    if args.capture == "-":
        return 1
    if args.jobs:
        return args.jobs
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    idle = int((cores or 1) - os.getloadavg()[0] + 0.5)
    if idle < 2 or os.path.getsize(args.capture) < PARALLEL_MIN_BYTES:
        return 1
    return idle


def run(args: argparse.Namespace) -> int:
    try:
        keys = KeyRing.from_hex(args.key)
        for path in args.keys_file:
            keys = with_keys(keys, load_keys_file(path))
    except ValueError as error:
        print(f"hanota decode: {error}", file=sys.stderr)
        return 2
    tally = DecodeTally()
    line = json_line if args.json else text_line
    try:
        stream = _open(args.capture)
        jobs = _jobs(args)
    except OSError as error:
        print(f"hanota decode: cannot read {args.capture}: {error.strerror}", file=sys.stderr)
        return 2
    try:
        if jobs > 1:  # the workers open the file themselves
            stream.close()
            for text in decode_file_parallel(
                args.capture, keys, line, tally, jobs, PARALLEL_BATCH, args.fcs_format
            ):
                sys.stdout.write(text)
        else:
            with stream:
                live = args.capture == "-"
                if live:  # a sniffer's pipe: each frame's line out as soon as it is decoded
                    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
                frames = decode_records(capture_records(stream), keys, tally, args.fcs_format)
                write_lines(frames, line, sys.stdout, 1 if live else BATCH)
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (| head): not an error of ours
        return 0
    except (DecodeError, OSError) as error:  # not a capture, broken mid-file, unreadable
        sys.stdout.flush()
        print(f"hanota decode: {args.capture}: {error}", file=sys.stderr)
        return 2 if tally.frames + tally.skipped == 0 else 1
    fcs = f"; {tally.fcs_note}" if tally.fcs_note else ""
    print(
        f"{tally.frames} frames, {tally.errors} not decoded, "
        f"{tally.skipped} records without an 802.15.4 frame{fcs}",
        file=sys.stderr,
    )
    return 0
