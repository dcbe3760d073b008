"""Capture files and streams as decoded frames: the I/O around ``hanota.layers.capture``.

Why split in two steps: ``capture_records`` reads any byte stream (file, pipe from a
sniffer) in chunks through the incremental parser, and ``decode_records`` turns capture
records into ``FrameRecord``s; a live target reuses the second with its own source of
records (ZEP datagrams, a pcap pipe). A frame that does not decode becomes a
FrameRecord with ``error`` set and the run goes on: one bad frame must not hide the rest
of a trace.

The FCS is decided before the MAC decoder sees a frame (``hanota.layers.capture_unwrap``): the
decoder is given the frame without its FCS, so a bad FCS or a capture that cut the frame
is a flag on a frame whose headers are still decoded, never a frame lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from hanota.layers.capture import LINKTYPE_IEEE802_15_4_WITHFCS, CaptureParser, CaptureRecord
from hanota.layers.capture_unwrap import (
    FCS_AUTO,
    FCS_CRC16,
    FcsFormatDetector,
    HanPayload,
    han_payload,
)
from hanota.layers.codec import crc16_kermit, dissect_frame
from hanota.layers.dissector import Dissector
from hanota.layers.model import DecodeError, FrameRecord, HanFrame
from hanota.layers.security import KeyRing

CHUNK_SIZE = 64 * 1024
# MAC ACKs (5 bytes) are half of every transfer and decode the same for the same bytes,
# whatever the keys: their decoded frames are kept (immutable) and reused, by the frame
# without its FCS, and by the whole link-type-195 record once its FCS held (the hot path
# then skips unwrapping too).
_SHORT_FRAME = 3
_SHORT_RECORD = 5
_SHORT_FRAMES_KEPT = 4096
_short_frames: dict[bytes, HanFrame] = {}
_short_records: dict[bytes, HanFrame] = {}


@dataclass(slots=True)
class DecodeTally:
    """What a decode run saw, for the summary line: records that carried no 802.15.4
    frame are skipped quietly but counted, so a capture of the wrong traffic shows;
    ``fcs_format`` is the convention of the capture's link-type-195 records, ``fcs_note``
    says it and why (empty when the capture had none and none was given)."""

    frames: int = 0
    errors: int = 0
    skipped: int = 0
    fcs_format: str = ""
    fcs_note: str = ""
    span: tuple[float, float] | None = None  # when the capture says it listened


def capture_records(stream: BinaryIO, chunk_size: int = CHUNK_SIZE,
                    tally: DecodeTally | None = None) -> Iterator[CaptureRecord]:
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
    if tally is not None:
        tally.span = parser.span


def _flags(payload: HanPayload) -> list[str]:
    """What the capture says is wrong with the frame, in words, with layer and offset."""
    flags = []
    if payload.fcs_ok is False:
        psdu = payload.psdu
        if payload.fcs:
            flags.append(f"mac.fcs at offset {len(psdu) - 2}: bad FCS: "
                         f"FCS 0x{psdu[-2] | psdu[-1] << 8:04X}, "
                         f"computed 0x{crc16_kermit(psdu[:-2]):04X}")
        else:
            flags.append(f"mac.fcs at offset {len(psdu)}: sniffer reports a bad FCS")
    if payload.original_length is not None:
        flags.append(f"mac.length at offset {len(payload.psdu)}: truncated by the capture "
                     f"({len(payload.psdu)} of {payload.original_length} bytes)")
    return flags


def _radio(extra: dict, lqi: int | None, rssi: float | None, frequency: float | None) -> None:
    """What the sniffer measured (TAP, ZEP, CC24xx metadata), in ``FrameRecord.extra``."""
    if lqi is not None:
        extra["lqi"] = lqi
    if rssi is not None:
        extra["rssi"] = rssi
    if frequency is not None:
        extra["frequency_khz"] = frequency


def decode_record(
    record: CaptureRecord, keys: KeyRing | None = None, fcs_format: str = FCS_CRC16,
    dissector: Dissector | None = None,
) -> FrameRecord | None:
    """One capture record as a FrameRecord, or None when it carries no 802.15.4 frame.

    ``fcs_format`` is what ends a link-type-195 record (decided per capture, see
    ``decode_records``). With the capture's ``dissector`` the frame is decoded with
    what the earlier frames taught (keys, addresses, fragments, MAC retries); without,
    on its own with ``keys``. Either way layer by layer: a frame that fails keeps the
    layers below the failure in ``han``.
    """
    data = record.data
    short = len(data) <= _SHORT_RECORD and record.linktype == LINKTYPE_IEEE802_15_4_WITHFCS \
        and fcs_format == FCS_CRC16 and record.original_length in (None, len(data))
    if short:
        known = _short_records.get(data)
        if known is not None:
            return FrameRecord(record.number, record.time, data, known, fcs_ok=True)
    try:
        payload = han_payload(record, fcs_format)
    except DecodeError as error:  # the carrier (ZEP, TAP) is malformed: no frame in it
        number = record.number
        frame = FrameRecord(number, record.time, data, error=f"frame {number}: {error}")
        frame.extra["malformed"] = True
        return frame
    if payload is None:
        return None
    frame = decode_payload(record.number, record.time, payload, keys, dissector)
    if short and frame.fcs_ok and frame.error is None and len(_short_records) < \
            _SHORT_FRAMES_KEPT:
        _short_records[data] = frame.han
    return frame


def decode_payload(
    number: int, time: float, payload: HanPayload, keys: KeyRing | None = None,
    dissector: Dissector | None = None,
) -> FrameRecord:
    """The frame a record carried, decoded without its FCS, flagged as the capture says
    (bad FCS, cut short): shared by capture records and live ZEP datagrams. A frame
    with a bad FCS is decoded on its own: the capture's decoder learns nothing from
    bytes it cannot trust."""
    psdu, fcs, channel, lqi, rssi, fcs_ok, original_length, frequency = payload
    frame = FrameRecord(number, time, psdu, channel=channel, fcs=fcs, fcs_ok=fcs_ok)
    if lqi is not None or rssi is not None or frequency is not None:  # radio metadata
        _radio(frame.extra, lqi, rssi, frequency)
    flags = None
    if fcs_ok is False or original_length is not None:
        frame.original_length = original_length
        flags = _flags(payload)
    body = psdu[:-2] if fcs else psdu
    if len(body) <= _SHORT_FRAME:
        known = _short_frames.get(body)
        if known is not None:
            frame.han = known
            if flags:
                frame.error = f"frame {number}: " + "; ".join(flags)
            return frame
    try:
        if dissector is not None and fcs_ok is not False:
            frame.han, frame.retransmission_of, frame.fragments = dissector.dissect(
                body, fcs=False, time=time, number=number)
        else:
            frame.han = dissect_frame(body, keys, fcs=False)
    except DecodeError as error:  # too short for a MAC header: nothing to keep
        flags = [*(flags or ()), str(error)]
    else:
        if frame.han.error is not None:  # kept below the failure; "MIC failure" says so
            flags = [*(flags or ()), str(frame.han.error)]
        elif len(body) <= _SHORT_FRAME and len(_short_frames) < _SHORT_FRAMES_KEPT:
            _short_frames[body] = frame.han
    if flags:
        frame.error = f"frame {number}: " + "; ".join(flags)
    return frame


def decode_records(
    records: Iterable[CaptureRecord], keys: KeyRing | None = None,
    tally: DecodeTally | None = None, fcs_format: str = FCS_AUTO,
) -> Iterator[FrameRecord]:
    """FrameRecords of the records that carry an 802.15.4 frame, in capture order.

    With ``fcs_format`` ``auto`` the first records are held until their FCS convention is
    decided (the first frame for a CRC-16 capture, at most ``FcsFormatDetector.HELD_MAX``
    records); the decision is written to ``tally``.
    """
    tally = tally if tally is not None else DecodeTally()
    detector = FcsFormatDetector(fcs_format)
    iterator = iter(records)
    held: list[CaptureRecord] = []
    broken: DecodeError | None = None
    try:
        for record in iterator:
            held.append(record)
            if detector.observe(record):
                break
    except DecodeError as error:  # the records before the break are still frames
        broken = error
    decided = detector.finish()
    tally.fcs_format, tally.fcs_note = decided, detector.description
    frames = errors = skipped = 0  # counted here, added to the tally at the end (hot loop)
    dissector = Dissector(keys)
    try:
        for record in held if broken else chain(held, iterator):
            frame = decode_record(record, keys, decided, dissector)
            if frame is None:
                skipped += 1
                continue
            frames += 1
            if frame.error is not None:
                errors += 1
            yield frame
    finally:
        tally.frames += frames
        tally.errors += errors
        tally.skipped += skipped
    if broken is not None:
        raise broken


def observe_record(record: CaptureRecord, dissector: Dissector, fcs_format: str) -> None:
    """Let ``dissector`` learn from a record whose frame another process decodes (see
    ``Dissector.observe``), unwrapped under the capture's FCS convention as
    ``decode_payload`` unwraps it; records without an 802.15.4 frame teach nothing, nor
    do frames of 5 bytes or fewer (acks: no source address, no NWK header), nor frames
    with a bad FCS."""
    if len(record.data) <= _SHORT_FRAME:
        return
    try:
        payload = han_payload(record, fcs_format)
    except DecodeError:
        return
    if payload is None or payload.fcs_ok is False:
        return
    body = payload.psdu[:-2] if payload.fcs else payload.psdu
    if len(body) > _SHORT_FRAME:
        dissector.observe(body, False, record.time, record.number)


def detect_fcs_format(path: Path | str, fcs_format: str = FCS_AUTO) -> FcsFormatDetector:
    """The FCS convention of a capture file, from its first records (for decoders that
    split the file, which must all use the one convention ``decode_records`` would)."""
    detector = FcsFormatDetector(fcs_format)
    with open(path, "rb") as stream:
        try:
            for record in capture_records(stream):
                if detector.observe(record):
                    break
        except DecodeError:
            pass  # the decoders meet the break themselves and report it
    detector.finish()
    return detector


class RecordDecoder:
    """``decode_records`` for records pushed one chunk at a time (a live pipe).

    Records wait in ``push`` until the FCS convention is decided, as they do in
    ``decode_records``; ``flush`` decides with what came when the stream ends.
    """

    def __init__(self, keys: KeyRing | None = None, fcs_format: str = FCS_AUTO) -> None:
        self.keys = keys
        self.detector = FcsFormatDetector(fcs_format)
        self.dissector = Dissector(keys)
        self._held: list[CaptureRecord] = []

    def push(self, record: CaptureRecord) -> list[CaptureRecord]:
        """The records ready to decode (in order) once ``record`` is added."""
        if self.detector.decided:
            return [record]
        self._held.append(record)
        if not self.detector.observe(record):
            return []
        return self.flush()

    def flush(self) -> list[CaptureRecord]:
        """Decide now and hand over every held record."""
        self.detector.finish()
        held, self._held = self._held, []
        return held

    def decode(self, record: CaptureRecord) -> FrameRecord | None:
        """One ready record decoded under the capture's convention."""
        return decode_record(record, self.keys, self.detector.finish(), self.dissector)


def read_capture(
    path: Path | str, keys: KeyRing | None = None, tally: DecodeTally | None = None,
    fcs_format: str = FCS_AUTO,
) -> Iterator[FrameRecord]:
    """Decoded frames of a capture file, streamed (the file is never loaded whole)."""
    with open(path, "rb") as stream:
        yield from decode_records(capture_records(stream, tally=tally), keys, tally,
                                  fcs_format)
