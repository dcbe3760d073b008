"""Message sequence chart of an OTA exchange, as SVG and as plain text.

Why: a reviewer reads who said what to whom, in which order, far faster from a chart
than from a frame list. A 1 MiB image is tens of thousands of Image Block Request /
Response pairs, so uneventful runs of them are folded into one band ("… N block pairs,
offsets A–B …") while everything that matters (queries, WAIT_FOR_DATA, a re-requested
offset, the end of the download, the read-back) stays one arrow per frame. GBCS messages
on the WAN side (the CHF's alerts and responses) are notes placed in time among the
arrows, so an alert shows next to the HAN exchange it reports on.

This is the suite's one sequence chart: the Allure attachments (SVG and text) and the
tests draw from ``sequence_rows``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from hanota.layers import ota
from hanota.layers.model import FrameRecord
from hanota.layers.zcl import DATA_TYPES

BLOCK_COMMANDS = ("image_block_request", "image_block_response")
EDGE_FRAMES = 2  # frames shown as arrows either side of a band
MIN_BAND_PAIRS = 4  # fewer pairs than this are clearer as arrows
# (responses to an Image Page Request come without requests: they fold as "pairs" too)
UPGRADE_WAIT = 0xFFFFFFFF
RETRY = "retry"
RESUMED = "after WAIT_FOR_DATA"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# SVG geometry, in pixels.
GUTTER = 90
CHAR = 7  # width of one 11 px monospace character, generously
MIN_COLUMN, MAX_COLUMN = 240, 560
HEADER = 56
ROW = 22
BAND = 30
FOOTER = 30


@dataclass(frozen=True, slots=True)
class Arrow:
    """One ZCL frame: from node ``src`` to node ``dst`` (NWK short addresses)."""

    number: int
    t: float
    src: int
    dst: int
    label: str


@dataclass(frozen=True, slots=True)
class Band:
    """A folded run of uneventful block pairs between ``nodes``."""

    pairs: int
    first_offset: int
    last_offset: int
    first_number: int
    last_number: int
    nodes: tuple[int, ...]

    @property
    def text(self) -> str:
        return (f"… {self.pairs} block pairs, offsets {self.first_offset}–{self.last_offset}"
                f" (#{self.first_number}–#{self.last_number}) …")


@dataclass(frozen=True, slots=True)
class Note:
    """A GBCS message on the WAN side; ``t`` is None when the message came without a time
    (it is then drawn after the HAN frames)."""

    t: float | None
    label: str


WanEvent = tuple[float | None, str]
"""A WAN message as the chart takes it: (absolute time or None, one-line label)."""


@dataclass(slots=True)
class Chart:
    """What both renderings draw: lifelines in order of appearance, rows, and how many
    ZCL frames the ``limit`` left out."""

    nodes: list[int] = field(default_factory=list)
    rows: list[Arrow | Band | Note] = field(default_factory=list)
    omitted: int = 0
    t0: float | None = None


@dataclass(frozen=True, slots=True)
class _Item:
    number: int
    t: float
    src: int
    dst: int
    cluster: int
    command: str
    fields: dict[str, Any]
    repeat: str  # "" first request of an offset, else RETRY or RESUMED


def _status(value: Any) -> str:
    if not isinstance(value, int):
        return "status=?"
    return ota.STATUS.get(value, f"status=0x{value:02X}")


def _version(fields: dict[str, Any]) -> str:
    value = fields.get("file_version")
    return f"file_version=0x{value:08X}" if isinstance(value, int) else ""


def _upgrade_time(fields: dict[str, Any]) -> str:
    upgrade, now = fields.get("upgrade_time"), fields.get("current_time")
    if upgrade is None:
        return ""
    if upgrade in (0, now):
        return "upgrade now"
    if upgrade == UPGRADE_WAIT:
        return "wait for another End Response"
    return f"upgrade in {upgrade - now} s" if isinstance(now, int) else f"upgrade at {upgrade}"


def _attribute(attribute: Any, cluster: int) -> str:
    """OTA client attributes by name; any other cluster's by id."""
    if not isinstance(attribute, int):
        return str(attribute)
    if cluster == ota.CLUSTER_ID and attribute in ota.ATTRIBUTES:
        return ota.ATTRIBUTES[attribute]
    return f"0x{attribute:04X}"


