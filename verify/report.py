"""What a run reports: per-scenario evidence (decoded frames, the capture slice, the
sequence chart, the download plot, GBCS messages) and the per-requirement summary.

Kept apart from pytest so the same texts serve the Allure attachments, the terminal and
the Markdown summary. The sequence chart is ``hanota.verify.msc`` and the plot
``hanota.verify.plot``; this module picks the frames they draw and caches what several
scenarios share: a 1 MiB exchange is 65,000 frames, and a dozen scenarios judge the same
trace.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property

from hanota.layers.capture import LINKTYPE_IEEE802_15_4_WITHFCS, pcapng_header, pcapng_packet
from hanota.layers.codec import crc16_kermit
from hanota.layers.model import FrameRecord
from hanota.verify.msc import WanEvent, sequence_chart, sequence_text
from hanota.verify.plot import download_plot, download_points
from hanota.verify.requirements import REQUIREMENTS, area_of
from hanota.verify.trace import BROADCAST_MIN, Frame, Trace, WanRecord
from hanota.verify.verdicts import ERROR, FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS

PRECEDENCE = (FAIL, ERROR, INCONCLUSIVE, PASS, NOT_APPLICABLE)
"""Worst first: a requirement is PASS only when every scenario of it that applies
passed; one untested (INCONCLUSIVE) scenario makes the requirement INCONCLUSIVE, and its
counts still show how many passed."""
FAIL_NEIGHBOURS = 3
"""Frames kept either side of each violating frame in a FAIL's capture slice: what led
to the violation and what followed it."""
_CAPTURE_NAME = re.compile(r"[^/\\\s]+\.pcap(?:ng)?")
_WAN_KEYS = ("alert_code", "response_code", "activate_image", "firmware_version")


class _FrameIndex:
    """Capture number -> position in the trace, rebuilt when a live trace has grown."""

    def __init__(self) -> None:
        self.size = -1
        self.positions: dict[int, int] = {}

    def of(self, trace: Trace) -> dict[int, int]:
        if self.size != len(trace.frames):
            self.positions = {f.number: i for i, f in enumerate(trace.frames)}
            self.size = len(trace.frames)
        return self.positions


_indexes: weakref.WeakKeyDictionary[Trace, _FrameIndex] = weakref.WeakKeyDictionary()


def _positions(trace: Trace) -> dict[int, int]:
    index = _indexes.get(trace)
    if index is None:
        index = _indexes[trace] = _FrameIndex()
    return index.of(trace)


def evidence_frames(trace: Trace, numbers: Iterable[int], neighbours: int = 0) -> list[Frame]:
    """The trace's frames with these capture numbers, in capture order, each with
    ``neighbours`` frames either side (numbers the trace lacks are left out)."""
    positions = _positions(trace)
    wanted: set[int] = set()
    last = len(trace.frames) - 1
    for number in numbers:
        position = positions.get(number)
        if position is not None:
            wanted.update(range(max(0, position - neighbours),
                                min(last, position + neighbours) + 1))
    return [trace.frames[position] for position in sorted(wanted)]


def decoded_frames(trace: Trace, numbers: Iterable[int], limit: int = 200) -> str:
    """The frames a verdict rests on, one decoded line each, in capture order."""
    frames = evidence_frames(trace, numbers)
    lines = [f"frame {frame.number}: {frame.describe()}" for frame in frames[:limit]]
    if len(frames) > limit:
        lines.append(f"... {len(frames) - limit} more frames")
    return "\n".join(lines) or "(no frames)"


def decoded_wan(trace: Trace, indexes: Iterable[int] | None = None) -> str:
    chosen = trace.wan if indexes is None else [trace.wan[i] for i in sorted(set(indexes))
                                                 if i < len(trace.wan)]
    return "\n".join(f"WAN {m.index}: {m.describe()}" for m in chosen) or "(no GBCS messages)"


def _with_fcs(record: FrameRecord) -> bytes:
    """The frame as link type 195 wants it: with its FCS, appended when the capture gave
    the PSDU without one (link type 230, ZEP LQI mode, CC24xx metadata); a frame the
    sniffer flagged bad gets a wrong one, so Wireshark flags it too."""
    if record.fcs:
        return record.raw
    fcs = crc16_kermit(record.raw) ^ (0xFFFF if record.fcs_ok is False else 0)
    return record.raw + fcs.to_bytes(2, "little")


def capture_slice(frames: Sequence[Frame]) -> bytes:
    """A pcapng (IEEE 802.15.4 with FCS, link type 195) of these frames with their
    capture times, for Wireshark. Packet k of the slice is the k-th of ``frames``:
    Wireshark numbers from 1 again, so the attachment lists the original numbers."""
    out = [pcapng_header(LINKTYPE_IEEE802_15_4_WITHFCS)]
    for frame in frames:
        if frame.record is not None and frame.record.raw:
            out.append(pcapng_packet(frame.time, _with_fcs(frame.record)))
    return b"".join(out)


def slice_caption(frames: Sequence[Frame]) -> str:
    """What a capture slice holds, by original frame number."""
    if not frames:
        return "(empty)"
    numbers = [frame.number for frame in frames]
    shown = ", ".join(map(str, numbers[:12])) + (" …" if len(numbers) > 12 else "")
    return f"{len(numbers)} frames of the capture, in order: {shown}"


def node_names(trace: Trace) -> dict[int, str]:
    """NWK short address -> node name, from the DUT description."""
    return {node.short: node.name for node in trace.dut.nodes.values()}


def wan_label(message: WanRecord) -> str:
    """One GBCS message as a chart note: kind, code, who to whom, the fields that matter."""
    if message.error:
        return f"GBCS message {message.index} does not decode: {message.error}"
    code = "?" if message.message_code is None else f"0x{message.message_code:04X}"
    fields = " ".join(f"{k}=0x{v:X}" if isinstance(v, int) and k != "activate_image"
                      else f"{k}={v}" for k, v in message.fields.items() if k in _WAN_KEYS)
    return f"{message.kind} {code} {message.sender}→{message.recipient} {fields}".rstrip()


def _device_records(trace: Trace, short: int | None) -> list[FrameRecord]:
    """Decoded frames of one node (sent, received or broadcast), or of all nodes."""
    records = []
    for frame in trace.frames:
        if frame.record is None or frame.command is None:
            continue
        if short is None or short in (frame.src16, frame.dst16) or (
                frame.dst16 is not None and frame.dst16 >= BROADCAST_MIN):
            records.append(frame.record)
    return records


class ExchangeView:
    """What every scenario on one (trace, device) shares: the sequence chart and the
    download plot, each drawn once, on first use."""

    def __init__(self, trace: Trace, node: str | None) -> None:
        self.trace = trace
        self.node = node
        known = trace.dut.nodes.get(node) if node else None
        self.records = _device_records(trace, known.short if known else None)
        self.names = node_names(trace)
        self.wan: list[WanEvent] = [(m.time, wan_label(m)) for m in trace.wan]

    @cached_property
    def chart_svg(self) -> str:
        return sequence_chart(self.records, self.names, wan=self.wan)

    @cached_property
    def chart_text(self) -> str:
        return sequence_text(self.records, self.names, wan=self.wan) or "(no ZCL frames)\n"

    @cached_property
    def has_blocks(self) -> bool:
        """Whether the device requested or was served any block: a transfer to plot."""
        return download_points(self.records).has_blocks

    @cached_property
    def plot(self) -> bytes | None:
        """PNG of file offset against time, None when the device moved no block."""
        if not self.has_blocks:
            return None
        who = self.node or "every device"
        capture = _CAPTURE_NAME.search(self.trace.source)
        where = capture.group(0) if capture else self.trace.source[:60]
        return download_plot(self.records, title=f"OTA download of {who} ({where})",
                             names=self.names)


_views: weakref.WeakKeyDictionary[Trace, dict[tuple, ExchangeView]] = (
    weakref.WeakKeyDictionary())


def exchange_view(trace: Trace, node: str | None) -> ExchangeView:
    """The cached view of ``node``'s part of ``trace`` (of all of it when None); a live
    trace that has grown since gets a new one."""
    views = _views.setdefault(trace, {})
    size = (len(trace.frames), len(trace.wan))
    view = views.get((node, *size))
    if view is None:
        for stale in [key for key in views if key[1:] != size]:
            del views[stale]
        view = views[(node, *size)] = ExchangeView(trace, node)
    return view


@dataclass
class ScenarioVerdict:
    """One scenario's result, as collected by the plugin."""

    scenario: str
    name: str
    feature: str
    requirements: list[str]
    role: str
    verdict: str
    reason: str = ""
    frames: list[int] = field(default_factory=list)
    wan: list[int] = field(default_factory=list)
    target: str = ""
    situation: str = ""
    source: str = ""
    figures: list[str] = field(default_factory=list)
    """Pictures of the scenario's exchange (paths relative to the run's ``--out``): the
    message sequence chart (SVG) and, for a transfer, the download plot (PNG)."""

    def as_dict(self) -> dict:
        return asdict(self)


