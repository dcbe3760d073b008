"""``python -m bench.wireshark_diff CAPTURE [--keys-file F] [--key HEX] [--fcs-format F]``.

Every frame of a capture decoded by tshark and by ``hanota``'s decoder, compared item by
item: which layers each decoded (wpan, zbee_nwk, zbee_aps, zbee_zcl), the FCS verdict,
MAC addresses and PAN, NWK addresses (with the EUI-64 of the NWK header and of the NWK
auxiliary security header), the APS cluster, the ZCL command id and the OTA cluster's
fields. It prints the agreement count of each item and the first frame of each kind of
disagreement, and exits 1 when any item disagrees on a frame tshark decodes beyond the
MAC header (0 otherwise, 2 when it cannot run).

Why a harness and not only tests: Wireshark is the tool a test house trusts; on any
capture a user brings, this says where the two disagree, frame by frame.

Where tshark and ``hanota`` legitimately differ in presentation, the harness normalises
(and only there):

- tshark is run with ``wpan.802154_fcs_ok:FALSE`` (dissect the payload whatever the
  FCS), because ``hanota`` decodes a bad-FCS frame's headers and flags it; with
  ``wpan.fcs_format:TI CC24xx metadata`` when the capture's link-type-195 frames end with
  CC24xx metadata (``--fcs-format``, or what ``hanota`` detected); tshark has no "no FCS"
  reading of link type 195, so with ``--fcs-format none`` it is told nothing;
- FCS: tshark reports a frame without FCS as "FCS OK"; only a bad FCS is compared
  (tshark ``wpan.fcs_ok`` 0 against ``FrameRecord.fcs_ok`` False);
- layers: tshark's ``wpan-tap`` (the 802.15.4 TAP, which dissects the MAC frame itself)
  counts as ``wpan``;
- EUI-64s: tshark writes ``00:db:12:...``, ``hanota`` ``00DB12...``, both in the same
  (big-endian) order; numbers are compared as numbers whatever base tshark prints;
- the ZCL command id: tshark puts it in a field of each cluster
  (``zbee_zcl_general.ota.cmd.srv_rx.id`` ...), in ``zbee_zcl.cmd.id`` for profile-wide
  commands and ``zbee_zcl.cs.cmd.id`` for clusters it does not know: the first present;
- the APS cluster of a ZDP frame is ``zbee_aps.zdp_cluster`` in tshark;
- OTA fields tshark does not decode at all are not compared (``TSHARK_UNDECODED``);
- keys: every key is given to tshark as a ``zigbee_pc_keys`` record, the keys file as
  its own records (``--keys-file`` is read by ``hanota``'s parser, the one under test;
  ``tests/test_wireshark_keys.py`` checks it against tshark reading the file itself).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hanota.layers.capture_unwrap import FCS_AUTO, FCS_CC24XX, FCS_FORMATS
from hanota.layers.model import DecodeError, FrameRecord, HanFrame
from hanota.layers.ota import CLUSTER_ID
from hanota.layers.security import KeyRing
from hanota.layers.wireshark_keys import to_uat_record, with_keys
from hanota.targets.pcap import DecodeTally, detect_fcs_format, read_capture

from hanota.keys_file import load_keys_file

LAYERS = ("wpan", "zbee_nwk", "zbee_aps", "zbee_zcl")
ITEMS = ("frame", "layers", "fcs", "mac", "nwk", "aps cluster", "zcl command", "ota fields")
OTA = "zbee_zcl_general.ota."
OTA_FIELDS: dict[str, tuple[str, ...]] = {
    "payload_type": ("payload.type",), "query_jitter": ("query_jitter",),
    "manufacturer_code": ("manufacturer_code",), "image_type": ("image.type",),
    "file_version": ("file.version",), "hardware_version": ("hw_ver",), "status": ("status",),
    "image_size": ("image.size",), "file_offset": ("file.offset",),
    "maximum_data_size": ("max_data_size",), "data_size": ("data_size",),
    "data": ("image.data",), "current_time": ("current_time",),
    "request_time": ("request_time",), "upgrade_time": ("upgrade_time",),
    "minimum_block_period": ("min_block_period",), "page_size": ("page.size",),
    "response_spacing": ("rsp_spacing",), "request_node_address": ("ieee_addr",),
    "zigbee_stack_version": ("zb_stack.ver",),
    "field_control": ("query_next_image_req.field_ctrl", "image_block_req.field_ctrl",
                      "image_page_req.field_ctrl"),
    "image_upgrade_status": ("status_attr",),
}
"""Our OTA field name -> tshark's field(s) under ``zbee_zcl_general.ota.`` (the first
present counts). Image Block Request's ``block_request_delay`` is tshark's
``min_block_period`` there."""
ATTRIBUTE_FIELDS = {0x0002: "file_version", 0x0003: "zigbee_stack_version",
                    0x0004: "file_version", 0x0005: "zigbee_stack_version",
                    0x0006: "image_upgrade_status", 0x0007: "manufacturer_code",
                    0x0008: "image_type"}
"""OTA attributes whose value tshark shows in the OTA fields (``dissect_zcl_ota_attr_data``
of packet-zbee-zcl-general.c): in Read Attributes Responses and reports they are
compared too."""
TSHARK_UNDECODED = {("image_block_response", "minimum_block_period")}
"""Fields tshark's dissector does not decode at all, so they are not compared: a
WAIT_FOR_DATA Image Block Response stops after Request Time in Wireshark's
packet-zbee-zcl-general.c (``dissect_zcl_ota_imageblockrsp``); ZCL revision 6's OTA
cluster (and zigbee-ota.md) adds MinimumBlockPeriod after it."""
BASE_FIELDS = (
    "frame.number", "frame.protocols", "wpan.fcs_ok", "wpan.dst_pan", "wpan.src_pan",
    "wpan.dst16", "wpan.src16", "wpan.dst64", "wpan.src64", "zbee_nwk.dst", "zbee_nwk.src",
    "zbee_nwk.dst64", "zbee_nwk.src64", "zbee_nwk.security", "zbee.sec.src64",
    "zbee_aps.cluster", "zbee_aps.zdp_cluster", "zbee_zcl.cmd.id", "zbee_zcl.cs.cmd.id",
)
TSHARK_TIMEOUT_S = 600

Values = dict[str, Any]


def command_id_fields(tshark: str) -> list[str]:
    """tshark's per-cluster ZCL command-id fields (``...cmd.srv_rx.id``/``srv_tx.id``)."""
    listing = subprocess.run([tshark, "-G", "fields"], capture_output=True, text=True,
                             check=True, timeout=TSHARK_TIMEOUT_S).stdout
    names = []
    for line in listing.splitlines():
        parts = line.split("\t")
        if len(parts) > 2 and parts[0] == "F" and parts[2].startswith("zbee_zcl") \
                and parts[2].endswith((".cmd.srv_rx.id", ".cmd.srv_tx.id")):
            names.append(parts[2])
    return names


