"""Download progress picture: file offset against time, one line per OTA download.

Why a picture: a 1 MiB image is some 65,000 frames, and a stall, a WAIT_FOR_DATA pause,
a burst of retries or a late activation shows at a glance on a plot where it would take
minutes to find in a frame list. Every transfer scenario attaches this to its result.

The points are extracted in one pass (``download_points``) into plain lists that tests
can check; the plot is drawn from them with one call per kind of mark, never one per
point, so a full transfer renders in well under the time a scenario takes to report.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hanota.layers import ota
from hanota.layers.model import FrameRecord

BLOCK_REQUESTS = ("image_block_request", "image_page_request")
UPGRADE_WAIT = 0xFFFFFFFF
_MAX_EVENT_LABELS = 12


@dataclass(frozen=True, slots=True)
class Wait:
    """A WAIT_FOR_DATA answer: the device is told to pause ``pause`` seconds
    (request_time - current_time) before asking again for ``offset``."""

    number: int
    t: float
    offset: int | None
    pause: float
    minimum_block_period: int | None


@dataclass(frozen=True, slots=True)
class Retry:
    """A block request repeating an offset the device already requested (a re-request
    after a WAIT_FOR_DATA for that offset is the asked-for resumption, not a retry)."""

    number: int
    t: float
    offset: int


@dataclass(slots=True)
class EndEvent:
    """A moment that ends a download: ``kind`` is ``end_request`` (detail = its status
    name), ``end_response`` (the activation; detail says when), ``read_back`` (the CHF
    reading CurrentFileVersion; detail gains the value once the device answers) or
    ``abort`` (an Image Block Response with status ABORT)."""

    kind: str
    number: int
    t: float
    detail: str


@dataclass(slots=True)
class Download:
    """The block traffic of one (device, file_version) download.

    ``points`` holds, in frame order, (t, file_offset) of each request and
    (t, file_offset + data_size) of each SUCCESS response: the line drawn.
    """

    device: int
    file_version: int
    points: list[tuple[float, int]] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    retries: list[Retry] = field(default_factory=list)
    ends: list[EndEvent] = field(default_factory=list)


@dataclass(slots=True)
class DownloadSummary:
    """Every download of a trace; times are seconds from ``t0``, the first OTA frame."""

    t0: float | None = None
    downloads: list[Download] = field(default_factory=list)

    def find(self, device: int, file_version: int) -> Download | None:
        """The download of ``device`` for ``file_version``, if the trace shows one."""
        for download in self.downloads:
            if download.device == device and download.file_version == file_version:
                return download
        return None

    @property
    def has_blocks(self) -> bool:
        """Whether any block request or response was seen: without one there is no plot."""
        return any(download.points for download in self.downloads)


def _activation_text(fields: dict) -> str:
    upgrade_time = fields.get("upgrade_time")
    current_time = fields.get("current_time")
    if upgrade_time is None:
        return "activation"
    if upgrade_time in (0, current_time):
        return "activation: upgrade now"
    if upgrade_time == UPGRADE_WAIT:
        return "activation: wait for another End Response"
    if current_time is not None:
        return f"activation: upgrade in {upgrade_time - current_time} s"
    return f"activation: upgrade at {upgrade_time}"


def _status_name(value: int | None) -> str:
    if value is None:
        return "?"
    return ota.STATUS.get(value, f"0x{value:02X}")


class _Extractor:
    """One pass over the frames; keeps per-device state to attribute responses (a
    WAIT_FOR_DATA carries no file_version) and end events to the right download."""

    def __init__(self) -> None:
        self.summary = DownloadSummary()
        self._by_key: dict[tuple[int, int], Download] = {}
        self._current: dict[int, Download] = {}
        self._pending_read: dict[int, EndEvent] = {}
        self._requested: dict[tuple[int, int], set[int]] = {}
        self._last_request: dict[tuple[int, int], int] = {}
        self._waited: dict[tuple[int, int], int] = {}

    def _download(self, device: int, file_version: int | None) -> Download | None:
        if file_version is None:
            return self._current.get(device)
        key = (device, file_version)
        download = self._by_key.get(key)
        if download is None:
            download = Download(device, file_version)
            self._by_key[key] = download
            self.summary.downloads.append(download)
        self._current[device] = download
        return download

    def _event_target(self, device: int, file_version: int | None) -> Download | None:
        """Downloads are made by block traffic only; an end event joins the device's
        download of that version, else its latest one (wildcard or unknown version)."""
        download = self._by_key.get((device, file_version)) if file_version is not None else None
        return download or self._current.get(device)

    def add(self, record: FrameRecord) -> None:
        han = record.han
        if han is None or han.zcl is None or han.aps is None or han.nwk is None \
                or record.error is not None:  # a flagged frame (bad FCS, cut short) is no step
            return
        if han.aps.cluster != ota.CLUSTER_ID:
            return
        summary = self.summary
        if summary.t0 is None:
            summary.t0 = record.time
        t = record.time - summary.t0
        zcl = han.zcl
        fields = zcl.fields
        command = zcl.command
        # The device is the OTA client: it sends direction 0, receives direction 1.
        device = han.nwk.dst16 if zcl.direction else han.nwk.src16
        if command in BLOCK_REQUESTS:
            self._request(device, fields, record.number, t)
        elif command == "image_block_response":
            self._response(device, fields, record.number, t)
        elif command == "upgrade_end_request":
            target = self._event_target(device, fields.get("file_version"))
            if target is not None:
                status = _status_name(fields.get("status"))
                target.ends.append(EndEvent("end_request", record.number, t, status))
        elif command == "upgrade_end_response":
            target = self._event_target(device, fields.get("file_version"))
            if target is not None:
                text = _activation_text(fields)
                target.ends.append(EndEvent("end_response", record.number, t, text))
        elif command == "read_attributes":
            self._read_back(device, fields, record.number, t)
        elif command == "read_attributes_response":
            self._read_back_value(device, fields)

    def _request(self, device: int, fields: dict, number: int, t: float) -> None:
        download = self._download(device, fields.get("file_version"))
        offset = fields.get("file_offset")
        if download is None or offset is None:
            return
        download.points.append((t, offset))
        key = (download.device, download.file_version)
        self._last_request[key] = offset
        requested = self._requested.setdefault(key, set())
        if offset not in requested:
            requested.add(offset)
        elif self._waited.get(key) == offset:
            del self._waited[key]
        else:
            download.retries.append(Retry(number, t, offset))

    def _response(self, device: int, fields: dict, number: int, t: float) -> None:
        status = fields.get("status")
        if status == ota.SUCCESS:
            download = self._download(device, fields.get("file_version"))
            if download is not None and "file_offset" in fields:
                size = fields.get("data_size", len(fields.get("data", b"")))
                download.points.append((t, fields["file_offset"] + size))
        elif status == ota.ABORT:
            download = self._current.get(device)
            if download is not None:
                download.ends.append(EndEvent("abort", number, t, "block response ABORT"))
        elif status == ota.WAIT_FOR_DATA:
            download = self._current.get(device)
            if download is None:
                return
            offset = self._last_request.get((download.device, download.file_version))
            pause = max(0, fields.get("request_time", 0) - fields.get("current_time", 0))
            wait = Wait(number, t, offset, float(pause), fields.get("minimum_block_period"))
            download.waits.append(wait)
            if offset is not None:
                self._waited[(download.device, download.file_version)] = offset

    def _read_back(self, device: int, fields: dict, number: int, t: float) -> None:
        if ota.CURRENT_FILE_VERSION not in fields.get("attributes", ()):
            return
        target = self._current.get(device)
        if target is None:
            return
        event = EndEvent("read_back", number, t, "read-back CurrentFileVersion")
        target.ends.append(event)
        self._pending_read[device] = event

    def _read_back_value(self, device: int, fields: dict) -> None:
        event = self._pending_read.get(device)
        if event is None:
            return
        for record in fields.get("records", ()):
            if record.get("attribute") != ota.CURRENT_FILE_VERSION:
                continue
            value = record.get("value")
            if record.get("status") == ota.SUCCESS and isinstance(value, int):
                event.detail = f"read-back CurrentFileVersion=0x{value:08X}"
            else:
                event.detail = f"read-back CurrentFileVersion: {_status_name(record.get('status'))}"
            del self._pending_read[device]
            return


def download_points(frames: Iterable[FrameRecord]) -> DownloadSummary:
    """Every OTA download in ``frames`` as plottable points, waits, retries and end events.

    Frames that did not decode, MAC ACKs and non-OTA clusters are skipped. A download is
    made by block traffic only; end events and read-backs join the device's download.
    """
    extractor = _Extractor()
    for record in frames:
        extractor.add(record)
    return extractor.summary


def _device_name(device: int, names: Mapping[int, str] | None) -> str:
    if names and device in names:
        return f"{names[device]} (0x{device:04X})"
    return f"0x{device:04X}"


# kind: colour, line style, legend, side of the line its label goes (End Request and
# Response are often a tenth of a second apart: their labels go either side).
_END_STYLES = {
    "end_request": ("tab:red", "--", "Upgrade End Request", "right"),
    "end_response": ("tab:green", "-", "Upgrade End Response (activation)", "left"),
    "read_back": ("tab:purple", ":", "read-back CurrentFileVersion", "left"),
    "abort": ("black", "-.", "Image Block Response ABORT", "left"),
}


def download_plot(
    frames: Iterable[FrameRecord],
    *,
    title: str,
    names: Mapping[int, str] | None = None,
) -> bytes:
    """PNG of file offset against time for every download in ``frames``.

    Raises ValueError when the frames hold no block transfer: the caller decides whether
    that is worth an attachment. matplotlib is imported here, so importing this module
    stays cheap for runs that never draw.
    """
    summary = download_points(frames)
    if not summary.has_blocks:
        raise ValueError("no block transfer in these frames")

    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(11, 5.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    on_x = axes.get_xaxis_transform()  # x in data, y in axes fraction: full-height marks

    left = right = 0.0
    for download in summary.downloads:
        if not download.points:
            continue
        points = np.asarray(download.points, dtype=float)
        left, right = min(left, points[:, 0].min()), max(right, points[:, 0].max())
        label = f"{_device_name(download.device, names)} v0x{download.file_version:08X}"
        axes.plot(points[:, 0], points[:, 1], linewidth=1.0, label=label)

    downloads = summary.downloads
    waits = [wait for download in downloads for wait in download.waits]
    if waits:
        spans = [[(w.t, 0), (w.t + w.pause, 0), (w.t + w.pause, 1), (w.t, 1)] for w in waits]
        axes.add_collection(
            PolyCollection(spans, transform=on_x, facecolor="tab:orange", alpha=0.2,
                           edgecolor="none"),
            autolim=False,
        )
        marked = [(w.t, w.offset) for w in waits if w.offset is not None]
        if marked:
            xs, ys = zip(*marked, strict=True)
            axes.scatter(xs, ys, marker="v", color="tab:orange", zorder=3,
                         label=f"WAIT_FOR_DATA ({len(waits)})")

    retries = [retry for download in downloads for retry in download.retries]
    if retries:
        axes.scatter([r.t for r in retries], [r.offset for r in retries], marker="x",
                     color="tab:red", zorder=3, label=f"retry ({len(retries)})")

    ends = [end for download in downloads for end in download.ends]
    for kind, (color, style, legend, _) in _END_STYLES.items():
        times = [end.t for end in ends if end.kind == kind]
        if times:
            axes.vlines(times, 0, 1, transform=on_x, colors=color, linestyles=style,
                        label=legend)
    for end in sorted(ends, key=lambda e: e.t)[:_MAX_EVENT_LABELS]:
        color, _, _, side = _END_STYLES[end.kind]
        axes.text(end.t, 0.98, f" #{end.number} {end.detail} ", transform=on_x, rotation=90,
                  va="top", ha=side, fontsize=7, color=color)

    right = max([right] + [wait.t + wait.pause for wait in waits] + [end.t for end in ends])
    margin = (right - left) * 0.03 or 1.0
    axes.set_xlim(left, right + margin)
    axes.set_title(title, parse_math=False)  # a "$" in a scenario name is not TeX
    axes.set_xlabel("time since first OTA frame (s)")
    axes.set_ylabel("file offset (bytes)")
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    for text in axes.legend(loc="upper left", fontsize=8).get_texts():
        text.set_parse_math(False)  # device names come from the DUT description
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
