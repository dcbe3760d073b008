"""The PCAP target: one capture (plus GBCS messages) judged for every scenario.

GBCS messages come from ``--alerts`` (a file or a directory, read by
``targets.wan_input``): DUIS XML responses and alerts (time: the header's
ResponseDateTime), base64 or hex GBCS, or ``UNIX-time HEX`` lines (the time written with
a decimal point; ``#`` lines are comments). Without a time a message cannot be placed
against HAN frames, and the scenarios that need that are INCONCLUSIVE.

Which images the supplier delivered is given with ``--images`` or, by default, taken
from the trace itself (images of the DUT description it shows offered or reported).

A replay holds whatever the capture holds: a scenario whose exchange (or stimulus) is
not in it finds no evidence and is INCONCLUSIVE, never passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hanota.dut import Dut, Image
from layers.model import DecodeError, FrameRecord
from layers.security import KeyRing
from targets.base import TargetOptions, dut_keys, load_certificate, register_target
from targets.pcap import read_capture
from targets.wan_input import read_wan_inputs, wan_files
from verify.trace import EVIDENCED, Trace


def write_gbcs_hex(path: Path, messages: Iterable[tuple[float, bytes]]) -> None:
    """Write ``(time, data)`` messages as ``UNIX-time HEX`` lines (``--alerts`` reads them)."""
    lines = ["# UNIX-time GBCS-message-hex (one message per line)"]
    lines += [f"{when:.6f} {data.hex().upper()}" for when, data in messages]
    path.write_text("\n".join(lines) + "\n")


def frames_of_capture(capture: Path, keys: KeyRing) -> Iterator[FrameRecord]:
    """The decoded frames of a capture file; one that ends inside a record (a sniffer
    stopped mid-write, a file cut short) keeps every whole record before the cut.

    Why not fail: what was captured stays evidence; the cut record becomes a frame with
    ``error`` set, so reports show it and scenarios needing what followed are INCONCLUSIVE.
    """
    last: FrameRecord | None = None
    try:
        for frame in read_capture(capture, keys):
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
) -> Trace:
    """Decode a capture (through ``targets.pcap``) and the WAN messages into a Trace."""
    trace = Trace(dut, frames_of_capture(capture, dut_keys(dut)), source=source or str(capture),
                  held_images=held_images)
    if alerts is not None:
        for message in read_wan_inputs(alerts):
            trace.add_wan(message.data or b"", message.time, certificate, duis=message.duis)
    return trace


@register_target("pcap")
class ReplayTarget:
    """Every scenario judged on the same capture (``--pcap``) and GBCS file(s)."""

    name = "pcap"

    def __init__(self, options: TargetOptions) -> None:
        if options.capture is None:
            raise ValueError("--target pcap needs --pcap FILE")
        self.options = options
        self._trace: Trace | None = None

    @property
    def description(self) -> str:
        alerts = f" + GBCS {self.options.alerts}" if self.options.alerts else ""
        return f"replay of {self.options.capture}{alerts}"

    def evidence_files(self) -> list[Path]:
        """The capture and the WAN files ``--alerts`` names (a directory's, by name)."""
        alerts = self.options.alerts
        return [self.options.capture, *(wan_files(alerts) if alerts is not None else [])]

    def trace(self, exchange: str) -> Trace:
        """The one capture, whatever the exchange: it holds what it holds."""
        if self._trace is None:
            options = self.options
            names = options.extra.get("images")
            held = EVIDENCED if names is None else [options.dut.images[name] for name in names]
            self._trace = load_trace(options.dut, options.capture, options.alerts,
                                     certificate=load_certificate(options.certificate),
                                     held_images=held, source=self.description)
        return self._trace
