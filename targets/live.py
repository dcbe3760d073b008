"""The LIVE target: judge a real Comms Hub and device from a sniffer's traffic as it happens.

Why it looks like this: scenarios are the same as for capture replay, so the live target
only has to deliver the same ``FrameRecord``s, but a live trace is never complete. Frames
go into a thread-safe ``FrameBuffer`` as the source decodes them; each scenario reads it
through a ``LiveSession`` whose ``more()`` blocks until new frames arrive, the scenario's
time-out (PIXIT ``evidence_timeout_s``) passes, or the source ends. An empty ``more()``
means "no more evidence will come": the verdict is then INCONCLUSIVE, and
``LiveSession.why_no_more`` says why (time-out or the source's end reason).

Sources: ``zep://HOST:PORT`` (UDP socket bound there, ZEP v1/v2 as remote sniffers send
to Wireshark) and ``pipe:PATH`` or ``-`` (a pcap/pcapng stream on a FIFO or stdin).
Frames on another channel than the DUT's are dropped (counted); with
``wait_for_upgrade`` nothing is kept until the first Image Notify or Query Next Image
Request, so a run can be started before the test house triggers the upgrade.

Registered as the suite's ``live`` target (``live_target``, options in
``TargetOptions.extra``).

The WAN side: with ``wan_source`` (``http://HOST:PORT/PATH``) a ``WanReceiver`` takes the
DUIS responses and alerts the DCC (or DCC Boxed) POSTs there, and the trace's GBCS
messages grow from it. A check reads ``trace.wan`` right after finding the HAN event a
message is about, but DUIS arrives later than the frames; so reading it waits (a
``LiveTrace``) until the WAN side has caught up with the HAN side: a DUIS message
stamped at or after the latest frame received has arrived, or ``duis_latency`` seconds
have passed since the newest frame arrived, or the scenario's evidence time-out (the
only bound while no frame has come). When no DUIS message came at all the INCONCLUSIVE
verdict says "no DUIS alert within N s". Without a
WAN source the trace holds HAN frames only and the WAN rules are INCONCLUSIVE.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from hanota.dut.description import Dut, Image
from hanota.dut.situations import Situation
from hanota.layers.capture_unwrap import FCS_AUTO
from hanota.layers.capture_zep import ZEP_PORT
from hanota.layers.model import FrameRecord
from hanota.layers.ota import CLUSTER_ID
from hanota.layers.security import KeyRing
from hanota.layers.wan_text import WanInput
from hanota.targets.base import TargetOptions, dut_keys, load_certificate, register_target
from hanota.targets.live_sources import FrameDecoder, LiveStats, PipeSource, ZepSource
from hanota.targets.wan_receiver import WanReceiver
from hanota.verify.trace import EVIDENCED, Trace, WanRecord, wan_record

UPGRADE_START = frozenset(("image_notify", "query_next_image_request"))
EVIDENCE_WINDOWS = ("scenario", "run")
DUIS_LATENCY_S = 30.0
"""Default: how long after the newest HAN frame a DUIS message about it may still come."""
WAIT_SLICE_S = 0.5


@dataclass(frozen=True)
class SourceSpec:
    """A parsed ``--source``: ``kind`` is ``"zep"`` (host, port) or ``"pipe"`` (path)."""

    kind: str
    host: str = ""
    port: int = 0
    path: str = ""


def parse_source(text: str) -> SourceSpec:
    """``zep://HOST:PORT`` (port defaults to 17754; IPv6 as ``[::1]:PORT``), ``pipe:PATH``
    or ``-`` (stdin)."""
    if text == "-":
        return SourceSpec("pipe", path="-")
    if text.startswith("pipe:"):
        path = text[len("pipe:"):]
        if not path:
            raise ValueError("pipe: needs a path (or use - for stdin)")
        return SourceSpec("pipe", path=path)
    if text.startswith("zep://"):
        rest = text[len("zep://"):].rstrip("/")
        if rest.startswith("["):
            host, _, port = rest[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
        try:
            number = int(port) if port else ZEP_PORT
        except ValueError as error:
            raise ValueError(f"{text}: port {port!r} is not a number") from error
        if not 0 <= number <= 65535:
            raise ValueError(f"{text}: port {number} out of range")
        return SourceSpec("zep", host=host or "0.0.0.0", port=number)
    raise ValueError(f"source {text!r}: expected zep://HOST:PORT, pipe:PATH or -")


def open_source(spec: SourceSpec, stats: LiveStats) -> ZepSource | PipeSource:
    """The source a spec names; a ZEP socket is bound here (errors surface at once)."""
    if spec.kind == "zep":
        return ZepSource(spec.host, spec.port, stats)
    return PipeSource(spec.path, stats)


def _images(dut: Dut, names: Iterable[str] | None) -> list[Image] | str:
    """The named images of the DUT; without names, those the trace itself shows.

    Why not "all of the DUT's images": a live run sees only what the supplier triggered,
    and assuming an image was delivered would turn its absence into a false FAIL.
    """
    if names is None:
        return EVIDENCED
    unknown = [name for name in names if name not in dut.images]
    if unknown:
        raise ValueError(f"held images {', '.join(unknown)}: not in the DUT description "
                         f"({', '.join(dut.images)})")
    return [dut.images[name] for name in names]


def is_upgrade_start(frame: FrameRecord) -> bool:
    """Image Notify or Query Next Image Request: where an OTA exchange begins."""
    han = frame.han
    return (
        han is not None and han.zcl is not None and han.aps is not None
        and han.aps.cluster == CLUSTER_ID and han.zcl.command in UPGRADE_START
    )


class FrameBuffer:
    """The growing, thread-safe list of frames of a live run (a ``FrameSink``).

    Filters as frames arrive (channel, upgrade gate) so every reader sees the same trace.
    """

    def __init__(
        self, stats: LiveStats, *, channel: int | None, wait_for_upgrade: bool = False,
    ) -> None:
        self.stats = stats
        self.channel = channel
        self._gate_open = not wait_for_upgrade
        self._frames: list[FrameRecord] = []
        self._changed = threading.Condition()
        self._ended = False
        self.last_arrival: float | None = None  # time.monotonic() of the newest frame
        self.latest_time: float | None = None  # the latest frame time kept

    def add(self, frame: FrameRecord) -> None:
        stats = self.stats
        if self.channel is not None and frame.channel not in (None, self.channel):
            stats.other_channel += 1
            return
        if not self._gate_open:
            if not is_upgrade_start(frame):
                stats.before_upgrade += 1
                return
            self._gate_open = True
        stats.frames += 1
        if frame.error is not None:
            stats.errors += 1
        with self._changed:
            self._frames.append(frame)
            self.last_arrival = time.monotonic()
            if self.latest_time is None or frame.time > self.latest_time:
                self.latest_time = frame.time
            self._changed.notify_all()

    def end(self, reason: str) -> None:
        with self._changed:
            self.stats.end_reason = reason
            self._ended = True
            self._changed.notify_all()

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def waiting_for_upgrade(self) -> bool:
        """Frames are still held back until an upgrade starts."""
        return not self._gate_open

    def __len__(self) -> int:
        return len(self._frames)

    def snapshot(self) -> list[FrameRecord]:
        with self._changed:
            return list(self._frames)

    def wait(self, have: int, deadline: float) -> list[FrameRecord]:
        """Frames after the first ``have``; waits for at least one until ``deadline``
        (``time.monotonic``) or the source's end. Empty: none came."""
        with self._changed:
            while len(self._frames) <= have and not self._ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self._frames[have:]