def _key_fields(item: _Item) -> list[str]:
    """The one or two fields that say what this frame did, as a reviewer wants them."""
    command, fields, repeat = item.command, item.fields, item.repeat
    status = fields.get("status")
    if command == "image_block_request":
        return [f"file_offset={fields.get('file_offset')}", f"({repeat})" if repeat else ""]
    if command == "image_page_request":
        return [f"file_offset={fields.get('file_offset')}", f"page_size={fields.get('page_size')}"]
    if command == "image_block_response":
        if status == ota.SUCCESS:
            return [f"file_offset={fields.get('file_offset')}", f"+{fields.get('data_size')}"]
        if status == ota.WAIT_FOR_DATA:
            pause = fields.get("request_time", 0) - fields.get("current_time", 0)
            return [_status(status), f"pause {pause} s"]
        return [_status(status)]
    if command in ("query_next_image_response", "query_device_specific_file_response"):
        if status != ota.SUCCESS:
            return [_status(status)]
        return [_status(status), _version(fields), f"image_size={fields.get('image_size')}"]
    if command == "upgrade_end_request":
        return [_status(status), _version(fields)]
    if command == "upgrade_end_response":
        return [_version(fields), _upgrade_time(fields)]
    if command == "read_attributes":
        return [",".join(_attribute(a, item.cluster) for a in fields.get("attributes", ()))]
    if command == "read_attributes_response":
        return [_record_text(record, item.cluster) for record in fields.get("records", ())]
    if command == "default_response":
        return [f"command_id=0x{fields.get('command_id', 0):02X}", _status(status)]
    return [_version(fields)]


def _record_text(record: dict[str, Any], cluster: int) -> str:
    name = _attribute(record.get("attribute"), cluster)
    if record.get("status") != ota.SUCCESS:
        return f"{name}:{_status(record.get('status'))}"
    value = record.get("value")
    if not isinstance(value, int):
        return f"{name}={value}"
    data_type = DATA_TYPES.get(record.get("data_type", -1))
    digits = 2 * data_type.size if data_type is not None and data_type.kind == "uint" else 1
    return f"{name}=0x{value:0{digits}X}"


def _label(item: _Item) -> str:
    """Frame number, command, key fields; frames of other clusters say which cluster, as
    the codec names only the OTA cluster's own commands."""
    cluster = "" if item.cluster == ota.CLUSTER_ID else f"[cluster 0x{item.cluster:04X}]"
    fields = _key_fields(item)
    parts = [f"#{item.number}", cluster, item.command, *fields]
    return " ".join(part for part in parts if part)


def _foldable(item: _Item) -> bool:
    if item.command == "image_block_request":
        return not item.repeat
    return item.command == "image_block_response" and item.fields.get("status") == ota.SUCCESS


