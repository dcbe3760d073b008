"""pcap / pcapng reading and writing (hanota.layers.capture).

The writers and the incremental parser are checked against each other in every variant
(byte order, resolution, several interfaces, sections), against scapy's independent
reader and writer, and under arbitrary chunking: a live pipe delivers any split, and the
records must not depend on it.
"""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import pytest
from hanota.layers.capture import (
    CaptureParser,
    CaptureRecord,
    pcap_header,
    pcap_packet,
    pcapng_header,
    pcapng_interface,
    pcapng_packet,
    pcapng_section,
)
from hanota.layers.model import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.utils import PcapNgReader, PcapReader, PcapWriter

PACKETS = [bytes([n]) * n for n in (5, 1, 17, 127, 0, 64)]
TIMES = [1_700_000_000.0 + n * 0.25 + 0.000125 for n in range(len(PACKETS))]


def parse(data: bytes, chunk: int | None = None) -> list[CaptureRecord]:
    """All records of ``data`` fed in ``chunk``-byte pieces (whole when None)."""
    parser = CaptureParser()
    step = chunk or max(len(data), 1)
    records: list[CaptureRecord] = []
    for start in range(0, len(data), step):
        records += parser.feed(data[start:start + step])
    parser.close()
    return records


def pcap_file(*, nanoseconds: bool = False, big_endian: bool = False, linktype: int = 195) -> bytes:
    out = pcap_header(linktype, nanoseconds=nanoseconds, big_endian=big_endian)
    for time, data in zip(TIMES, PACKETS, strict=True):
        out += pcap_packet(time, data, nanoseconds=nanoseconds, big_endian=big_endian)
    return out


def pcapng_file(*, big_endian: bool = False, tsresol: int = 6) -> bytes:
    out = pcapng_header(195, big_endian=big_endian, tsresol=tsresol)
    for time, data in zip(TIMES, PACKETS, strict=True):
        out += pcapng_packet(time, data, big_endian=big_endian, tsresol=tsresol)
    return out


def multi_interface_file(big_endian: bool = False) -> bytes:
    """Three interfaces (195 µs, 230 ns, 1 with 2^-10 s ticks) plus blocks to skip."""
    out = pcapng_section(big_endian=big_endian)
    out += pcapng_interface(195, big_endian=big_endian)
    out += pcapng_interface(230, big_endian=big_endian, tsresol=9)
    out += pcapng_interface(1, big_endian=big_endian, tsresol=0x8A)
    order = ">" if big_endian else "<"
    name_resolution = struct.pack(order + "II", 4, 16) + b"\0\0\0\0" + struct.pack(order + "I", 16)
    out += name_resolution
    for index, (time, data) in enumerate(zip(TIMES, PACKETS, strict=True)):
        interface = index % 3
        tsresol = (6, 9, 0x8A)[interface]
        out += pcapng_packet(time, data, interface, big_endian=big_endian, tsresol=tsresol)
    return out


def expected(linktypes: list[int] | None = None) -> list[tuple[int, int, bytes]]:
    linktypes = linktypes or [195] * len(PACKETS)
    return [(n + 1, linktypes[n], data) for n, data in enumerate(PACKETS)]


def summary(records: list[CaptureRecord]) -> list[tuple[int, int, bytes]]:
    return [(r.number, r.linktype, r.data) for r in records]


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nanoseconds", [False, True])
def test_pcap_round_trip(nanoseconds: bool, big_endian: bool) -> None:
    records = parse(pcap_file(nanoseconds=nanoseconds, big_endian=big_endian))
    assert summary(records) == expected()
    assert [r.time for r in records] == pytest.approx(TIMES, abs=1e-6)


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("tsresol", [6, 9, 3, 0x94])
def test_pcapng_round_trip(big_endian: bool, tsresol: int) -> None:
    records = parse(pcapng_file(big_endian=big_endian, tsresol=tsresol))
    assert summary(records) == expected()
    resolution = 10**-3 if tsresol == 3 else 1e-6
    assert [r.time for r in records] == pytest.approx(TIMES, abs=resolution)