class LiveSession:
    """One scenario's view of the live trace: what arrived so far, and a way to wait.

    ``frames`` holds what the session has pulled; ``more()`` adds and returns the frames
    that arrived since, waiting until the session's deadline. This is the hook a growing
    trace calls when an assertion runs past its end.
    """

    def __init__(self, buffer: FrameBuffer, timeout: float, source: str) -> None:
        self.buffer = buffer
        self.timeout = timeout
        self.source = source
        self.deadline = time.monotonic() + timeout
        self.frames: list[FrameRecord] = buffer.snapshot()

    def more(self) -> list[FrameRecord]:
        new = self.buffer.wait(len(self.frames), self.deadline)
        self.frames.extend(new)
        return new

    def __iter__(self) -> Iterator[FrameRecord]:
        """Every frame of the trace, blocking for more at the end until time-out/end."""
        position = 0
        while True:
            while position < len(self.frames):
                yield self.frames[position]
                position += 1
            if not self.more():
                return

    def restart(self, timeout: float) -> None:
        """A new wait of ``timeout`` seconds from now (the next scenario's)."""
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def why_no_more(self) -> str:
        """Why the trace stopped growing, for an INCONCLUSIVE verdict's text."""
        seen = f"{len(self.frames)} frames seen"
        if self.buffer.ended:
            return f"live source ended ({self.buffer.stats.end_reason}); {seen}"
        return (
            f"no further evidence within {self.timeout:g} s (evidence_timeout_s) "
            f"from {self.source}; {seen}"
        )


