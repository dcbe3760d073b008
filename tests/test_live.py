"""The live target: ZEP datagrams and pcap streams decoded as they arrive (loopback only).

The reference for "the same frames" is always the capture target (hanota.targets.pcap) reading a
capture of the same PSDUs: a live run must judge exactly what a replay would.
"""

from __future__ import annotations

import io
import os
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
from hanota.dut.description import load_dut
from hanota.emulators.zep_out import ZepSender, zep_address
from hanota.layers import dissector as dissector_module
from hanota.layers.capture import (
    LINKTYPE_IEEE802_15_4_WITHFCS,
    pcapng_header,
    pcapng_packet,
)
from hanota.layers.capture_zep import zep_encode
from hanota.layers.codec import build_frame, crc16_kermit, mac_ack
from hanota.layers.model import FrameRecord
from hanota.layers.security import KeyRing
from hanota.targets.base import TARGETS, TargetOptions
from hanota.targets.live import LiveTarget, is_upgrade_start, parse_source
from hanota.targets.live_sources import LiveStats, ZepSource
from hanota.targets.pcap import capture_records, decode_records
from hanota.verify.api import Match, Verifier
from hanota.verify.trace import Trace
from hanota.verify.verdicts import Inconclusive
from ota_frames import ALL_CASES, LINK_KEY_HEX, NETWORK_KEY_HEX, sample_frame

KEYS = KeyRing.from_hex([f"nwk:{NETWORK_KEY_HEX}", f"link:{LINK_KEY_HEX}"])
DUT = load_dut()
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the emulator's virtual epoch
WAIT = 5.0  # upper bound for anything that should take milliseconds on loopback


def sample_psdus() -> list[bytes]:
    """Every OTA command and profile-wide sample, NWK-secured, each followed by its ACK."""
    psdus = []
    for seq, (_, command, fields) in enumerate(ALL_CASES, start=1):
        psdus.append(build_frame(sample_frame(command, fields, seq), KEYS))
        psdus.append(mac_ack(seq))
    return psdus


def pcapng_of(psdus: list[bytes], times: list[float]) -> bytes:
    out = bytearray(pcapng_header(LINKTYPE_IEEE802_15_4_WITHFCS))
    for when, psdu in zip(times, psdus, strict=True):
        out += pcapng_packet(when, psdu)
    return bytes(out)


def replayed(capture: bytes, keys: KeyRing = KEYS) -> list[FrameRecord]:
    return list(decode_records(capture_records(io.BytesIO(capture)), keys))


def comparable(frames: list[FrameRecord]) -> list[tuple]:
    """What must agree between a live and a replayed frame (numbers and channel differ by
    carrier: a ZEP datagram says its channel, link type 195 does not)."""
    return [(f.raw, f.han, f.error is None, round(f.time, 6)) for f in frames]


def wait_for_frames(target: LiveTarget, count: int) -> list[FrameRecord]:
    session = target.session(WAIT)
    while len(session.frames) < count and session.more():
        pass
    return session.frames


def test_sources_parse() -> None:
    assert parse_source("zep://127.0.0.1:17754").port == 17754
    assert parse_source("zep://0.0.0.0").port == 17754
    spec = parse_source("zep://[::1]:5000")
    assert (spec.kind, spec.host, spec.port) == ("zep", "::1", 5000)
    assert parse_source("pipe:/tmp/sniffer.fifo").path == "/tmp/sniffer.fifo"
    assert parse_source("-").path == "-"
    for bad in ("udp://1.2.3.4:5", "zep://host:port", "zep://h:70000", "pipe:"):
        with pytest.raises(ValueError):
            parse_source(bad)


def test_zep_datagrams_decode_like_a_replayed_capture() -> None:
    psdus = sample_psdus()
    times = [START + 0.004 * i for i in range(len(psdus))]
    with LiveTarget(DUT, "zep://127.0.0.1:0", keys=KEYS) as target:
        with ZepSender(*target.address, speed=None, channel=DUT.channel) as sender:
            for when, psdu in zip(times, psdus, strict=True):
                sender(when, psdu)
        live = wait_for_frames(target, len(psdus))
    assert len(live) == len(psdus)
    assert all(frame.error is None for frame in live), [f.error for f in live if f.error]
    assert comparable(live) == comparable(replayed(pcapng_of(psdus, times)))
    assert {frame.channel for frame in live} == {DUT.channel}
    commands = [f.han.zcl.command for f in live if f.han and f.han.zcl]
    assert commands == [command for _, command, _ in ALL_CASES]
    assert target.stats.dropped == 0 and target.stats.malformed == 0


