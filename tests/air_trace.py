"""A capture of the emulated HAN read back as the ZCL exchanges it holds.

Why: the emulator's tests, its benchmark and ``hanota emulate`` judge a run by what is on
the air, never by the emulator's internal state; this decodes a capture (through the
suite's own capture reader and frame codec) into one ``ZclEvent`` per ZCL frame, named by
node, and counts the MAC ACKs and frames that did not decode.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from hanota.dut.description import Dut
from hanota.layers.security import KeyRing
from hanota.targets.pcap import capture_records, decode_records


@dataclass(frozen=True)
class ZclEvent:
    """One ZCL frame: time (UNIX s), sender and receiver node names, what it said."""

    number: int
    time: float
    src: str
    dst: str
    cluster: int
    command: str
    fields: dict[str, Any]
    seq: int


@dataclass
class Trace:
    """The ZCL frames of a capture and the counts of everything else."""

    events: list[ZclEvent] = field(default_factory=list)
    acks: int = 0
    errors: list[str] = field(default_factory=list)

    def of(self, command: str, *, src: str | None = None, dst: str | None = None,
           cluster: int | None = None) -> list[ZclEvent]:
        return [e for e in self.events if e.command == command
                and (src is None or e.src == src) and (dst is None or e.dst == dst)
                and (cluster is None or e.cluster == cluster)]


def received_files(trace: Trace, device: str) -> list[bytes]:
    """What ``device`` was served, one bytes per download, blocks placed at their
    file_offset. A download starts at a successful Query Next Image Response to it,
    unless that offers again the image of a download the device has not ended (with an
    Upgrade End Request): a device that queries after a reset resumes its download, and
    a relayed response is heard once per hop."""
    files: list[bytearray] = []
    offered: tuple[int, int] | None = None  # (file_version, image_size) being downloaded
    for event in trace.events:
        if event.src == device and event.command == "upgrade_end_request":
            offered = None
        if event.dst != device:
            continue
        fields = event.fields
        if event.command == "query_next_image_response" and fields["status"] == 0:
            image = (fields["file_version"], fields["image_size"])
            if image != offered:
                files.append(bytearray(fields["image_size"]))
            offered = image
        elif (event.command == "image_block_response" and fields["status"] == 0 and files
              and event.src == "chf"):
            start = fields["file_offset"]
            files[-1][start : start + len(fields["data"])] = fields["data"]
    return [bytes(data) for data in files]


def read_trace(capture: bytes, dut: Dut) -> Trace:
    """Decode a pcapng/pcap capture of ``dut``'s HAN with its network and link keys."""
    keys = KeyRing((dut.network_key,), dut.link_keys)
    names = {node.short: node.name for node in dut.nodes.values()}
    trace = Trace()
    for record in decode_records(capture_records(io.BytesIO(capture)), keys):
        if record.error is not None:
            trace.errors.append(record.error)
            continue
        han = record.han
        if han is None:
            continue
        if han.mac.frame_type == 2:
            trace.acks += 1
            continue
        if han.zcl is None or han.nwk is None or han.aps is None:
            continue
        trace.events.append(ZclEvent(
            record.number, record.time, names.get(han.nwk.src16, hex(han.nwk.src16)),
            names.get(han.nwk.dst16, hex(han.nwk.dst16)), han.aps.cluster, han.zcl.command,
            han.zcl.fields, han.zcl.seq,
        ))
    return trace