class LiveTrace(Trace):
    """The live run's Trace: reading ``wan`` first brings in the DUIS messages received,
    waiting (``catch_up``) as the module's docstring says.

    Why a subclass: the checks read ``trace.wan`` as a list; a live WAN side must grow
    and be waited for at that moment, as frames are through ``more()``.
    """

    def __init__(self, *args: object, catch_up: Callable[[LiveTrace], None] | None = None,
                 **kwargs: object) -> None:
        self._catch_up = None
        self.duis_taken = 0  # DUIS messages of the receiver already in the trace
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._catch_up = catch_up

    @property  # type: ignore[override]
    def wan(self) -> list[WanRecord]:
        if self._catch_up is not None:
            self._catch_up(self)
        return self._wan

    @wan.setter
    def wan(self, value: list[WanRecord]) -> None:
        self._wan = value

    def _wan_times(self) -> list[float]:
        """Trace start/end without waiting for the WAN side."""
        return [m.time for m in self._wan if m.time is not None]

    @property
    def newest_wan_time(self) -> float | None:
        """The latest time among the WAN messages taken so far (no waiting)."""
        return max(self._wan_times(), default=None)

    def take(self, items: list[WanInput], certificate: object) -> None:
        """Append received DUIS messages as WAN records (no waiting)."""
        for item in items:
            self._wan.append(wan_record(len(self._wan), item.time, item.data or b"",
                                        certificate, item.duis))
        self.duis_taken += len(items)