class _Builder:
    """One pass: buffers a run of foldable block frames, then emits it as arrows or as
    edge arrows around a band; WAN notes due before a frame are emitted before it (ending
    any run); stops drawing at ``limit`` rows but keeps counting."""

    def __init__(self, limit: int, wan: Iterable[WanEvent] = ()) -> None:
        self.chart = Chart()
        self._limit = limit
        self._run: list[_Item] = []
        timed = sorted((event for event in wan if event[0] is not None), key=lambda e: e[0])
        self._wan: list[WanEvent] = timed + [event for event in wan if event[0] is None]
        self._requested: dict[tuple[int, Any], set[int]] = {}
        self._last_offset: dict[int, int] = {}  # by device
        self._waited: dict[int, int] = {}  # offset a WAIT_FOR_DATA told the device to resume

    def add(self, record: FrameRecord) -> None:
        han = record.han
        if han is None or han.zcl is None or han.nwk is None or record.error is not None:
            return
        zcl = han.zcl
        self.notes_until(record.time)
        if self.chart.t0 is None:
            self.chart.t0 = record.time
        repeat = self._repeat(han.nwk.src16, han.nwk.dst16, zcl.command, zcl.fields)
        cluster = han.aps.cluster if han.aps is not None else ota.CLUSTER_ID
        item = _Item(record.number, record.time - self.chart.t0, han.nwk.src16, han.nwk.dst16,
                     cluster, zcl.command, zcl.fields, repeat)
        if _foldable(item):
            self._run.append(item)
        else:
            self.flush()
            self._emit([item])

    def notes_until(self, time: float | None) -> None:
        """Emit the WAN notes timed at or before ``time`` (all that are left when None)."""
        while self._wan and (time is None or (self._wan[0][0] is not None
                                              and self._wan[0][0] <= time)):
            when, label = self._wan.pop(0)
            self.flush()
            if self.chart.t0 is None and when is not None:
                self.chart.t0 = when
            t0 = self.chart.t0
            self._emit([Note(None if when is None or t0 is None else when - t0, label)])

    def _repeat(self, src: int, dst: int, command: str, fields: dict[str, Any]) -> str:
        """Whether a block request repeats an offset: a retry, or the resumption a
        WAIT_FOR_DATA asked for (the same rule as hanota.verify.plot)."""
        if command == "image_block_response" and fields.get("status") == ota.WAIT_FOR_DATA:
            if dst in self._last_offset:
                self._waited[dst] = self._last_offset[dst]
            return ""
        if command != "image_block_request":
            return ""
        offset = fields.get("file_offset")
        self._last_offset[src] = offset
        requested = self._requested.setdefault((src, fields.get("file_version")), set())
        if offset not in requested:
            requested.add(offset)
            return ""
        if self._waited.get(src) == offset:
            del self._waited[src]
            return RESUMED
        return RETRY

    def flush(self) -> None:
        run, self._run = self._run, []
        middle = run[EDGE_FRAMES:-EDGE_FRAMES]
        if len(middle) < 2 * MIN_BAND_PAIRS:
            self._emit(run)
            return
        requests = [item for item in middle if item.command == "image_block_request"]
        self._emit(run[:EDGE_FRAMES])
        offsets = [item.fields["file_offset"] for item in middle if "file_offset" in item.fields]
        nodes = tuple(dict.fromkeys(n for item in middle for n in (item.src, item.dst)))
        pairs = max(len(requests), len(middle) - len(requests))
        band = Band(pairs, min(offsets), max(offsets), middle[0].number, middle[-1].number,
                    nodes)
        self._emit([band], represented=len(middle))
        self._emit(run[-EDGE_FRAMES:])

    def _emit(self, rows: list[_Item] | list[Band] | list[Note],
              represented: int | None = None) -> None:
        chart = self.chart
        for row in rows:
            if len(chart.rows) >= self._limit:
                chart.omitted += represented if represented is not None else 1
                continue
            if isinstance(row, Note):
                chart.rows.append(row)
                continue
            if isinstance(row, Band):
                chart.rows.append(row)
                nodes: Iterable[int] = row.nodes
            else:
                chart.rows.append(Arrow(row.number, row.t, row.src, row.dst, _label(row)))
                nodes = (row.src, row.dst)
            for node in nodes:
                if node not in chart.nodes:
                    chart.nodes.append(node)


def sequence_rows(
    frames: Iterable[FrameRecord], *, wan: Iterable[WanEvent] = (), limit: int = 200
) -> Chart:
    """The chart both renderings draw: one arrow per ZCL frame (frames that did not
    decode and MAC ACKs carry none), uneventful block runs folded, WAN messages as notes
    in time order, at most ``limit`` rows (arrows, bands and notes)."""
    builder = _Builder(limit, list(wan))
    for record in frames:
        builder.add(record)
    builder.flush()
    builder.notes_until(None)
    return builder.chart


def node_name(address: int, names: Mapping[int, str]) -> str:
    """The name the DUT description gives a short address, else the address itself."""
    return names.get(address) or f"0x{address:04X}"


def sequence_text(
    frames: Iterable[FrameRecord], names: Mapping[int, str], *,
    wan: Iterable[WanEvent] = (), limit: int = 200,
) -> str:
    """The chart as plain lines (terminals, text attachments): time, sender → receiver,
    frame number, command and key fields; a band as one indented line; a WAN note as
    its time, ``WAN`` and its label."""
    chart = sequence_rows(frames, wan=wan, limit=limit)
    lines = []
    for row in chart.rows:
        if isinstance(row, Note):
            lines.append(f"{_note_time(row)}  WAN  {row.label}")
        elif isinstance(row, Band):
            lines.append(f"{'':>10}  {row.text}")
        else:
            src, dst = node_name(row.src, names), node_name(row.dst, names)
            lines.append(f"{row.t:9.3f}s  {src} → {dst}  {row.label}")
    if chart.omitted:
        lines.append(f"… {chart.omitted} more frames not shown (limit {limit})")
    return "\n".join(lines) + "\n" if lines else ""


def _note_time(note: Note) -> str:
    return f"{'?':>9}s" if note.t is None else f"{note.t:9.3f}s"


def _text(value: str) -> str:
    """XML character data: escaped, and stripped of characters XML 1.0 cannot hold."""
    return escape(_XML_INVALID.sub("?", value))


def _attr(value: str) -> str:
    return quoteattr(_XML_INVALID.sub("?", value))


