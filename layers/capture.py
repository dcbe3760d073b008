"""Capture files (pcap, pcapng): an incremental reader and the writers, bytes in and out.

Why incremental: captures come from files of any size and from live pipes that deliver
arbitrary chunks and can stop mid-record. ``CaptureParser`` keeps only the unfinished
record in memory, so memory stays constant whatever the capture size, and the same code
serves a file read in 64 KiB chunks and a sniffer's pipe read as bytes arrive.
This module does no I/O; ``hanota.targets.pcap`` reads the bytes.
"""

from __future__ import annotations

import math
import struct
from typing import NamedTuple

from hanota.layers.model import DecodeError

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IEEE802_15_4_WITHFCS = 195
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_IEEE802_15_4_NOFCS = 230
LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_IEEE802_15_4_TAP = 283

PCAP_MAGIC_MICROSECONDS = 0xA1B2C3D4
PCAP_MAGIC_NANOSECONDS = 0xA1B23C4D
PCAPNG_SECTION_HEADER = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D

# Larger records than these are corruption, not packets: refusing them keeps memory bounded.
MAX_PCAP_RECORD = 262_144
MAX_PCAPNG_BLOCK = 16 * 1024 * 1024

_BLOCK_INTERFACE = 0x00000001
_BLOCK_OBSOLETE_PACKET = 0x00000002
_BLOCK_SIMPLE_PACKET = 0x00000003
_BLOCK_STATISTICS = 0x00000005
_BLOCK_ENHANCED_PACKET = 0x00000006
_OPTION_ISB_STARTTIME = 2
_OPTION_ISB_ENDTIME = 3
_OPTION_END = 0
_OPTION_IF_TSRESOL = 9
_OPTION_IF_TSOFFSET = 14


class CaptureRecord(NamedTuple):
    """One packet of a capture: ``number`` counts packets from 1, as Wireshark does.

    ``original_length`` is the packet's length on the wire as the record states it (pcap
    orig_len, pcapng original length); ``data`` may be shorter: a snapshot length cut
    it, or a sniffer left the FCS out while writing the length with it. None when the
    record does not say.
    """

    number: int
    time: float
    linktype: int
    data: bytes
    interface: int = 0
    original_length: int | None = None


class _Interface(NamedTuple):
    """What an IDB says about the packets that refer to it."""

    linktype: int
    ticks_per_second: int
    time_offset: int
    snaplen: int


def _ticks_per_second(tsresol: int) -> int:
    """if_tsresol: high bit clear is a negative power of ten, set a negative power of two."""
    return 1 << (tsresol & 0x7F) if tsresol & 0x80 else 10**tsresol


