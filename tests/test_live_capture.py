"""``hanota capture``: a live source recorded to pcapng replays to the same frames.

Runs the real command as a subprocess (as a test house would), on loopback, asking for
port 0 and reading the bound address from its first stderr line, so no port is guessed.
"""

from __future__ import annotations

import io
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hanota.emulators.zep_out import ZepSender
from hanota.layers.capture import (
    LINKTYPE_IEEE802_15_4_NOFCS,
    LINKTYPE_IEEE802_15_4_WITHFCS,
    CaptureParser,
)
from hanota.layers.capture_zep import zep_encode
from test_live import DUT, START, comparable, pcapng_of, replayed, sample_psdus

ROOT = Path(__file__).resolve().parent.parent
WAIT = 20.0


def start_capture(out: Path, *extra: str, source: str = "zep://127.0.0.1:0",
                  stdin: int | None = None) -> tuple[subprocess.Popen, tuple[str, int] | None]:
    child = subprocess.Popen(
        [sys.executable, "-m", "hanota.cli", "capture", "--source", source, "--out", str(out),
         *extra],
        cwd=ROOT, stdin=stdin, stderr=subprocess.PIPE,
    )
    assert child.stderr is not None
    line = child.stderr.readline().decode()
    found = re.search(r"recording zep://([\d.]+):(\d+)", line)
    assert found or not source.startswith("zep"), line
    return child, (found.group(1), int(found.group(2))) if found else None


def finish(child: subprocess.Popen, stdin: bytes | None = None) -> str:
    _, errors = child.communicate(stdin, timeout=WAIT)
    assert child.returncode == 0, errors
    return errors.decode()


def linktypes(path: Path) -> set[int]:
    parser = CaptureParser()
    records = parser.feed(path.read_bytes())
    parser.close()  # a complete file: no truncated record at the end
    return {record.linktype for record in records}


def test_zep_stream_recorded_to_pcapng_replays_to_the_same_frames(tmp_path: Path) -> None:
    psdus = sample_psdus()
    times = [START + 0.01 * i for i in range(len(psdus))]
    out = tmp_path / "live.pcapng"
    child, address = start_capture(out, "--count", str(len(psdus)))
    assert address is not None
    with ZepSender(*address, speed=None, channel=DUT.channel) as sender:
        for when, psdu in zip(times, psdus, strict=True):
            sender(when, psdu)
    summary = finish(child)
    assert f"{len(psdus)} frames" in summary
    assert linktypes(out) == {LINKTYPE_IEEE802_15_4_WITHFCS}
    recorded = replayed(out.read_bytes())
    assert comparable(recorded) == comparable(replayed(pcapng_of(psdus, times)))
    assert all(frame.error is None for frame in recorded)


def test_lqi_mode_is_recorded_without_fcs_and_junk_is_counted(tmp_path: Path) -> None:
    psdu = sample_psdus()[0]
    lqi_mode = bytearray(zep_encode(psdu[:-2] + b"\xc4\xbf", DUT.channel, 2, START + 1))
    lqi_mode[7] = 0  # crc_mode byte: LQI mode (RSSI, CRC-OK|LQI instead of the FCS)
    crc_bad = bytearray(zep_encode(psdu[:-2] + b"\xc4\x3f", DUT.channel, 3, START + 2))
    crc_bad[7] = 0  # LQI mode, the sniffer's CRC-OK bit clear
    out = tmp_path / "mixed.pcapng"
    child, address = start_capture(out, "--count", "3")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"EX\x09junk", address)
        sender.sendto(zep_encode(psdu, DUT.channel, 1, START), address)
        sender.sendto(bytes(lqi_mode), address)
        sender.sendto(bytes(crc_bad), address)
    summary = finish(child)
    assert "3 frames" in summary and "1 malformed" in summary
    assert linktypes(out) == {LINKTYPE_IEEE802_15_4_WITHFCS, LINKTYPE_IEEE802_15_4_NOFCS}
    with_fcs, without, bad = replayed(out.read_bytes())
    assert with_fcs.raw == psdu and without.raw == psdu[:-2]
    assert with_fcs.han == without.han and with_fcs.han is not None
    assert bad.fcs_ok is False and bad.han == with_fcs.han  # still flagged, still decoded


def test_sigint_and_duration_stop_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "interrupted.pcapng"
    child, address = start_capture(out)
    with ZepSender(*address, speed=None, channel=DUT.channel) as sender:
        for i, psdu in enumerate(sample_psdus()[:6]):
            sender(START + i, psdu)
    time.sleep(0.5)
    child.send_signal(signal.SIGINT)
    assert "6 frames" in finish(child)
    assert len(replayed(out.read_bytes())) == 6
    quiet = tmp_path / "quiet.pcapng"
    started = time.monotonic()
    child, _ = start_capture(quiet, "--duration", "0.5")
    assert "0 frames" in finish(child)
    assert time.monotonic() - started < 10
    assert replayed(quiet.read_bytes()) == []


def test_a_pcap_stream_on_stdin_is_recorded(tmp_path: Path) -> None:
    psdus = sample_psdus()[:8]
    times = [START + i for i in range(len(psdus))]
    stream = pcapng_of(psdus, times)
    out = tmp_path / "stdin.pcapng"
    child, _ = start_capture(out, source="-", stdin=subprocess.PIPE)
    summary = finish(child, stream[:-5])  # the sniffer dies inside the last record
    assert "7 frames" in summary and "1 malformed" in summary and "truncated" in summary
    assert comparable(replayed(out.read_bytes())) == comparable(
        replayed(pcapng_of(psdus[:-1], times[:-1])))
    assert io.BytesIO(out.read_bytes()).read(4) == b"\x0a\x0d\x0d\x0a"


def test_an_unwritable_output_is_an_error_not_a_hang(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system to simulate a full disk")
    child = subprocess.run(
        [sys.executable, "-m", "hanota.cli", "capture", "--source", "zep://127.0.0.1:0",
         "--out", "/dev/full", "--duration", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=WAIT,
    )
    assert child.returncode == 1 and "No space left on device" in child.stderr