def sequence_chart(
    frames: Iterable[FrameRecord], names: Mapping[int, str], *,
    wan: Iterable[WanEvent] = (), limit: int = 200,
) -> str:
    """SVG message sequence chart: one lifeline per node, one arrow per ZCL frame,
    folded block runs as bands, WAN messages as notes, at most ``limit`` rows."""
    chart = sequence_rows(frames, wan=wan, limit=limit)
    # Wide enough that the longest label, centred between neighbours, stays clear of the
    # time gutter; capped so one odd label cannot make the chart unreadably wide.
    longest = max((len(row.label) for row in chart.rows if isinstance(row, Arrow)), default=0)
    column = min(MAX_COLUMN, max(MIN_COLUMN, longest * CHAR // 2 + 20))
    x_of = {node: GUTTER + column * index + column // 2 for index, node in enumerate(chart.nodes)}
    notes = [len(row.label) for row in chart.rows if isinstance(row, Note)]
    width = max(GUTTER + column * max(1, len(chart.nodes)),
                GUTTER + (max(notes, default=0) + 4) * CHAR + 20)  # a note is one line
    body: list[str] = []
    y = HEADER + ROW
    for row in chart.rows:
        if isinstance(row, Note):
            body.append(_note(row, y, width))
            y += ROW
        elif isinstance(row, Band):
            body.append(_band(row, y - ROW + 6, x_of, column))
            y += BAND
        else:
            body.append(_arrow(row, y, x_of))
            y += ROW
    if chart.omitted:
        note = f"… {chart.omitted} more frames not shown (limit {limit})"
        body.append(f'<text class="note" x="{GUTTER}" y="{y}">{_text(note)}</text>')
        y += ROW
    height = y + FOOTER
    lifelines = [_lifeline(node, x, column, height, names) for node, x in x_of.items()]
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">',
        "<title>OTA message sequence chart</title>",
        '<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        *lifelines,
        *body,
        "</svg>",
        "",
    ])


def _lifeline(node: int, x: int, column: int, height: int, names: Mapping[int, str]) -> str:
    name = node_name(node, names)
    address = f"0x{node:04X}"
    caption = name if name == address else f"{name} ({address})"
    return (
        f'<g class="lifeline" data-node={_attr(address)}>'
        f'<rect x="{x - column // 2 + 10}" y="8" width="{column - 20}" height="28" '
        'fill="#eef3fb" stroke="#345"/>'
        f'<text x="{x}" y="26" text-anchor="middle" font-weight="bold">{_text(caption)}</text>'
        f'<line x1="{x}" y1="36" x2="{x}" y2="{height - FOOTER // 2}" stroke="#888" '
        'stroke-dasharray="4,3"/></g>'
    )


def _arrow(row: Arrow, y: int, x_of: Mapping[int, int]) -> str:
    x1, x2 = x_of[row.src], x_of[row.dst]
    time_text = f'<text x="4" y="{y}" fill="#666">{row.t:.3f}s</text>'
    if x1 == x2:
        shape = (f'<path d="M{x1},{y - 6} h30 v10 h-30" fill="none" stroke="black" '
                 'marker-end="url(#head)"/>')
        label_x, anchor = x1 + 36, "start"
    else:
        shape = (f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="black" '
                 'marker-end="url(#head)"/>')
        label_x, anchor = (x1 + x2) // 2, "middle"
    return (f'<g class="arrow" data-frame="{row.number}">{time_text}{shape}'
            f'<text x="{label_x}" y="{y - 4}" text-anchor="{anchor}">{_text(row.label)}</text>'
            "</g>")


def _band(row: Band, top: int, x_of: Mapping[int, int], column: int) -> str:
    xs = [x_of[node] for node in row.nodes]
    left, right = min(xs) - column // 4, max(xs) + column // 4
    return (f'<g class="band"><rect x="{left}" y="{top}" width="{right - left}" '
            f'height="{BAND - 6}" fill="#f4f4f4" stroke="#aaa" stroke-dasharray="2,2"/>'
            f'<text x="{(left + right) // 2}" y="{top + BAND // 2}" '
            f'text-anchor="middle" font-style="italic">{_text(row.text)}</text></g>')


def _note(row: Note, y: int, width: int) -> str:
    """A WAN message: a shaded strip across every lifeline, its time in the gutter."""
    return (f'<g class="wan"><text x="4" y="{y}" fill="#666">{_text(_note_time(row).strip())}'
            f'</text><rect x="{GUTTER}" y="{y - ROW + 8}" width="{width - GUTTER - 4}" '
            f'height="{ROW - 4}" fill="#fdf3e1" stroke="#c90"/>'
            f'<text x="{GUTTER + 6}" y="{y - 4}">WAN {_text(row.label)}</text></g>')