class LiveTarget:
    """A sniffer's live traffic as the suite's trace source.

    ``evidence_timeout`` overrides PIXIT ``evidence_timeout_s`` (tests use seconds);
    ``channel`` overrides the DUT's channel (None: take every channel).
    ``evidence_window``: ``"scenario"`` (each scenario waits up to the time-out from its
    own start: an operator can trigger exchanges one after another) or ``"run"`` (one
    window from the first scenario: once it has passed, every later scenario is judged at
    once on the trace as it is, so a run lasts one time-out, not one per scenario).
    ``held_images``: names of the DUT's images the supplier delivered to the CHF for this
    run (default: those the trace shows, as for a replay); checks about "the held image"
    judge against these, so list only what was delivered.
    ``wan_source``: ``http://HOST:PORT/PATH`` where DUIS is POSTed (None: no WAN side);
    ``duis_latency``: seconds the WAN side may lag the newest frame; ``certificate``:
    the CHF's signing certificate, to check the alerts' signatures with.
    """

    name = "live"

    def __init__(
        self, dut: Dut, source: str, *, keys: KeyRing | None = None,
        evidence_timeout: float | None = None, wait_for_upgrade: bool = False,
        channel: int | str | None = "dut", evidence_window: str = "scenario",
        held_images: Iterable[str] | None = None, wan_source: str | None = None,
        duis_latency: float = DUIS_LATENCY_S, certificate: object = None,
        fcs_format: str = FCS_AUTO,
    ) -> None:
        if evidence_window not in EVIDENCE_WINDOWS:
            raise ValueError(f"evidence window {evidence_window!r}: one of "
                             f"{', '.join(EVIDENCE_WINDOWS)}")
        self.evidence_window = evidence_window
        self.held_images = _images(dut, held_images)
        self.dut = dut
        self.spec = parse_source(source)
        self.keys = keys if keys is not None else dut_keys(dut)
        self.fcs_format = fcs_format
        self.evidence_timeout = (
            evidence_timeout if evidence_timeout is not None else dut.pixit.evidence_timeout_s
        )
        self.stats = LiveStats()
        self.buffer = FrameBuffer(
            self.stats, channel=dut.channel if channel == "dut" else channel,
            wait_for_upgrade=wait_for_upgrade,
        )
        self._source: ZepSource | PipeSource | None = None
        self._session: LiveSession | None = None
        self._trace: LiveTrace | None = None
        self.wan_source = wan_source
        self.duis_latency = duis_latency
        self.certificate = certificate
        self.receiver: WanReceiver | None = None
        self.wan_note: str | None = None

    def start(self) -> LiveTarget:
        """Bind or open the source and start reading; returns self."""
        self._source = open_source(self.spec, self.stats)
        self._source.start(FrameDecoder(self.buffer, self.keys, self.stats, self.fcs_format))
        if self.wan_source is not None:  # last: once it answers, the HAN source listens
            try:
                self.receiver = WanReceiver(self.wan_source).start()
            except OSError:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        if self._source is not None:
            self._source.stop()
            self._source = None
        if self.receiver is not None:
            self.receiver.stop()

    @property
    def description(self) -> str:
        return self._source.description if self._source is not None else self.spec.kind

    @property
    def address(self) -> tuple[str, int]:
        """Where a ZEP source listens (the real port when 0 was asked)."""
        if not isinstance(self._source, ZepSource):
            raise ValueError("only a started zep:// source has an address")
        return self._source.address

    def evidence_files(self) -> list[Path]:
        """A ``pipe:PATH`` source that is a regular file (a capture streamed in); none
        for a socket, FIFO or stdin: a live run keeps no file (``hanota capture``
        records one)."""
        path = Path(self.spec.path) if self.spec.kind == "pipe" and self.spec.path != "-" \
            else None
        return [path] if path is not None and path.is_file() else []

    def frames(self) -> list[FrameRecord]:
        """What arrived so far (a copy)."""
        return self.buffer.snapshot()

    def session(self, timeout: float | None = None) -> LiveSession:
        """A scenario's view, waiting at most ``timeout`` (default: the evidence time-out)."""
        return LiveSession(
            self.buffer, self.evidence_timeout if timeout is None else timeout,
            self.description,
        )

    def trace(self, situation: Situation | None = None, timeout: float | None = None) -> Trace:
        """The suite's ``Trace`` of this run; each call starts a scenario's wait.

        Every situation is judged on the same growing trace (a live HAN runs whatever the
        test house triggers), so one ``Trace`` is kept and each call only restarts the
        time-out: the scenario then waits at most ``timeout`` (default: the evidence
        time-out) for frames beyond the end, through the trace's ``more`` hook.
        """
        wait = self.evidence_timeout if timeout is None else timeout
        self.wan_note = None
        if self._trace is None or self._session is None:
            session = self._session = self.session(wait)

            def more(trace: Trace) -> bool:
                # Whether anything arrived, frame or not: records that carry no frame
                # (a malformed datagram) go to the trace's rejects, and must not make a
                # search believe that nothing more will come.
                arrived = session.more()
                trace.extend(arrived)
                return bool(arrived)

            self._trace = LiveTrace(
                self.dut, session.frames, source=self.description, more=more,
                held_images=self.held_images,
                catch_up=self._catch_up_wan if self.receiver is not None else None)
        elif self.evidence_window == "scenario" or timeout is not None:
            self._session.restart(wait)
        return self._trace

    def _catch_up_wan(self, trace: LiveTrace) -> None:
        """Bring the DUIS messages received into ``trace``, waiting until the WAN side
        has caught up with the HAN side (see the module's docstring)."""
        receiver, session = self.receiver, self._session
        if receiver is None or session is None:
            return
        while True:
            trace.take(receiver.buffer.since(trace.duis_taken), self.certificate)
            latest_frame, newest = self.buffer.latest_time, trace.newest_wan_time
            if latest_frame is not None and newest is not None and newest >= latest_frame:
                return
            until, bound = session.deadline, session.timeout
            arrival = self.buffer.last_arrival
            if arrival is not None and arrival + self.duis_latency < until:
                until, bound = arrival + self.duis_latency, self.duis_latency
            if time.monotonic() >= until:
                if not trace.duis_taken:
                    self.wan_note = f"no DUIS alert within {bound:g} s at {receiver.url}"
                return
            # in slices: frames arriving meanwhile move the bound
            receiver.buffer.since(trace.duis_taken, min(until, time.monotonic() + WAIT_SLICE_S))

    def why_no_more(self) -> str:
        """Why the current scenario's trace stopped growing (for INCONCLUSIVE reports)."""
        if self._session is None:
            return f"{self.description}: no scenario has waited yet"
        return self._session.why_no_more()

    def summary(self) -> str:
        """One line for the run's report: what was received and what went wrong."""
        s = self.stats
        return (
            f"{self.description}: {s.received} received, {s.frames} frames kept, "
            f"{s.errors} undecodable, {s.malformed} malformed, {s.dropped} dropped, "
            f"{s.other_channel} other channel, {s.before_upgrade} before upgrade, "
            f"{s.skipped} without 802.15.4"
            + (f"; {s.end_reason}" if s.end_reason else "")
            + (f"; WAN {self.receiver.summary()}" if self.receiver is not None else "")
        )

    def __enter__(self) -> LiveTarget:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