def tshark_options(keys: Iterable[bytes], fcs_format: str) -> list[str]:
    """The preferences tshark is run with (see the module docstring for why)."""
    options = ["-o", "wpan.802154_fcs_ok:FALSE"]
    if fcs_format == FCS_CC24XX:
        options += ["-o", "wpan.fcs_format:TI CC24xx metadata"]
    for number, key in enumerate(keys):
        options += ["-o", f"uat:zigbee_pc_keys:{to_uat_record(key, f'key {number}')}"]
    return options


def start_tshark(
    tshark: str, capture: Path, options: list[str], command_fields: list[str],
) -> tuple[subprocess.Popen[str], list[str]]:
    """tshark started on the capture (it runs while ``hanota`` decodes), and its fields."""
    ota_fields = [OTA + name for names in OTA_FIELDS.values() for name in names]
    fields = [*BASE_FIELDS, *command_fields, *ota_fields]
    command = [tshark, "-n", "-r", str(capture), *options, "-T", "fields", "-E",
               "separator=\t", "-E", "occurrence=f", "-E", "quote=n"]
    for name in fields:
        command += ["-e", name]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    return process, fields


def tshark_frames(
    process: subprocess.Popen[str], fields: list[str], command_fields: list[str],
) -> dict[int, Values]:
    """tshark's view of each record that carries an 802.15.4 frame, by frame number."""
    stdout, stderr = process.communicate(timeout=TSHARK_TIMEOUT_S)
    if process.returncode and not stdout:  # a cut-short file still gives its frames
        raise RuntimeError(f"tshark exited with {process.returncode}: {stderr[-500:]}")
    frames: dict[int, Values] = {}
    for line in stdout.splitlines():
        row = dict(zip(fields, line.split("\t"), strict=False))
        shown = _theirs(row, command_fields)
        if shown["layers"]:
            frames[int(row["frame.number"])] = shown
    return frames