def test_nanosecond_timestamps_keep_their_sub_microsecond_part() -> None:
    # A small epoch: at today's dates a float second has no nanosecond digits to keep.
    time = 1000.000000123
    for data in (
        pcap_header(230, nanoseconds=True) + pcap_packet(time, b"x", nanoseconds=True),
        pcapng_header(230, tsresol=9) + pcapng_packet(time, b"x", tsresol=9),
    ):
        (record,) = parse(data)
        assert record.time == pytest.approx(time, abs=1e-10)


@pytest.mark.parametrize("big_endian", [False, True])
def test_several_interfaces_keep_their_link_types_and_resolutions(big_endian: bool) -> None:
    records = parse(multi_interface_file(big_endian))
    assert summary(records) == expected([(195, 230, 1)[n % 3] for n in range(len(PACKETS))])
    assert [r.interface for r in records] == [n % 3 for n in range(len(PACKETS))]
    assert [r.time for r in records] == pytest.approx(TIMES, abs=1e-3)


def test_a_new_section_resets_interfaces_and_may_change_byte_order() -> None:
    data = pcapng_header(195) + pcapng_packet(TIMES[0], PACKETS[0])
    data += pcapng_header(230, big_endian=True) + pcapng_packet(
        TIMES[1], PACKETS[1], big_endian=True
    )
    records = parse(data)
    assert summary(records) == [(1, 195, PACKETS[0]), (2, 230, PACKETS[1])]


