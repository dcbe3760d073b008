"""``hanota capture --source SRC --out FILE``: record a live sniffer source to pcapng.

Why: a live run judges traffic as it happens, but a test house also needs the evidence
kept, and a recording replays through the capture target to the same frames. ZEP frames
are stored as 802.15.4 with FCS (link type 195) when the sniffer sent its FCS (ZEP CRC
mode) and without (230) when it sent RSSI/LQI instead, unless its CRC-OK bit says the
frame was bad: that one is stored with a wrong FCS (195), so the flag is kept for every
reader; the ZEP timestamp is kept when there is one. A pcap/pcapng stream is copied
record by record with its own link type. Stops after ``--count`` frames, ``--duration``
seconds, the end of a stream, or SIGINT / SIGTERM, always leaving a complete file.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from typing import BinaryIO

from hanota.layers.capture import (
    LINKTYPE_IEEE802_15_4_NOFCS,
    LINKTYPE_IEEE802_15_4_WITHFCS,
    CaptureRecord,
    pcapng_interface,
    pcapng_packet,
    pcapng_section,
)
from hanota.layers.capture_zep import zep_decode
from hanota.layers.codec import crc16_kermit
from hanota.layers.model import DecodeError
from hanota.targets.live import open_source, parse_source
from hanota.targets.live_sources import LiveStats, SequenceGaps

_CC24XX_CRC_OK = 0x80  # in the last byte of a ZEP LQI-mode frame (packet-zep.c, CC24xx)

WAIT_STEP = 0.2  # seconds between looks at the stop conditions (keeps signals prompt)


class PcapngRecorder:
    """``LiveHandler`` writing what a source delivers to one pcapng section.

    One interface per link type met, described when first needed, so a ZEP source that
    mixes CRC and LQI mode still gives one valid file.
    """

    def __init__(
        self, out: BinaryIO, stats: LiveStats, *, count: int | None, done: threading.Event,
    ) -> None:
        self.out = out
        self.stats = stats
        self.count = count
        self.done = done
        self.written = 0
        self._interfaces: dict[int, int] = {}
        self._gaps = SequenceGaps()
        out.write(pcapng_section())
        out.flush()

    def datagram(self, number: int, arrival: float, datagram: bytes) -> None:
        try:
            zep = zep_decode(datagram)
        except DecodeError as error:
            self.stats.malformed += 1
            self.stats.note(f"datagram {number}: {error}")
            return
        if zep.kind != "data":
            self.stats.skipped += 1
            return
        self._gaps.see(zep.seq, zep.device_id)
        self.stats.dropped = self._gaps.missing
        if zep.crc_mode:
            linktype, psdu = LINKTYPE_IEEE802_15_4_WITHFCS, zep.psdu
        elif len(zep.psdu) < 2 or zep.psdu[-1] & _CC24XX_CRC_OK:
            # LQI mode: the last two bytes are RSSI and CRC-OK/LQI, not an FCS
            linktype, psdu = LINKTYPE_IEEE802_15_4_NOFCS, zep.psdu[:-2]
        else:  # the sniffer's CRC-OK bit is clear: a wrong FCS keeps the frame flagged
            body = zep.psdu[:-2]
            fcs = crc16_kermit(body) ^ 0xFFFF
            linktype, psdu = LINKTYPE_IEEE802_15_4_WITHFCS, body + fcs.to_bytes(2, "little")
        self._write(linktype, zep.time if zep.time is not None else arrival, psdu)
        self.out.flush()

    def records(self, records: list[CaptureRecord]) -> None:
        for record in records:
            self._write(record.linktype, record.time, record.data)
        self.out.flush()

    def stream_error(self, number: int, message: str) -> None:
        self.stats.malformed += 1
        self.stats.note(message)

    def end(self, reason: str) -> None:
        self.stats.end_reason = reason
        self.done.set()

    def _write(self, linktype: int, time: float, data: bytes) -> None:
        if self.count is not None and self.written >= self.count:
            return
        interface = self._interfaces.get(linktype)
        if interface is None:
            interface = self._interfaces[linktype] = len(self._interfaces)
            self.out.write(pcapng_interface(linktype))
        self.out.write(pcapng_packet(time, data, interface))
        self.written += 1
        self.stats.frames += 1
        if self.count is not None and self.written >= self.count:
            self.done.set()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source", required=True,
        help="zep://HOST:PORT (bind there, receive ZEP), pipe:PATH or - (pcap/pcapng stream)",
    )
    parser.add_argument("--out", required=True, help="pcapng file to write")
    parser.add_argument("--count", type=int, help="stop after this many frames")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")


def run(args: argparse.Namespace) -> int:
    stats = LiveStats()
    try:
        source = open_source(parse_source(args.source), stats)
    except (ValueError, OSError) as error:
        print(f"hanota capture: {error}", file=sys.stderr)
        return 1
    try:
        out = open(args.out, "wb")  # noqa: SIM115 (closed after the source stops)
    except OSError as error:
        source.stop()
        print(f"hanota capture: {error}", file=sys.stderr)
        return 1
    done = threading.Event()
    previous = {
        number: signal.signal(number, lambda *_: done.set())
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    started = time.monotonic()
    deadline = None if args.duration is None else started + args.duration
    try:
        recorder = PcapngRecorder(out, stats, count=args.count, done=done)
        print(f"hanota capture: recording {source.description} to {args.out}",
              file=sys.stderr, flush=True)
        source.start(recorder)
        while not done.is_set() and (deadline is None or time.monotonic() < deadline):
            done.wait(WAIT_STEP)
    except OSError as error:
        stats.failure = f"{args.out}: {error}"
    finally:
        source.stop()
        with contextlib.suppress(OSError):  # already reported: the file could not be written
            out.close()
        for number, handler in previous.items():
            signal.signal(number, handler)
    if stats.failure is not None:
        print(f"hanota capture: {stats.failure}", file=sys.stderr)
        return 1
    print(
        f"hanota capture: {stats.frames} frames in {time.monotonic() - started:.1f} s, "
        f"{stats.malformed} malformed, {stats.dropped} dropped, {stats.skipped} skipped"
        + (f"; {stats.end_reason}" if stats.end_reason else ""),
        file=sys.stderr,
    )
    return 0