def _number(text: str) -> int | None:
    return int(text, 0) if text else None


def _eui64(text: str) -> str | None:
    return text.replace(":", "").upper() if text else None


def _theirs(row: dict[str, str], command_fields: list[str]) -> Values:
    """One tshark row in the harness's common terms."""
    protocols = {"wpan" if name == "wpan-tap" else name
                 for name in row.get("frame.protocols", "").split(":")}
    layers = tuple(name for name in LAYERS if name in protocols)
    command = next((row[name] for name in (*command_fields, "zbee_zcl.cmd.id",
                                           "zbee_zcl.cs.cmd.id") if row.get(name)), "")
    nwk_secured = row.get("zbee_nwk.security") in ("1", "True")
    ota: Values = {}
    for ours, names in OTA_FIELDS.items():
        text = next((row[OTA + name] for name in names if row.get(OTA + name)), "")
        if not text:
            continue
        ota[ours] = bytes.fromhex(text.replace(":", "")) if ours == "data" else _number(text)
    return {
        "layers": layers,
        "fcs_bad": row.get("wpan.fcs_ok") in ("0", "False"),
        "mac": (_number(row.get("wpan.dst_pan", "")) or _number(row.get("wpan.src_pan", "")),
                _number(row.get("wpan.dst16", "")), _number(row.get("wpan.src16", "")),
                _eui64(row.get("wpan.dst64", "")), _eui64(row.get("wpan.src64", ""))),
        "nwk": (_number(row.get("zbee_nwk.dst", "")), _number(row.get("zbee_nwk.src", "")),
                _eui64(row.get("zbee_nwk.dst64", "")), _eui64(row.get("zbee_nwk.src64", "")),
                _eui64(row.get("zbee.sec.src64", "")) if nwk_secured else None)
        if "zbee_nwk" in layers else None,
        "aps cluster": _number(row.get("zbee_aps.cluster", "")
                               or row.get("zbee_aps.zdp_cluster", "")),
        "zcl command": _number(command),
        "ota": ota,
    }


def _ours(frame: FrameRecord) -> Values:
    """One decoded frame in the same terms."""
    han: HanFrame | None = frame.han
    mac = han.mac if han is not None else None
    nwk = han.nwk if han is not None else None
    aps = han.aps if han is not None else None
    zcl = han.zcl if han is not None else None
    layers = tuple(name for name, layer in zip(LAYERS, (mac, nwk, aps, zcl), strict=True)
                   if layer is not None)
    ota: Values = {}
    if zcl is not None and aps is not None and aps.cluster == CLUSTER_ID:
        ota = _ota_fields(zcl.command, zcl.cluster_specific, zcl.fields)
    return {
        "layers": layers,
        "fcs_bad": frame.fcs_ok is False,
        "mac": (mac.pan_id, mac.dst16, mac.src16, mac.dst64, mac.src64)
        if mac is not None else None,
        "nwk": (nwk.dst16, nwk.src16, nwk.dst64, nwk.src64,
                nwk.security.source64 if nwk.security is not None else None)
        if nwk is not None else None,
        "aps cluster": aps.cluster if aps is not None else None,
        "zcl command": zcl.command_id if zcl is not None else None,
        "ota": ota,
    }