def test_zep_sender_paces_on_the_virtual_clock() -> None:
    with LiveTarget(DUT, "zep://127.0.0.1:0", keys=KEYS) as target:
        with ZepSender(*target.address, speed=20.0, channel=DUT.channel) as sender:
            started = time.monotonic()
            for i in range(5):
                sender(START + i, mac_ack(i))  # 4 virtual seconds at 20x: 0.2 s
            elapsed = time.monotonic() - started
        frames = wait_for_frames(target, 5)
    assert 0.18 <= elapsed < 2.0
    arrivals = [frame.extra["arrival"] for frame in frames]
    assert arrivals[-1] - arrivals[0] >= 0.18
    assert [frame.time for frame in frames] == [START + i for i in range(5)]


def _lqi_mode(psdu: bytes, crc_ok: bool) -> bytes:
    """ZEP v2 in LQI mode: FCS replaced by RSSI and a CRC-OK/LQI byte."""
    body = psdu[:-2] + bytes((0xC4, (0x80 if crc_ok else 0) | 0x3F))
    datagram = bytearray(zep_encode(body, DUT.channel, 77, START))
    datagram[7] = 0  # crc_mode byte: LQI mode
    return bytes(datagram)


def _zep_v1(psdu: bytes) -> bytes:
    return struct.pack(">2sBBHBB7xB", b"EX", 1, DUT.channel, 0, 1, 255, len(psdu)) + psdu


def test_malformed_datagrams_are_counted_not_fatal() -> None:
    good = build_frame(sample_frame(*ALL_CASES[0][1:], seq=1), KEYS)
    body = bytearray(good[:-2])
    body[-3] ^= 0xFF  # inside the MIC, with a valid FCS: the frame arrived, the MIC fails
    corrupt = zep_encode(bytes(body) + crc16_kermit(bytes(body)).to_bytes(2, "little"),
                         DUT.channel, 3, START)
    wrong_key = KeyRing.from_hex(["F0E0D0C0B0A090807060504030201000"])
    junk = [
        b"",                                        # empty datagram
        b"XY\x02\x01" + bytes(40),                  # bad preamble
        b"EX\x07\x01" + bytes(40),                  # unknown version
        b"EX\x02\x09" + bytes(40),                  # unknown v2 type
        zep_encode(good, DUT.channel, 4, START)[:-10],  # length says more than present
        zep_encode(good, DUT.channel, 5, START)[:20],   # header cut
    ]
    with LiveTarget(DUT, "zep://127.0.0.1:0", keys=KEYS) as target:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for datagram in junk:
                out.sendto(datagram, target.address)
            out.sendto(corrupt, target.address)
            out.sendto(b"EX\x02\x02" + struct.pack(">I", 9), target.address)  # v2 ack
            out.sendto(_lqi_mode(good, crc_ok=False), target.address)
            out.sendto(_lqi_mode(good, crc_ok=True), target.address)
            out.sendto(_zep_v1(good), target.address)
            out.sendto(zep_encode(good, DUT.channel, 6, START), target.address)
        frames = wait_for_frames(target, len(junk) + 5)
    malformed = [f for f in frames if f.extra.get("malformed")]
    assert len(malformed) == len(junk) == target.stats.malformed
    assert all(f.error and f.error.startswith(f"datagram {f.number}: zep.") for f in malformed)
    mic, bad_fcs, lqi_ok, v1, last = frames[len(junk):]
    assert "MIC failure" in (mic.error or "")
    assert "sniffer reports a bad FCS" in (bad_fcs.error or "")
    for frame in (lqi_ok, v1, last):
        assert frame.error is None and frame.han is not None
        assert frame.han.zcl.command == ALL_CASES[0][1]
    assert v1.time == v1.extra["arrival"]  # ZEP v1 has no timestamp: arrival time
    assert not lqi_ok.fcs and last.fcs  # LQI mode drops the FCS; CRC mode keeps it
    assert target.stats.skipped == 1  # the ZEP ack
    assert target.stats.received == len(junk) + 6
    assert len(target.stats.log) == len(junk)
    # a wrong key is a MIC failure on every frame, never a decode into garbage
    with LiveTarget(DUT, "zep://127.0.0.1:0", keys=wrong_key) as target:
        with ZepSender(*target.address, speed=None, channel=DUT.channel) as sender:
            sender(START, good)
        (frame,) = wait_for_frames(target, 1)
    assert "MIC failure" in (frame.error or "")
    # the layers below the failure are kept, nothing above it
    assert frame.han is not None and frame.han.nwk is not None and frame.han.aps is None


