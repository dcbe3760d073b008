"""Capture files and streams as decoded frames: the I/O around ``layers.capture``.

Why split in two steps: ``capture_records`` reads any byte stream (file, pipe from a
sniffer) in chunks through the incremental parser, and ``decode_records`` turns capture
records into ``FrameRecord``s; a live target reuses the second with its own source of
records (ZEP datagrams, a pcap pipe). A frame that does not decode becomes a
FrameRecord with ``error`` set and the run goes on: one bad frame must not hide the rest
of a trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from layers.capture import CaptureParser, CaptureRecord
from layers.capture_unwrap import han_payload
from layers.codec import dissect_frame
from layers.dissector import Dissector
from layers.model import DecodeError, FrameRecord, HanFrame
from layers.security import KeyRing

CHUNK_SIZE = 64 * 1024
# MAC ACKs (5 bytes) are half of every transfer and decode the same for the same bytes,
# whatever the keys: their decoded frames are kept (immutable) and reused.
_SHORT_FRAME = 5
_SHORT_FRAMES_KEPT = 4096
_short_frames: dict[tuple[bytes, bool], HanFrame] = {}


@dataclass(slots=True)
class DecodeTally:
    """What a decode run saw, for the summary line: records that carried no 802.15.4
    frame are skipped quietly but counted, so a capture of the wrong traffic shows."""

    frames: int = 0
    errors: int = 0
    skipped: int = 0


def capture_records(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[CaptureRecord]:
    """Records of a pcap/pcapng byte stream, read ``chunk_size`` bytes at a time.

    Memory stays constant whatever the stream length. Raises ``DecodeError`` when the
    bytes are not a capture, or at the record where the stream is malformed or ends
    mid-record (records before it are yielded first). ``read1`` where the stream has it,
    so a pipe's records come out as they arrive rather than once a chunk is full.
    """
    parser = CaptureParser()
    read = getattr(stream, "read1", stream.read)
    while chunk := read(chunk_size):
        yield from parser.feed(chunk)
    parser.close()


def decode_record(
    record: CaptureRecord, keys: KeyRing | None = None, dissector: Dissector | None = None,
) -> FrameRecord | None:
    """One capture record as a FrameRecord, or None when it carries no 802.15.4 frame.

    With the capture's ``dissector`` (``decode_records`` makes one) the frame is decoded
    with what the earlier frames taught (keys, addresses, fragments, MAC retries);
    without, on its own with ``keys``. Either way layer by layer: a frame that fails
    keeps the layers below the failure in ``han``.
    """
    number = record.number
    try:
        payload = han_payload(record)
    except DecodeError as error:
        return FrameRecord(number, record.time, record.data, error=f"frame {number}: {error}")
    if payload is None:
        return None
    frame = FrameRecord(number, record.time, payload.psdu, channel=payload.channel,
                        fcs=payload.fcs)
    if payload.lqi is not None:
        frame.extra["lqi"] = payload.lqi
    if payload.rssi is not None:
        frame.extra["rssi"] = payload.rssi
    if payload.fcs_ok is False:
        frame.error = (
            f"frame {number}: mac.fcs at offset {len(payload.psdu)}: sniffer reports a bad FCS"
        )
        return frame
    psdu, fcs = payload.psdu, payload.fcs
    if len(psdu) <= _SHORT_FRAME:
        known = _short_frames.get((psdu, fcs))
        if known is not None:
            frame.han = known
            return frame
    if dissector is not None:
        dissector.feed(frame)
    else:
        try:
            frame.han = dissect_frame(psdu, keys, fcs=fcs)
        except DecodeError as error:  # too short for a MAC header: nothing to keep
            frame.error = f"frame {number}: {error}"
            return frame
        if frame.han.error is not None:  # MicFailure's text says "MIC failure"
            frame.error = f"frame {number}: {frame.han.error}"
    if frame.error is None and len(psdu) <= _SHORT_FRAME \
            and len(_short_frames) < _SHORT_FRAMES_KEPT:
        _short_frames[psdu, fcs] = frame.han  # type: ignore[assignment]
    return frame


def observe_record(record: CaptureRecord, dissector: Dissector) -> None:
    """Let ``dissector`` learn from a record whose frame another process decodes (see
    ``Dissector.observe``); records without an 802.15.4 frame teach nothing, nor do
    frames of 5 bytes or fewer (acks: no source address, no NWK header)."""
    if len(record.data) <= _SHORT_FRAME:
        return
    try:
        payload = han_payload(record)
    except DecodeError:
        return
    if payload is not None and len(payload.psdu) > _SHORT_FRAME:
        dissector.observe(payload.psdu, payload.fcs, record.time, record.number)


def decode_records(
    records: Iterable[CaptureRecord], keys: KeyRing | None = None,
    tally: DecodeTally | None = None,
) -> Iterator[FrameRecord]:
    """FrameRecords of the records that carry an 802.15.4 frame, in capture order,
    decoded by one ``Dissector`` for the whole capture (keys learnt on the way)."""
    tally = tally if tally is not None else DecodeTally()
    dissector = Dissector(keys)
    for record in records:
        frame = decode_record(record, keys, dissector)
        if frame is None:
            tally.skipped += 1
            continue
        tally.frames += 1
        if frame.error is not None:
            tally.errors += 1
        yield frame


def read_capture(
    path: Path | str, keys: KeyRing | None = None, tally: DecodeTally | None = None,
) -> Iterator[FrameRecord]:
    """Decoded frames of a capture file, streamed (the file is never loaded whole)."""
    with open(path, "rb") as stream:
        yield from decode_records(capture_records(stream), keys, tally)