class CaptureParser:
    """Incremental pcap/pcapng reader: ``feed`` chunks, then ``close`` at the end of input.

    The format is detected from the first four bytes. Records completed by a chunk are
    returned by that ``feed``; a malformed record raises ``DecodeError`` (pcap or pcapng
    layer, record number, file offset) after the records before it were returned.
    ``close`` raises if the input stopped inside a record.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._base = 0  # file offset of self._buffer[0]
        self._count = 0
        self._format: str | None = None
        self._failure: DecodeError | None = None
        # pcap
        self._record_header = struct.Struct("<IIII")
        self._pcap_header_pending = True
        self._pcap_linktype = 0
        self._pcap_fraction = 1_000_000
        # pcapng
        self._order = "<"
        self._interfaces: list[_Interface] = []
        self.span: tuple[float, float] | None = None
        """When the capture says it listened (pcapng statistics), None when it does not."""

    @property
    def count(self) -> int:
        """Packets returned so far."""
        return self._count

    def feed(self, chunk: bytes) -> list[CaptureRecord]:
        """Add bytes; return the records they complete, in capture order."""
        if self._failure is not None:
            raise self._failure
        self._buffer += chunk
        records: list[CaptureRecord] = []
        try:
            consumed = self._parse(records)
        except _Stop as stop:
            self._failure = stop.error
            consumed = stop.consumed
            if not records:
                raise stop.error from None
        del self._buffer[:consumed]
        self._base += consumed
        return records

    def close(self) -> None:
        """End of input: raise ``DecodeError`` if it stopped inside a header or record."""
        if self._failure is not None:
            raise self._failure
        if self._format is None:
            raise DecodeError(
                "capture", "magic", 0,
                f"not a pcap or pcapng capture: only {len(self._buffer)} bytes",
            )
        if self._buffer:
            raise self._truncation()

    def _truncation(self) -> DecodeError:
        """Name what the input stopped inside of, with how much of it arrived."""
        have = len(self._buffer)
        if self._format == "pcap" and self._pcap_header_pending:
            return DecodeError("pcap", "header", 0, f"truncated: {have} of 24 bytes present")
        if self._format == "pcap":
            need = 16
            if have >= 16:
                need += self._record_header.unpack_from(self._buffer, 0)[2]
            return DecodeError(
                "pcap", f"record {self._count + 1}", self._base,
                f"truncated: {have} of {need} bytes present",
            )
        block_type, need = (None, 12)
        if have >= 12:
            order = self._order
            if self._buffer[:4] == PCAPNG_SECTION_HEADER.to_bytes(4, "little"):
                big = self._buffer[8:12] == PCAPNG_BYTE_ORDER_MAGIC.to_bytes(4, "big")
                order = ">" if big else "<"
            block_type, need = struct.unpack_from(order + "II", self._buffer, 0)
        what = (
            f"record {self._count + 1}"
            if block_type in (_BLOCK_ENHANCED_PACKET, _BLOCK_SIMPLE_PACKET, _BLOCK_OBSOLETE_PACKET)
            else "block"
        )
        return DecodeError(
            "pcapng", what, self._base, f"truncated: {have} of {need} bytes present"
        )

    def _parse(self, records: list[CaptureRecord]) -> int:
        """Parse what the buffer holds; return how many bytes were consumed."""
        if self._format is None:
            if len(self._buffer) < 4:
                return 0
            self._detect()
        if self._format == "pcap":
            return self._parse_pcap(records)
        return self._parse_pcapng(records)

    def _detect(self) -> None:
        magic = bytes(self._buffer[:4])
        little = int.from_bytes(magic, "little")
        big = int.from_bytes(magic, "big")
        if little == PCAPNG_SECTION_HEADER:
            self._format = "pcapng"
            return
        for value, order in ((little, "<"), (big, ">")):
            if value in (PCAP_MAGIC_MICROSECONDS, PCAP_MAGIC_NANOSECONDS):
                self._format = "pcap"
                self._order = order
                self._record_header = struct.Struct(order + "IIII")
                self._pcap_fraction = (
                    1_000_000 if value == PCAP_MAGIC_MICROSECONDS else 1_000_000_000
                )
                return
        raise _Stop(0, DecodeError(
            "capture", "magic", 0, f"not a pcap or pcapng capture: starts with {magic.hex()}"
        ))

    def _parse_pcap(self, records: list[CaptureRecord]) -> int:
        buffer = self._buffer
        size = len(buffer)
        position = 0
        if self._pcap_header_pending:
            if size < 24:
                return 0
            major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack_from(
                self._order + "HHiIII", buffer, 4
            )
            if major != 2:
                raise _Stop(0, DecodeError(
                    "pcap", "version_major", self._base + 4, f"{major}, expected 2"
                ))
            self._pcap_linktype = network & 0xFFFF
            self._pcap_header_pending = False
            position = 24
        unpack = self._record_header.unpack_from
        fraction = self._pcap_fraction
        linktype = self._pcap_linktype
        count = self._count
        append = records.append
        try:
            while size - position >= 16:
                seconds, subseconds, captured, original = unpack(buffer, position)
                if captured > MAX_PCAP_RECORD:
                    raise _Stop(position, DecodeError(
                        "pcap", f"record {count + 1}.incl_len", self._base + position + 8,
                        f"{captured} bytes exceeds {MAX_PCAP_RECORD}",
                    ))
                end = position + 16 + captured
                if end > size:
                    break
                count += 1
                append(CaptureRecord(
                    count, seconds + subseconds / fraction, linktype,
                    bytes(buffer[position + 16:end]), 0, original,
                ))
                position = end
        finally:
            self._count = count
        return position

    def _parse_pcapng(self, records: list[CaptureRecord]) -> int:
        buffer = self._buffer
        size = len(buffer)
        position = 0
        count = self._count
        append = records.append
        order = self._order
        header = struct.Struct(order + "II")
        trailer = struct.Struct(order + "I")
        enhanced = struct.Struct(order + "IIIII")
        try:
            while size - position >= 12:
                block_type, length = header.unpack_from(buffer, position)
                if block_type == PCAPNG_SECTION_HEADER:
                    order = self._section_order(position)
                    header = struct.Struct(order + "II")
                    trailer = struct.Struct(order + "I")
                    enhanced = struct.Struct(order + "IIIII")
                    length = header.unpack_from(buffer, position)[1]
                self._check_block_length(block_type, length, position, count)
                end = position + length
                if end > size:
                    break
                if trailer.unpack_from(buffer, end - 4)[0] != length:
                    raise _Stop(position, DecodeError(
                        "pcapng", "block_total_length", self._base + end - 4,
                        f"trailer {trailer.unpack_from(buffer, end - 4)[0]} differs from "
                        f"header {length}",
                    ))
                if block_type == _BLOCK_ENHANCED_PACKET:
                    interface, high, low, captured, original = enhanced.unpack_from(
                        buffer, position + 8
                    )
                    described = self._interface(interface, position, count + 1)
                    if captured > length - 32:
                        raise _Stop(position, DecodeError(
                            "pcapng", f"record {count + 1}.captured_length",
                            self._base + position + 20,
                            f"{captured} bytes does not fit a {length}-byte block",
                        ))
                    count += 1
                    append(CaptureRecord(
                        count,
                        ((high << 32) | low) / described.ticks_per_second
                        + described.time_offset,
                        described.linktype,
                        bytes(buffer[position + 28:position + 28 + captured]),
                        interface, original,
                    ))
                elif block_type == PCAPNG_SECTION_HEADER:
                    self._order = order
                    self._interfaces = []
                elif block_type == _BLOCK_INTERFACE:
                    self._interfaces.append(self._read_interface(position, length))
                elif block_type == _BLOCK_STATISTICS:
                    self._read_statistics(position, length, order)
                elif block_type == _BLOCK_SIMPLE_PACKET:
                    append(self._simple_packet(position, length, count + 1))
                    count += 1
                elif block_type == _BLOCK_OBSOLETE_PACKET:
                    append(self._obsolete_packet(position, length, count + 1))
                    count += 1
                position = end
        finally:
            self._count = count
        return position

    def _read_statistics(self, position: int, length: int, order: str) -> None:
        """Interface Statistics Block: the capture's own start and end (isb_starttime,
        isb_endtime), which dumpcap writes when it stops. Why kept: silence on the air
        between them was listened to, which the frames alone cannot show."""
        interface, = struct.unpack_from(order + "I", self._buffer, position + 8)
        if interface >= len(self._interfaces):
            return  # statistics of an interface never described: nothing to place them by
        described = self._interfaces[interface]
        option, end = position + 20, position + length - 4
        while option + 4 <= end:
            code, size = struct.unpack_from(order + "HH", self._buffer, option)
            if code == _OPTION_END:
                break
            if code in (_OPTION_ISB_STARTTIME, _OPTION_ISB_ENDTIME) and size == 8:
                high, low = struct.unpack_from(order + "II", self._buffer, option + 4)
                when = ((high << 32) | low) / described.ticks_per_second + described.time_offset
                start, stop = self.span or (when, when)
                self.span = ((min(start, when), stop) if code == _OPTION_ISB_STARTTIME
                             else (start, max(stop, when)))
            option += 4 + size + (-size % 4)

    def _section_order(self, position: int) -> str:
        """The byte-order magic of a section header decides how the section is read."""
        magic = bytes(self._buffer[position + 8:position + 12])
        if magic == PCAPNG_BYTE_ORDER_MAGIC.to_bytes(4, "little"):
            return "<"
        if magic == PCAPNG_BYTE_ORDER_MAGIC.to_bytes(4, "big"):
            return ">"
        raise _Stop(position, DecodeError(
            "pcapng", "byte_order_magic", self._base + position + 8,
            f"{magic.hex()} is neither order of 1a2b3c4d",
        ))

    def _check_block_length(self, block_type: int, length: int, position: int, count: int) -> None:
        minimum = 28 if block_type == PCAPNG_SECTION_HEADER else 12
        if length < minimum or length % 4 or length > MAX_PCAPNG_BLOCK:
            raise _Stop(position, DecodeError(
                "pcapng", "block_total_length", self._base + position + 4,
                f"{length} is not a valid block length (after record {count})",
            ))

    def _interface(self, interface: int, position: int, number: int) -> _Interface:
        if interface >= len(self._interfaces):
            raise _Stop(position, DecodeError(
                "pcapng", f"record {number}.interface_id", self._base + position + 8,
                f"interface {interface} not described ({len(self._interfaces)} known)",
            ))
        return self._interfaces[interface]

    def _read_interface(self, position: int, length: int) -> _Interface:
        if length < 20:
            raise _Stop(position, DecodeError(
                "pcapng", "interface_description", self._base + position,
                f"{length}-byte block is shorter than 20",
            ))
        linktype, _reserved, snaplen = struct.unpack_from(
            self._order + "HHI", self._buffer, position + 8
        )
        ticks, offset = 1_000_000, 0
        for code, value in self._options(position, position + 16, position + length - 4):
            if code == _OPTION_IF_TSRESOL and len(value) >= 1:
                if (value[0] & 0x7F) > 63 or (not value[0] & 0x80 and value[0] > 18):
                    raise _Stop(position, DecodeError(
                        "pcapng", "if_tsresol", self._base + position,
                        f"resolution {value[0]:#04x} is out of range",
                    ))
                ticks = _ticks_per_second(value[0])
            elif code == _OPTION_IF_TSOFFSET and len(value) >= 8:
                offset = struct.unpack(self._order + "q", value[:8])[0]
        return _Interface(linktype, ticks, offset, snaplen)

    def _options(self, block: int, start: int, end: int) -> list[tuple[int, bytes]]:
        """Option TLVs (code, length, value padded to 4) until opt_endofopt or the end."""
        options = []
        position = start
        while position + 4 <= end:
            code, size = struct.unpack_from(self._order + "HH", self._buffer, position)
            if code == _OPTION_END:
                break
            value_end = position + 4 + size
            if value_end > end:
                raise _Stop(block, DecodeError(
                    "pcapng", f"option {code}", self._base + position,
                    f"{size}-byte value runs past the block end",
                ))
            options.append((code, bytes(self._buffer[position + 4:value_end])))
            position = value_end + (-size % 4)
        return options

    def _simple_packet(self, position: int, length: int, number: int) -> CaptureRecord:
        """SPB: no timestamp (Wireshark shows time 0), interface 0, length from the block."""
        described = self._interface(0, position, number)
        original = struct.unpack_from(self._order + "I", self._buffer, position + 8)[0]
        captured = min(original, length - 16)
        if described.snaplen:
            captured = min(captured, described.snaplen)
        data = bytes(self._buffer[position + 12:position + 12 + captured])
        return CaptureRecord(number, 0.0, described.linktype, data, 0, original)

    def _obsolete_packet(self, position: int, length: int, number: int) -> CaptureRecord:
        interface, _drops, high, low, captured, original = struct.unpack_from(
            self._order + "HHIIII", self._buffer, position + 8
        )
        described = self._interface(interface, position, number)
        if captured > length - 32:
            raise _Stop(position, DecodeError(
                "pcapng", f"record {number}.captured_length", self._base + position + 20,
                f"{captured} bytes does not fit a {length}-byte block",
            ))
        time = ((high << 32) | low) / described.ticks_per_second + described.time_offset
        data = bytes(self._buffer[position + 28:position + 28 + captured])
        return CaptureRecord(number, time, described.linktype, data, interface, original)


class _Stop(Exception):
    """Carries a DecodeError out of the parse loop with the bytes consumed before it."""

    def __init__(self, consumed: int, error: DecodeError) -> None:
        super().__init__(str(error))
        self.consumed = consumed
        self.error = error


def _split_time(time: float, ticks_per_second: int) -> tuple[int, int]:
    """Whole seconds and sub-second ticks, rounding without ever giving a full second."""
    seconds = math.floor(time)
    ticks = round((time - seconds) * ticks_per_second)
    if ticks >= ticks_per_second:
        seconds, ticks = seconds + 1, ticks - ticks_per_second
    return seconds, ticks


def pcap_header(
    linktype: int, *, nanoseconds: bool = False, big_endian: bool = False,
    snaplen: int = MAX_PCAP_RECORD,
) -> bytes:
    """pcap global header (version 2.4) for one link type."""
    magic = PCAP_MAGIC_NANOSECONDS if nanoseconds else PCAP_MAGIC_MICROSECONDS
    order = ">" if big_endian else "<"
    return struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_packet(
    time: float, data: bytes, *, nanoseconds: bool = False, big_endian: bool = False,
    original_length: int | None = None,
) -> bytes:
    """pcap record: header and data; the flags must match those given to ``pcap_header``.
    ``original_length`` (default: the data's) is what a sniffer that kept fewer bytes
    than it received writes."""
    seconds, ticks = _split_time(time, 1_000_000_000 if nanoseconds else 1_000_000)
    order = ">" if big_endian else "<"
    original = len(data) if original_length is None else original_length
    return struct.pack(order + "IIII", seconds, ticks, len(data), original) + data


def _option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(order: str, block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def pcapng_section(*, big_endian: bool = False) -> bytes:
    """Section Header Block (version 1.0, section length unknown)."""
    order = ">" if big_endian else "<"
    body = struct.pack(order + "IHHq", PCAPNG_BYTE_ORDER_MAGIC, 1, 0, -1)
    return _block(order, PCAPNG_SECTION_HEADER, body)


def pcapng_interface(
    linktype: int, *, big_endian: bool = False, tsresol: int = 6, snaplen: int = 0,
) -> bytes:
    """Interface Description Block; ``tsresol`` is the raw if_tsresol byte (6 µs, 9 ns)."""
    order = ">" if big_endian else "<"
    body = struct.pack(order + "HHI", linktype, 0, snaplen)
    if tsresol != 6:
        body += _option(order, _OPTION_IF_TSRESOL, bytes([tsresol]))
        body += _option(order, _OPTION_END, b"")
    return _block(order, _BLOCK_INTERFACE, body)


def pcapng_statistics(start: float, end: float, interface: int = 0, *,
                      big_endian: bool = False, tsresol: int = 6) -> bytes:
    """Interface Statistics Block with isb_starttime and isb_endtime: when the capture
    started and stopped listening (as dumpcap writes at its end)."""
    order = ">" if big_endian else "<"
    ticks_per_second = _ticks_per_second(tsresol)
    now = _ticks(end, ticks_per_second)
    body = struct.pack(order + "III", interface, now >> 32, now & 0xFFFFFFFF)
    for code, when in ((_OPTION_ISB_STARTTIME, start), (_OPTION_ISB_ENDTIME, end)):
        ticks = _ticks(when, ticks_per_second)
        body += _option(order, code, struct.pack(order + "II", ticks >> 32, ticks & 0xFFFFFFFF))
    body += _option(order, _OPTION_END, b"")
    return _block(order, _BLOCK_STATISTICS, body)


def _ticks(time: float, ticks_per_second: int) -> int:
    seconds, ticks = _split_time(time, ticks_per_second)
    return seconds * ticks_per_second + ticks


def pcapng_header(linktype: int, *, big_endian: bool = False, tsresol: int = 6) -> bytes:
    """SHB and one IDB: the start of a single-interface pcapng file."""
    return pcapng_section(big_endian=big_endian) + pcapng_interface(
        linktype, big_endian=big_endian, tsresol=tsresol
    )


def pcapng_packet(
    time: float, data: bytes, interface: int = 0, *, big_endian: bool = False,
    tsresol: int = 6, original_length: int | None = None,
) -> bytes:
    """Enhanced Packet Block; ``tsresol`` must be the one of the interface's IDB.

    ``original_length`` (default ``len(data)``) is the packet's length on the wire when
    fewer bytes were captured: a sniffer that drops the FCS under link type 195 writes
    the frame's length with its FCS there and two bytes less as captured.
    """
    order = ">" if big_endian else "<"
    ticks_per_second = _ticks_per_second(tsresol)
    seconds, ticks = _split_time(time, ticks_per_second)
    timestamp = seconds * ticks_per_second + ticks
    body = struct.pack(
        order + "IIIII", interface, timestamp >> 32, timestamp & 0xFFFFFFFF,
        len(data), len(data) if original_length is None else original_length,
    )
    return _block(order, _BLOCK_ENHANCED_PACKET, body + data + b"\0" * (-len(data) % 4))