def test_simple_and_obsolete_packet_blocks_are_read() -> None:
    simple = struct.pack("<III", 3, 16 + 8, 5) + b"abcde\0\0\0" + struct.pack("<I", 24)
    ticks = int(TIMES[0] * 1e6)
    body = struct.pack("<HHIIII", 0, 0, ticks >> 32, ticks & 0xFFFFFFFF, 3, 3) + b"xyz\0"
    obsolete = struct.pack("<II", 2, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    records = parse(pcapng_header(195) + simple + obsolete)
    assert summary(records) == [(1, 195, b"abcde"), (2, 195, b"xyz")]
    assert records[0].time == 0.0  # an SPB has no timestamp
    assert records[1].time == pytest.approx(TIMES[0], abs=1e-6)


@pytest.mark.parametrize("chunk", [1, 7, None])
@pytest.mark.parametrize(
    "make", [pcap_file, pcapng_file, multi_interface_file,
             lambda: pcap_file(nanoseconds=True, big_endian=True),
             lambda: pcapng_file(big_endian=True, tsresol=9)],
    ids=["pcap", "pcapng", "pcapng-multi", "pcap-ns-be", "pcapng-ns-be"],
)
def test_any_chunking_gives_the_same_records(make, chunk: int | None) -> None:
    data = make()
    assert parse(data, chunk) == parse(data)
    assert len(parse(data, chunk)) == len(PACKETS)


def test_records_come_out_as_soon_as_they_are_complete() -> None:
    data = pcapng_file()
    first_record_end = len(pcapng_header(195)) + len(pcapng_packet(TIMES[0], PACKETS[0]))
    parser = CaptureParser()
    assert parser.feed(data[:first_record_end - 1]) == []
    (record,) = parser.feed(data[first_record_end - 1:first_record_end])
    assert record.number == 1


@pytest.mark.parametrize("make", [pcap_file, pcapng_file], ids=["pcap", "pcapng"])
def test_truncated_file_names_the_record_and_its_offset(make) -> None:
    data = make()
    cut = len(data) - 3  # inside the last record
    parser = CaptureParser()
    records = parser.feed(data[:cut])
    assert len(records) == len(PACKETS) - 1
    with pytest.raises(DecodeError) as caught:
        parser.close()
    last_size = len(PACKETS[-1]) + (16 if make is pcap_file else 32 + (-len(PACKETS[-1]) % 4))
    assert caught.value.field == f"record {len(PACKETS)}"
    assert caught.value.offset == len(data) - last_size
    assert "truncated" in str(caught.value)


def test_not_a_capture_is_said_at_once() -> None:
    parser = CaptureParser()
    with pytest.raises(DecodeError, match="not a pcap or pcapng capture"):
        parser.feed(b"hello world")


def test_empty_input_is_not_a_capture() -> None:
    with pytest.raises(DecodeError, match="not a pcap or pcapng capture"):
        CaptureParser().close()


def test_corrupt_block_length_is_an_error_after_the_good_records() -> None:
    data = bytearray(pcapng_file())
    second = len(pcapng_header(195)) + len(pcapng_packet(TIMES[0], PACKETS[0]))
    data[second + 4:second + 8] = struct.pack("<I", 13)
    parser = CaptureParser()
    records = parser.feed(bytes(data))
    assert [r.number for r in records] == [1]
    with pytest.raises(DecodeError) as caught:
        parser.feed(b"")
    assert caught.value.layer == "pcapng"
    assert caught.value.offset == second + 4


def test_packet_on_an_undescribed_interface_is_an_error() -> None:
    data = pcapng_header(195) + pcapng_packet(TIMES[0], b"abc", interface=2)
    with pytest.raises(DecodeError, match="interface 2 not described"):
        parse(data)


def test_scapy_reads_what_we_write(tmp_path: Path) -> None:
    for name, data, reader in (
        ("a.pcap", pcap_file(), PcapReader),
        ("b.pcapng", pcapng_file(tsresol=9), PcapNgReader),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        with reader(str(path)) as packets:
            read = [(p.original, float(p.time)) for p in packets]  # as stored, not rebuilt
        assert [d for d, _ in read] == PACKETS
        assert [t for _, t in read] == pytest.approx(TIMES, abs=1e-6)


@pytest.mark.parametrize("nano", [False, True])
def test_we_read_what_scapy_writes(tmp_path: Path, nano: bool) -> None:
    path = tmp_path / "scapy.pcap"
    with PcapWriter(str(path), linktype=195, nano=nano) as writer:
        writer.write_header(None)
        for time, data in zip(TIMES, PACKETS, strict=True):
            writer.write_packet(data, sec=int(time), usec=round(time % 1 * (1e9 if nano else 1e6)))
    records = parse(path.read_bytes())
    assert summary(records) == expected()
    assert [r.time for r in records] == pytest.approx(TIMES, abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_random_bytes_give_decode_error_or_records(data: bytes, chunk: int) -> None:
    parser = CaptureParser()
    try:
        for start in range(0, len(data), chunk):
            parser.feed(data[start:start + chunk])
        parser.close()
    except DecodeError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([pcap_header(195), pcapng_header(195),
                                                 pcapng_header(195, big_endian=True),
                                                 pcap_header(1, big_endian=True)]))
def test_random_bytes_after_a_valid_header_give_decode_error_or_records(
    data: bytes, header: bytes
) -> None:
    try:
        for record in parse(header + data, 5):
            assert isinstance(record.data, bytes)
    except DecodeError:
        pass


def test_interface_time_offset_is_added() -> None:
    option = struct.pack("<HHq", 14, 8, 3600) + struct.pack("<HH", 0, 0)
    body = struct.pack("<HHI", 195, 0, 0) + option
    interface = struct.pack("<II", 1, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    (record,) = parse(pcapng_section() + interface + pcapng_packet(100.5, b"abc"))
    assert record.time == pytest.approx(3700.5)


def test_memory_stays_constant_whatever_the_capture_size() -> None:
    """5 MB of records fed in 64 KiB chunks: the parser holds at most one chunk."""
    block = pcapng_packet(TIMES[0], bytes(100))
    stream = pcapng_header(195) + block * 40_000
    parser = CaptureParser()
    tracemalloc.start()
    try:
        count = 0
        for start in range(0, len(stream), 65536):
            count += len(parser.feed(stream[start:start + 65536]))
        parser.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 40_000
    assert peak < 2 * 65536 + 1024 * 1024  # records of one chunk, far below the 5 MB fed
