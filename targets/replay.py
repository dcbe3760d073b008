"""The PCAP target: one capture (plus GBCS messages) judged for every scenario.

GBCS messages come as hex text (``--alerts`` file or directory of ``*.hex`` files): one
message per line, optionally preceded by its UNIX time written with a decimal point,
``[TIME ]HEX`` (spaces inside the hex are allowed); lines starting with ``#`` are
comments. Without a time a message cannot be placed against HAN frames, and the
scenarios that need that are INCONCLUSIVE.

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
from layers.capture_unwrap import FCS_AUTO
from layers.model import DecodeError, FrameRecord
from layers.security import KeyRing
from targets.base import TargetOptions, dut_keys, load_certificate, register_target
from targets.pcap import DecodeTally, read_capture
from verify.trace import EVIDENCED, Trace


def read_gbcs_hex(path: Path) -> list[tuple[float | None, bytes]]:
    """GBCS messages of a hex file, or of every ``*.hex`` file of a directory (by name)."""
    files = sorted(path.glob("*.hex")) if path.is_dir() else [path]
    messages: list[tuple[float | None, bytes]] = []
    for file in files:
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.split()
            timed = len(parts) > 1 and "." in parts[0]
            try:
                when = float(parts[0]) if timed else None
                messages.append((when, bytes.fromhex("".join(parts[1:] if timed else parts))))
            except ValueError as error:
                raise ValueError(f"{file}:{number}: not hex ({error})") from error
    return messages


def write_gbcs_hex(path: Path, messages: Iterable[tuple[float, bytes]]) -> None:
    """Write ``(time, data)`` messages in the format ``read_gbcs_hex`` reads."""
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
    """Decode a capture (through ``targets.pcap``) and GBCS hex into a Trace; ``keys``
    are tried after the DUT description's, ``tally`` gets the decode counts and the FCS
    convention found."""
    frames = frames_of_capture(capture, dut_keys(dut, keys), tally, fcs_format)
    trace = Trace(dut, frames, source=source or str(capture), held_images=held_images)
    if alerts is not None:
        for when, data in read_gbcs_hex(alerts):
            trace.add_wan(data, when, certificate)
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
        self.tally = DecodeTally()

    @property
    def description(self) -> str:
        """What is replayed and, once read, the FCS convention of its link-type-195
        frames (``--fcs-format``, default detected)."""
        alerts = f" + GBCS {self.options.alerts}" if self.options.alerts else ""
        fcs = f" ({self.tally.fcs_note})" if self.tally.fcs_note else ""
        return f"replay of {self.options.capture}{alerts}{fcs}"

    def trace(self, exchange: str) -> Trace:
        """The one capture, whatever the exchange: it holds what it holds."""
        if self._trace is None:
            options = self.options
            names = options.extra.get("images")
            held = EVIDENCED if names is None else [options.dut.images[name] for name in names]
            self._trace = load_trace(options.dut, options.capture, options.alerts,
                                     certificate=load_certificate(options.certificate),
                                     held_images=held, source=self.description,
                                     keys=options.keys, tally=self.tally,
                                     fcs_format=options.extra.get("fcs_format", FCS_AUTO))
        return self._trace