def _ota_fields(command: str, cluster_specific: bool, fields: Values) -> Values:
    """Our OTA cluster frame's fields under the names ``OTA_FIELDS`` compares."""
    if not cluster_specific:  # attribute values, first record of each name (as tshark)
        ota: Values = {}
        for record in fields.get("records", ()):
            name = ATTRIBUTE_FIELDS.get(record.get("attribute"))
            if name is not None and "value" in record:
                ota.setdefault(name, record["value"])
        return ota
    ota = {name: value for name, value in fields.items()
           if name in OTA_FIELDS and (command, name) not in TSHARK_UNDECODED}
    if "block_request_delay" in fields:
        ota["minimum_block_period"] = fields["block_request_delay"]
    if isinstance(ota.get("request_node_address"), str):
        ota["request_node_address"] = int(ota["request_node_address"], 16)
    return ota


@dataclass
class Disagreement:
    """The first frame of one kind of disagreement, and how many frames share the kind."""

    item: str
    frame: int
    theirs: Any
    ours: Any
    error: str | None
    count: int = 1


@dataclass
class DiffReport:
    """Agreement per item over the frames either side compared, and the disagreements."""

    capture: Path
    agree: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ITEMS, 0))
    compared: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ITEMS, 0))
    kinds: dict[tuple[str, str], Disagreement] = field(default_factory=dict)
    frames: int = 0
    beyond_mac: int = 0
    beyond_mac_disagreeing: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every frame tshark decodes beyond the MAC header agrees on every item."""
        return not self.beyond_mac_disagreeing

    def lines(self) -> list[str]:
        out = [f"capture: {self.capture}", *self.notes,
               f"frames: {self.frames}; decoded by tshark beyond the MAC header: "
               f"{self.beyond_mac}, of which disagreeing: {len(self.beyond_mac_disagreeing)}"]
        for item in ITEMS:
            compared = self.compared[item]
            share = f"{100 * self.agree[item] / compared:6.2f} %" if compared else "    - "
            out.append(f"  {item:<12} {self.agree[item]:>7} / {compared:<7} agree {share}")
        if self.kinds:
            out.append("first frame of each kind of disagreement:")
        for kind in self.kinds.values():
            error = f" (ours: {kind.error})" if kind.error else ""
            out.append(f"  {kind.item}: frame {kind.frame} (and {kind.count - 1} more): "
                       f"tshark {kind.theirs!r}, hanota {kind.ours!r}{error}")
        return out


def _kind(item: str, theirs: Any, ours: Any) -> str:
    """Frames disagree "alike" when the same item differs in the same shape."""
    if item == "layers":
        return f"{'+'.join(theirs)} vs {'+'.join(ours)}"
    if item == "ota fields":
        return ",".join(sorted(theirs))
    if theirs is None or ours is None:
        return "missing in hanota" if ours is None else "missing in tshark"
    return "differs"


def compare(
    theirs: dict[int, Values], ours: dict[int, FrameRecord], capture: Path,
) -> DiffReport:
    """Item by item, frame by frame (frames either side shows)."""
    report = DiffReport(capture)
    for number in sorted(set(theirs) | set(ours)):
        shown, record = theirs.get(number), ours.get(number)
        mine = _ours(record) if record is not None else None
        report.frames += 1
        beyond = shown is not None and len(shown["layers"]) > 1
        report.beyond_mac += beyond
        differ = []
        checks: list[tuple[str, Any, Any]] = [("frame", shown is not None, mine is not None)]
        if shown is not None and mine is not None:
            checks += [(item, shown[key], mine[key]) for item, key in (
                ("layers", "layers"), ("fcs", "fcs_bad"), ("mac", "mac"), ("nwk", "nwk"),
                ("aps cluster", "aps cluster"), ("zcl command", "zcl command"))]
            ota_theirs = shown["ota"]
            ota_ours = mine["ota"]
            if ota_theirs or ota_ours:
                names = set(ota_theirs) | set(ota_ours)
                wrong = {name for name in names if ota_theirs.get(name) != ota_ours.get(name)}
                checks.append(("ota fields", wrong, set()))
        for item, value_theirs, value_ours in checks:
            if item not in ("frame", "ota fields", "fcs") and value_theirs is None \
                    and value_ours is None:
                continue
            report.compared[item] += 1
            if value_theirs == value_ours:
                report.agree[item] += 1
                continue
            differ.append(item)
            kind = (item, _kind(item, value_theirs, value_ours))
            if kind in report.kinds:
                report.kinds[kind].count += 1
            else:
                report.kinds[kind] = Disagreement(
                    item, number, value_theirs, value_ours,
                    record.error if record is not None else None)
        if differ and beyond:
            report.beyond_mac_disagreeing.append(number)
    return report


def our_frames(
    capture: Path, keys: KeyRing, fcs_format: str,
) -> tuple[dict[int, FrameRecord], DecodeTally]:
    """``hanota``'s decoding of every record (``read_capture``, as ``hanota decode``)."""
    tally = DecodeTally()
    frames: dict[int, FrameRecord] = {}
    try:
        for frame in read_capture(capture, keys, tally, fcs_format):
            frames[frame.number] = frame
    except DecodeError as error:  # the frames before the break are compared
        tally.fcs_note = f"{tally.fcs_note}; the capture breaks off: {error}".lstrip("; ")
    return frames, tally