def test_dropped_datagrams_are_counted_from_zep_sequence_gaps() -> None:
    psdu = mac_ack(1)
    with LiveTarget(DUT, "zep://127.0.0.1:0", keys=KEYS) as target:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for seq in (1, 2, 5, 6, 10):
                out.sendto(zep_encode(psdu, DUT.channel, seq, START), target.address)
                # a second sniffer (ZEP device id 7) with its own numbering: no gap
                out.sendto(zep_encode(psdu, DUT.channel, 100 + seq // 5, START, device_id=7),
                           target.address)
        wait_for_frames(target, 10)
    assert target.stats.dropped == 2 + 3 + 0


def test_channel_filter_and_wait_for_upgrade() -> None:
    notify = next(fields for _, command, fields in ALL_CASES if command == "image_notify")
    request = next(fields for _, c, fields in ALL_CASES if c == "image_block_request")
    before = build_frame(sample_frame("image_block_request", request, 1), KEYS)
    start = build_frame(sample_frame("image_notify", notify, 2), KEYS)
    after = build_frame(sample_frame("image_block_request", request, 3), KEYS)
    with LiveTarget(DUT, "zep://127.0.0.1:0", keys=KEYS, wait_for_upgrade=True) as target:
        with ZepSender(*target.address, speed=None, channel=DUT.channel) as sender, \
                ZepSender(*target.address, speed=None, channel=DUT.channel + 1) as other:
            sender(START, before)
            sender(START + 1, mac_ack(1))
            other(START + 1.5, start)  # an upgrade on another channel is not ours
            sender(START + 2, start)
            sender(START + 3, after)
        frames = wait_for_frames(target, 2)
    assert [f.han.zcl.command for f in frames] == ["image_notify", "image_block_request"]
    assert is_upgrade_start(frames[0]) and not is_upgrade_start(frames[1])
    assert target.stats.before_upgrade == 2
    assert not target.buffer.waiting_for_upgrade
    assert target.stats.other_channel == 1


def test_session_times_out_and_says_why() -> None:
    with LiveTarget(DUT, "zep://127.0.0.1:0", keys=KEYS, evidence_timeout=0.3) as target:
        session = target.session()
        started = time.monotonic()
        assert session.more() == []
        assert 0.25 <= time.monotonic() - started < 2.0
        assert session.expired
        assert "within 0.3 s (evidence_timeout_s)" in session.why_no_more()
    assert DUT.pixit.evidence_timeout_s == LiveTarget(DUT, "-").evidence_timeout


def test_verifier_waits_for_evidence_that_arrives_later() -> None:
    """The suite's Trace grows from the live session: a frame sent while the check waits
    is found; one that never comes makes the check INCONCLUSIVE at the time-out."""
    notify = next(fields for _, command, fields in ALL_CASES if command == "image_notify")
    frame = build_frame(sample_frame("image_notify", notify, 1), KEYS)
    with LiveTarget(DUT, "zep://127.0.0.1:0", keys=KEYS, evidence_timeout=10.0) as target:
        trace = target.trace()
        assert len(trace) == 0

        def send_later() -> None:
            time.sleep(0.3)
            with ZepSender(*target.address, speed=None, channel=DUT.channel) as sender:
                sender(START, frame)

        sender_thread = threading.Thread(target=send_later)
        sender_thread.start()
        verifier = Verifier(trace)
        started = time.monotonic()
        found = verifier.need(Match(command="image_notify"), what="an Image Notify")
        assert time.monotonic() - started < 5.0  # found when it came, not at the time-out
        assert found.command == "image_notify" and found.number == 1
        sender_thread.join()
        started = time.monotonic()
        short = target.trace("upgrade", timeout=0.3)  # the next scenario: a new wait
        assert short is trace and len(short) == 1
        with pytest.raises(Inconclusive):
            Verifier(short).need(Match(command="upgrade_end_request"), what="an Upgrade End")
        assert 0.25 <= time.monotonic() - started < 2.0
        assert "within 0.3 s" in target.why_no_more()


def test_registered_as_the_live_target_of_the_suite() -> None:
    options = TargetOptions(DUT, extra={"source": "zep://127.0.0.1:0",
                                        "evidence_timeout": "0.2", "wait_for_upgrade": True,
                                        "images": "ppmid, hcalcs"})
    target = TARGETS["live"](options)
    try:
        assert target.name == "live" and target.description.startswith("zep://127.0.0.1:")
        assert target.evidence_timeout == 0.2 and target.buffer.waiting_for_upgrade
        trace = target.trace("upgrade")
        assert isinstance(trace, Trace) and not trace.more()
        assert [image.name for image in trace.held_images] == ["ppmid", "hcalcs"]
    finally:
        target.stop()
    with pytest.raises(ValueError, match="--source"):
        TARGETS["live"](TargetOptions(DUT))
    with pytest.raises(ValueError, match="held images nope"):
        LiveTarget(DUT, "-", held_images=["ppmid", "nope"])
    assert LiveTarget(DUT, "-").trace().held_images == []  # nothing seen: nothing assumed
    with pytest.raises(ValueError, match="evidence window"):
        LiveTarget(DUT, "-", evidence_window="forever")


def test_run_window_waits_once_for_the_whole_run() -> None:
    """With the "run" window, a scenario after the window closed is judged at once."""
    with LiveTarget(DUT, "zep://127.0.0.1:0", evidence_timeout=1.0,
                    evidence_window="run") as target:
        started = time.monotonic()
        assert not target.trace("upgrade").more()  # the first scenario waits the window
        assert time.monotonic() - started >= 0.95
        started = time.monotonic()
        assert not target.trace("read-version").more()  # the next one: no new wait
        assert time.monotonic() - started < 0.5


def _fifo(tmp_path: Path) -> str:
    path = tmp_path / "sniffer.fifo"
    os.mkfifo(path)
    return str(path)


def test_pipe_stream_decodes_as_it_arrives_and_survives_a_cut(tmp_path: Path) -> None:
    """A sniffer writing pcapng in small pieces, then dying inside a record: every
    complete frame is judged, the cut is reported as an error frame and the end reason."""
    psdus = sample_psdus()[:10]
    times = [START + i for i in range(len(psdus))]
    stream = pcapng_of(psdus, times)
    cut = stream[:-7]  # the last record loses its last 7 bytes
    fifo = _fifo(tmp_path)
    with LiveTarget(DUT, f"pipe:{fifo}", keys=KEYS, evidence_timeout=WAIT) as target:
        session = target.session()
        with open(fifo, "wb", buffering=0) as writer:
            for position in range(0, len(cut), 37):  # pieces that split headers and records
                writer.write(cut[position:position + 37])
                if position == 37 * 10:
                    assert session.more()  # frames are judged before the stream ends
        while session.more():
            pass
    frames = session.frames
    complete = replayed(pcapng_of(psdus[:-1], times[:-1]))
    assert comparable(frames[:-1]) == comparable(complete)
    broken = frames[-1]
    assert broken.extra.get("malformed") and "truncated" in (broken.error or "")
    assert "record 10" in (broken.error or "")
    assert target.stats.malformed == 1
    assert "capture stream broken" in (target.stats.end_reason or "")
    assert "live source ended" in session.why_no_more()


def test_pipe_with_garbage_is_reported(tmp_path: Path) -> None:
    fifo = _fifo(tmp_path)
    with LiveTarget(DUT, f"pipe:{fifo}", keys=KEYS, evidence_timeout=WAIT) as target:
        with open(fifo, "wb") as writer:
            writer.write(b"this is not a capture at all")
        session = target.session()
        while session.more():
            pass
    (frame,) = session.frames
    assert "not a pcap or pcapng capture" in (frame.error or "")
    assert target.stats.malformed == 1


def test_pipe_target_stops_while_no_sniffer_opened_the_fifo(tmp_path: Path) -> None:
    target = LiveTarget(DUT, f"pipe:{_fifo(tmp_path)}", keys=KEYS).start()
    started = time.monotonic()
    target.stop()
    assert time.monotonic() - started < WAIT
    assert target.stats.end_reason is not None


def test_zep_port_in_use_is_an_error_at_start() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        with pytest.raises(OSError):
            LiveTarget(DUT, f"zep://127.0.0.1:{taken.getsockname()[1]}").start()


def test_zep_sender_address_and_speed_checks() -> None:
    assert zep_address("127.0.0.1:5000") == ("127.0.0.1", 5000)
    assert zep_address("localhost") == ("localhost", 17754)
    assert zep_address("[::1]:6000") == ("::1", 6000)
    for bad in ("127.0.0.1:x", ":5000", "127.0.0.1:0", "h:70000"):
        with pytest.raises(ValueError):
            zep_address(bad)
    with pytest.raises(ValueError):
        ZepSender("127.0.0.1", 5000, speed=-1.0, channel=DUT.channel)
    with ZepSender("127.0.0.1", 5000, speed=0, channel=DUT.channel) as unpaced:
        assert unpaced.speed is None


def test_a_decoder_defect_is_kept_on_the_frame_and_the_run_goes_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    psdus = sample_psdus()[:4]
    real = dissector_module.dissect_frame

    def flaky(raw: bytes, keys: object = None, *, fcs: bool = True) -> object:
        if raw == psdus[2][:-2]:  # a data frame, its FCS checked and removed (short frames
            raise IndexError("boom")  # like ACKs may be cached)
        return real(raw, keys, fcs=fcs)  # type: ignore[arg-type]

    # both live paths (ZEP datagrams, a pcap pipe) decode through the run's dissector
    monkeypatch.setattr(dissector_module, "dissect_frame", flaky)
    with LiveTarget(DUT, "zep://127.0.0.1:0", keys=KEYS) as target:
        with ZepSender(*target.address, speed=None, channel=DUT.channel) as sender:
            for i, psdu in enumerate(psdus):
                sender(START + i, psdu)
        frames = wait_for_frames(target, len(psdus))
    assert [f.error is None for f in frames] == [True, True, False, True]
    assert "decoder defect IndexError: boom" in (frames[2].error or "")
    fifo = _fifo(tmp_path)
    with LiveTarget(DUT, f"pipe:{fifo}", keys=KEYS, evidence_timeout=WAIT) as target:
        with open(fifo, "wb") as writer:
            writer.write(pcapng_of(psdus, [START + i for i in range(len(psdus))]))
        session = target.session()
        while session.more():
            pass
    assert [f.error is None for f in session.frames] == [True, True, False, True]


def test_a_failing_handler_ends_the_source_with_the_reason() -> None:
    """A recorder that cannot write (disk full) must stop the source visibly."""

    class Failing:
        ended: str | None = None

        def datagram(self, number: int, arrival: float, datagram: bytes) -> None:
            raise OSError(28, "No space left on device")

        def records(self, records: list) -> None:
            raise AssertionError("a ZEP source hands datagrams")

        def stream_error(self, number: int, message: str) -> None:
            raise AssertionError("a ZEP source has no stream")

        def end(self, reason: str) -> None:
            self.ended = reason

    stats = LiveStats()
    source = ZepSource("127.0.0.1", 0, stats)
    handler = Failing()
    source.start(handler)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.sendto(zep_encode(mac_ack(1), DUT.channel, 1, START), source.address)
        deadline = time.monotonic() + WAIT
        while handler.ended is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        source.stop()
    assert handler.ended == stats.failure
    assert "handler failed: OSError" in (stats.failure or "")