def requirement_verdicts(results: Iterable[ScenarioVerdict]) -> dict[str, dict]:
    """Per requirement: the worst-first verdict over its scenarios, their evidence and,
    for anything but PASS, the reason of a scenario that has that worst verdict.

    FAIL beats everything, then ERROR, then INCONCLUSIVE (a PASS never hides an untested
    scenario); one with no scenario is NOT RUN.
    """
    table: dict[str, dict] = {
        req: {"verdict": "NOT RUN", "scenarios": [], "evidence": {}, "reasons": []}
        for req in REQUIREMENTS}
    for result in results:
        for req in result.requirements:
            row = table.setdefault(req, {"verdict": "NOT RUN", "scenarios": [],
                                         "evidence": {}, "reasons": []})
            row["scenarios"].append(result.verdict)
            if result.verdict == PASS:
                where = row["evidence"].setdefault(capture_label(result), ([], []))
                where[0].extend(result.frames)
                where[1].extend(result.wan)
            elif result.reason:
                row["reasons"].append((result.verdict, result.reason.splitlines()[0][:160]))
    for row in table.values():
        row["verdict"] = worst_verdict(row["scenarios"])
        row["reasons"] = [reason for verdict, reason in row["reasons"]
                          if verdict == row["verdict"]]
    return table