@register_target("live")
def live_target(options: TargetOptions) -> LiveTarget:
    """``--target live``: options ``extra["source"]`` (required),
    ``extra["evidence_timeout"]`` (seconds, overrides the PIXIT),
    ``extra["wait_for_upgrade"]``, ``extra["evidence_window"]`` ("scenario" or "run"),
    ``extra["images"]`` (image names, a list or comma-separated text),
    ``extra["wan_source"]`` (the DUIS receiver's URL), ``extra["duis_latency"]`` and
    ``extra["fcs_format"]`` (a pipe's link-type-195 convention, default detected);
    ``options.certificate`` checks the alerts' signatures; ``options.keys`` are tried
    after the DUT description's.
    The source is opened at once: a busy port stops the run before any scenario."""
    extra = options.extra
    source = extra.get("source")
    if not source:
        raise ValueError("--target live needs --source zep://HOST:PORT, pipe:PATH or -")
    timeout = extra.get("evidence_timeout")
    target = LiveTarget(
        options.dut, str(source), keys=dut_keys(options.dut, options.keys),
        fcs_format=str(extra.get("fcs_format") or FCS_AUTO),
        evidence_timeout=None if timeout is None else float(timeout),
        wait_for_upgrade=bool(extra.get("wait_for_upgrade", False)),
        evidence_window=str(extra.get("evidence_window") or "scenario"),
        held_images=_names(extra.get("images")),
        wan_source=extra.get("wan_source"),
        duis_latency=float(extra.get("duis_latency") or DUIS_LATENCY_S),
        certificate=load_certificate(options.certificate),
    )
    return target.start()


def _names(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return list(value)
