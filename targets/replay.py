"""The PCAP target: one capture (plus GBCS messages) judged for every scenario.

GBCS messages come from ``--alerts`` (a file or a directory, read by
``hanota.targets.wan_input``): DUIS XML responses and alerts (time: the header's
ResponseDateTime), base64 or hex GBCS, or ``UNIX-time HEX`` lines (the time written with
a decimal point; ``#`` lines are comments). Without a time a message cannot be placed
against HAN frames, and the scenarios that need that are INCONCLUSIVE.

Which images the supplier delivered is given with ``--images`` or, by default, taken
from the trace itself (images of the DUT description it shows offered or reported).

A replay holds whatever the capture holds: a scenario whose situation (or stimulus) is
not in it finds no evidence and is INCONCLUSIVE, never passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hanota.dut.description import Dut, Image
from hanota.dut.situations import Situation
from hanota.layers.capture_unwrap import FCS_AUTO
from hanota.layers.model import DecodeError, FrameRecord
from hanota.layers.security import KeyRing
from hanota.targets.base import (
    SituationNotRecorded,
    TargetOptions,
    dut_keys,
    load_certificate,
    register_target,
)
from hanota.targets.capture_set import load_capture_set
from hanota.targets.pcap import DecodeTally, read_capture
from hanota.targets.wan_input import read_wan_inputs, wan_files
from hanota.verify.trace import EVIDENCED, Trace


def write_gbcs_hex(path: Path, messages: Iterable[tuple[float, bytes]]) -> None:
    """Write ``(time, data)`` messages as ``UNIX-time HEX`` lines (``--alerts`` reads them)."""
    lines = ["# UNIX-time GBCS-message-hex (one message per line)"]
    lines += [f"{when:.6f} {data.hex().upper()}" for when, data in messages]
    path.write_text("\n".join(lines) + "\n")


def frames_of_capture(
    capture: Path, keys: KeyRing, tally: DecodeTally | None = None, fcs_format: str = FCS_AUTO,
) -> Iterator[FrameRecord]:
    """The decoded frames of a capture file; one that ends inside a record (a sniffer
    stopped mid-write, a file cut short) keeps every whole record before the cut.

    Why not fail: what was captured stays evidence; the cut record becomes a frame with
    ``error`` set, so reports show it and scenarios needing what followed are INCONCLUSIVE.
    """
    last: FrameRecord | None = None
    try:
        for frame in read_capture(capture, keys, tally, fcs_format):
            last = frame
            yield frame
    except DecodeError as error:
        if not error.reason.startswith("truncated"):
            raise
        yield FrameRecord(last.number + 1 if last else 1, last.time if last else 0.0, b"",
                          error=f"capture cut short: {error}")


def load_trace(
    dut: Dut, capture: Path, alerts: Path | None = None, *, certificate: Any = None,
    held_images: Iterable[Image] | str | None = None, source: str | None = None,
    keys: Iterable[bytes] = (), fcs_format: str = FCS_AUTO, tally: DecodeTally | None = None,
) -> Trace:
    """Decode a capture (through ``hanota.targets.pcap``) and the WAN messages into a Trace;
    ``keys`` are tried after the DUT description's, ``tally`` gets the decode counts and
    the FCS convention found."""
    tally = tally if tally is not None else DecodeTally()
    frames = frames_of_capture(capture, dut_keys(dut, keys), tally, fcs_format)
    trace = Trace(dut, frames, source=source or str(capture), held_images=held_images)
    trace.span = tally.span
    if alerts is not None:
        for message in read_wan_inputs(alerts):
            trace.add_wan(message.data or b"", message.time, certificate, duis=message.duis)
    return trace


@register_target("pcap")
class ReplayTarget:
    """Every scenario judged on one capture (``--pcap``, with ``--alerts``), or on the
    capture of its own situation in a capture set (``--capture-set DIR``)."""

    name = "pcap"

    def __init__(self, options: TargetOptions) -> None:
        if options.capture is None and options.capture_set is None:
            raise ValueError("--target pcap needs --pcap FILE or --capture-set DIR")
        self.options = options
        self.capture_set = (load_capture_set(options.capture_set)
                            if options.capture_set is not None else None)
        self._traces: dict[str, Trace] = {}
        self.tally = DecodeTally()

    @property
    def description(self) -> str:
        """What is replayed and, once read, the FCS convention of its link-type-195
        frames (``--fcs-format``, default detected)."""
        if self.capture_set is not None:
            return f"capture set {self.capture_set.folder}"
        alerts = f" + GBCS {self.options.alerts}" if self.options.alerts else ""
        fcs = f" ({self.tally.fcs_note})" if self.tally.fcs_note else ""
        return f"replay of {self.options.capture}{alerts}{fcs}"

    def trace(self, situation: Situation) -> Trace:
        """The capture of ``situation`` in the capture set, or the one capture whatever
        the situation (it holds what it holds)."""
        if self.capture_set is None:
            return self._load("", self.options.capture, self.options.alerts,
                              self.options.extra.get("images"), None)
        recording = self.capture_set.recordings.get(situation.id)
        if recording is None:
            raise SituationNotRecorded(
                f"situation {situation.id} not recorded: the capture set "
                f"{self.capture_set.folder} holds no capture of {situation.phrase}")
        return self._load(situation.id, recording.capture, recording.alerts,
                          recording.images, f"{self.description}: {recording.capture}")

    def _load(self, key: str, capture: Path, alerts: Path | None,
              images: Iterable[str] | None, source: str | None) -> Trace:
        if key not in self._traces:
            options = self.options
            held = EVIDENCED if images is None else [options.dut.images[name]
                                                     for name in images]
            self._traces[key] = load_trace(
                options.dut, capture, alerts, certificate=load_certificate(options.certificate),
                held_images=held, source=source, keys=options.keys, tally=self.tally,
                fcs_format=options.extra.get("fcs_format", FCS_AUTO))
            if source is None:  # one capture: its description says the FCS found
                self._traces[key].source = self.description
        return self._traces[key]

    def evidence_files(self) -> list[Path]:
        """The captures and WAN files judged (for the conformance statement): the
        capture set's, or the capture and the WAN files ``--alerts`` names."""
        if self.capture_set is not None:
            return self.capture_set.files()
        alerts = self.options.alerts
        return [self.options.capture, *(wan_files(alerts) if alerts is not None else [])]