def worst_verdict(verdicts: Iterable[str]) -> str:
    """The first of ``PRECEDENCE`` among ``verdicts``; NOT RUN when there is none."""
    seen = set(verdicts)
    return next((verdict for verdict in PRECEDENCE if verdict in seen), "NOT RUN")


def capture_label(result: ScenarioVerdict) -> str:
    """The capture a scenario was judged on, short: frame numbers mean nothing without it.

    Why not the situation: in a replay or a live run every scenario judges the same
    capture, whatever situation its Gherkin names.
    """
    found = _CAPTURE_NAME.findall(result.source)
    return found[-1] if found else result.source


def row_evidence(row: dict) -> str:
    """Evidence per capture: frame numbers only mean something with their capture."""
    return "; ".join(f"{capture or 'trace'}: {evidence_text(frames, wan)}"
                     for capture, (frames, wan) in row["evidence"].items())


def evidence_text(frames: list[int], wan: list[int]) -> str:
    """Frame numbers (the first eight, and how many) and WAN message indexes, one line."""
    parts = []
    if frames:
        shown = sorted(set(frames))
        parts.append("frames " + ", ".join(map(str, shown[:8])) +
                     (f" … ({len(shown)})" if len(shown) > 8 else ""))
    if wan:
        parts.append("WAN " + ", ".join(map(str, sorted(set(wan)))))
    return "; ".join(parts)


def summary_lines(results: list[ScenarioVerdict]) -> list[str]:
    """The per-requirement summary as fixed-width text lines."""
    table = requirement_verdicts(results)
    lines = [f"{'requirement':<10} {'verdict':<15} {'scenarios':<24} evidence / reason"]
    for req, row in table.items():
        counts = ", ".join(f"{row['scenarios'].count(v)} {v.lower()}" for v in PRECEDENCE
                           if v in row["scenarios"])
        detail = row_evidence(row) if row["verdict"] == PASS else (
            row["reasons"][0] if row["reasons"] else "")
        lines.append(f"{req:<10} {row['verdict']:<15} {counts:<24} {detail}")
    totals = {v: sum(r.verdict == v for r in results) for v in PRECEDENCE}
    lines.append("scenarios: " + ", ".join(f"{n} {v.lower()}" for v, n in totals.items()))
    return lines


def summary_markdown(results: list[ScenarioVerdict], header: str) -> str:
    """The summary as Markdown: per requirement, then per scenario."""
    table = requirement_verdicts(results)
    out = ["# SECMP0007 OTA conformance summary", "", header, "",
           "| requirement | area | verdict | scenarios | evidence / reason |",
           "|---|---|---|---|---|"]
    for req, row in table.items():
        counts = ", ".join(f"{row['scenarios'].count(v)} {v.lower()}" for v in PRECEDENCE
                           if v in row["scenarios"])
        detail = row_evidence(row) if row["verdict"] == PASS else (
            "; ".join(row["reasons"][:2]))
        out.append(f"| {req} | {area_of(req)} | **{row['verdict']}** | {counts} | "
                   f"{detail.replace('|', '/')} |")
    out += ["", "## Scenarios", "",
            "| scenario | role | requirements | verdict | capture | detail |",
            "|---|---|---|---|---|---|"]
    for result in results:
        detail = (evidence_text(result.frames, result.wan) if result.verdict == PASS
                  else result.reason.splitlines()[0][:200] if result.reason else "")
        out.append(f"| {result.name} | {result.role} | {', '.join(result.requirements)} | "
                   f"{result.verdict} | {result.source or '-'} | {detail.replace('|', '/')} |")
    return "\n".join(out) + "\n"