def diff_capture(
    capture: Path, keys: Iterable[bytes] = (), fcs_format: str = FCS_AUTO,
    tshark: str | None = None, command_fields: list[str] | None = None,
) -> DiffReport:
    """Compare one capture; ``keys`` are given to both decoders (both roles)."""
    tshark = tshark or shutil.which("tshark")
    if tshark is None:
        raise RuntimeError("tshark is not installed")
    keys = tuple(dict.fromkeys(keys))
    fields = command_fields if command_fields is not None else command_id_fields(tshark)
    options = tshark_options(keys, detect_fcs_format(capture, fcs_format).finish())
    process, shown = start_tshark(tshark, capture, options, fields)
    try:
        ours, tally = our_frames(capture, with_keys(KeyRing(), keys), fcs_format)
    finally:
        theirs = tshark_frames(process, shown, fields)
    report = compare(theirs, ours, capture)
    preferences = [value for value in options[1::2] if not value.startswith("uat:")]
    report.notes.append(f"keys: {len(keys)}; {tally.fcs_note or 'no link-type-195 frame'}; "
                        f"tshark preferences: {', '.join(preferences)}")
    return report


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.wireshark_diff",
        description="Compare hanota's decoding of a capture with tshark's, frame by frame.")
    parser.add_argument("capture", type=Path, nargs="+", help="pcap or pcapng file(s)")
    parser.add_argument("--key", action="append", default=[], metavar="HEX",
                        help="a key (both roles); repeatable")
    parser.add_argument("--keys-file", action="append", default=[], type=Path, metavar="F",
                        help="Wireshark's zigbee_pc_keys table; repeatable")
    parser.add_argument("--fcs-format", choices=FCS_FORMATS, default=FCS_AUTO,
                        help="what ends a link-type-195 frame (default: detected)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    args = _arguments(argv)
    try:
        ring = KeyRing.from_hex(args.key)
        keys = list(dict.fromkeys(ring.network_keys + ring.link_keys))
        for path in args.keys_file:
            keys += load_keys_file(path)
    except ValueError as error:
        out(f"wireshark_diff: {error}")
        return 2
    tshark = shutil.which("tshark")
    if tshark is None:
        out("wireshark_diff: tshark is not installed")
        return 2
    fields = command_id_fields(tshark)
    status = 0
    for capture in args.capture:
        report = diff_capture(capture, keys, args.fcs_format, tshark, fields)
        for line in report.lines():
            out(line)
        status = status or (0 if report.ok else 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
