"""Decode speed: ``hanota decode`` against tshark on a whole 1 MiB image transfer.

Why this capture: a 1 MiB image in 64-byte blocks is the longest trace a conformance run
decodes (16,384 Image Block Request/Response pairs, each frame NWK-encrypted and
acknowledged: 65,536 frames), so it is where a slow decoder would hurt. Both decoders
run as subprocesses on the same file, with the same key, writing to /dev/null; peak
memory is each child's own (GNU time, else wait4's ru_maxrss), not the bench's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hanota.layers.capture import (
    LINKTYPE_IEEE802_15_4_WITHFCS,
    CaptureRecord,
    pcapng_header,
    pcapng_packet,
)
from hanota.layers.capture_unwrap import han_payload
from hanota.layers.codec import build_frame, mac_ack, parse_frame
from hanota.layers.model import Aps, HanFrame, Mac, Nwk, Security
from hanota.layers.security import KeyRing
from hanota.layers.zcl import make_zcl
from hanota.targets.pcap import capture_records, decode_records

from hanota.decode_cmd import json_line

NETWORK_KEY = "000102030405060708090a0b0c0d0e0f"
IMAGE_SIZE = 1024 * 1024
BLOCK = 64
PAN_ID = 0x1234
DEVICE16, DEVICE64 = 0x4A21, "00DB1234567890A2"
CHF16, CHF64 = 0x0000, "00DB123456789001"
IMAGE_ID = {"manufacturer_code": 0x1234, "image_type": 0x0001, "file_version": 0x01020304}
FRAME_GAP = 0.002  # seconds between frames in the capture
RUNS = 5
TSHARK_FIELDS = (
    "frame.number", "zbee_nwk.src", "zbee_nwk.dst", "zbee_nwk.src64", "zbee_aps.cluster",
    "zbee_zcl.cmd.id", "zbee_zcl_general.ota.status", "zbee_zcl_general.ota.file.offset",
    "zbee_zcl_general.ota.max_data_size", "zbee_zcl_general.ota.data_size",
    "zbee_zcl_general.ota.image.data",
)


def _ota_frame(seq: int, client_to_server: bool, zcl_fields: dict, command: str) -> HanFrame:
    src16, dst16, src64 = (
        (DEVICE16, CHF16, DEVICE64) if client_to_server else (CHF16, DEVICE16, CHF64)
    )
    counter = seq * 2 + (0 if client_to_server else 1)
    return HanFrame(
        Mac(1, seq & 0xFF, PAN_ID, dst16, src16, ack_request=True),
        Nwk(dst16, src16, seq & 0xFF, security=Security(1, counter, src64, 0)),
        Aps(0x0019, 0x0109, 1, 1, seq & 0xFF),
        make_zcl(command, zcl_fields, seq & 0xFF),
    )


def write_transfer_capture(path: Path) -> int:
    """The whole transfer as pcapng (link type 195); returns the number of frames."""
    keys = KeyRing.from_hex([NETWORK_KEY])
    image = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(IMAGE_SIZE))
    started = 1_700_000_000.0
    frames = 0
    with open(path, "wb") as out:
        out.write(pcapng_header(LINKTYPE_IEEE802_15_4_WITHFCS))
        for seq, offset in enumerate(range(0, IMAGE_SIZE, BLOCK)):
            request = _ota_frame(seq, True, {
                "field_control": 0, **IMAGE_ID, "file_offset": offset,
                "maximum_data_size": BLOCK,
            }, "image_block_request")
            response = _ota_frame(seq, False, {
                "status": 0, **IMAGE_ID, "file_offset": offset, "data_size": BLOCK,
                "data": image[offset:offset + BLOCK],
            }, "image_block_response")
            for frame in (request, response):
                out.write(pcapng_packet(started + frames * FRAME_GAP, build_frame(frame, keys)))
                out.write(pcapng_packet(
                    started + (frames + 1) * FRAME_GAP, mac_ack(frame.mac.seq)
                ))
                frames += 2
    return frames


def _timed(command: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one child writing to /dev/null.

    The RSS comes from GNU time when installed: a child forked from this (large) bench
    process inherits its high-water mark, so wait4's ru_maxrss would report at least the
    bench's own RSS. GNU time's own child starts small. Either way it is the largest
    process of the run (a decode's workers included), not their sum.
    """
    gnu_time = shutil.which("time", path="/usr/bin")
    wrapped = [gnu_time, "-f", "%M", *command] if gnu_time else command
    started = time.perf_counter()
    child = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"{command[0]} exited with {child.returncode}: {errors[-500:]!r}")
    if gnu_time:
        return elapsed, int(errors.split()[-1])
    return elapsed, usage.ru_maxrss


def _best_of(commands: dict[str, list[str]]) -> dict[str, tuple[float, int]]:
    """Best wall time of RUNS per command, and the peak RSS seen.

    Runs go round-robin (ours, tshark, ours, ...) so that load from elsewhere on a shared
    2-core machine hits every command alike instead of one of them.
    """
    runs: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
    for _ in range(RUNS):
        for name, command in commands.items():
            runs[name].append(_timed(command))
    return {
        name: (min(s for s, _ in measured), max(r for _, r in measured))
        for name, measured in runs.items()
    }


def _check_equal_work(capture: Path, frames: int, tshark: str | None, keys: str) -> str:
    """Both decoders really decrypt every frame: a wrong key would time the fast
    MIC-failure path instead of a decode."""
    ours = subprocess.run(
        [sys.executable, "-m", "hanota.cli", "decode", str(capture), "--key", NETWORK_KEY],
        capture_output=True, text=True, check=True,
    )
    if f"{frames} frames, 0 not decoded" not in ours.stderr:
        raise RuntimeError(f"hanota decode did not decode every frame: {ours.stderr.strip()}")
    if tshark is None:
        return f"check: hanota decoded {frames}/{frames} frames"
    offsets = subprocess.run(
        [tshark, "-n", "-r", str(capture), "-o", keys, "-c", "8", "-T", "fields",
         "-e", "zbee_zcl_general.ota.file.offset"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    if offsets != ["0", "0", str(BLOCK), str(BLOCK)]:
        raise RuntimeError(f"tshark did not decrypt the capture: offsets {offsets}")
    return f"check: hanota decoded {frames}/{frames} frames; tshark decrypts (offsets {offsets})"


def _line(name: str, frames: int, measured: tuple[float, int]) -> str:
    seconds, rss = measured
    return (
        f"{name:<36} {frames / seconds:>9,.0f} frames/s {seconds:6.2f} s "
        f"peak RSS {rss / 1024:6.1f} MiB"
    )


def _stage_costs(capture: Path, frames: int) -> str:
    """Where one core's time goes, in µs per frame: what to optimise next, and whose.

    Each pass streams the file (nothing kept, as in the command) and adds one stage; a
    stage's cost is the difference between two passes.
    """
    keys = KeyRing.from_hex([NETWORK_KEY])

    def read(_: CaptureRecord) -> None:
        return None

    def unwrap(record: CaptureRecord) -> None:
        han_payload(record)

    def codec(record: CaptureRecord) -> None:
        payload = han_payload(record)  # the FCS is checked here
        assert payload is not None
        parse_frame(payload.body, keys, fcs=False)

    def passes(work: Callable[[CaptureRecord], None]) -> float:
        started = time.perf_counter()
        with open(capture, "rb") as stream:
            for record in capture_records(stream):
                work(record)
        return time.perf_counter() - started

    costs = [passes(read), passes(unwrap), passes(codec)]
    started = time.perf_counter()
    with open(capture, "rb") as stream:
        for frame in decode_records(capture_records(stream), keys):
            json_line(frame)
    costs.append(time.perf_counter() - started)
    stages = [costs[0], costs[1] - costs[0], costs[2] - costs[1], costs[3] - costs[2]]
    names = ("read", "unwrap (FCS check)", "codec parse_frame", "FrameRecord+JSON")
    return "one core, µs/frame: " + ", ".join(
        f"{name} {cost / frames * 1e6:.1f}" for name, cost in zip(names, stages, strict=True)
    )


def run() -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory(prefix="hanota-bench-") as folder:
        capture = Path(folder) / "transfer-1MiB.pcapng"
        started = time.perf_counter()
        frames = write_transfer_capture(capture)
        lines.append(
            f"capture: {frames} frames ({frames // 4} block request/response pairs + ACKs), "
            f"{capture.stat().st_size / 1e6:.1f} MB, built in {time.perf_counter() - started:.1f} s"
        )
        decode = [sys.executable, "-m", "hanota.cli", "decode", str(capture), "--key", NETWORK_KEY]
        cores = str(os.cpu_count() or 1)
        ours_json = {f"hanota decode --json --jobs {jobs}": [*decode, "--json", "--jobs", jobs]
                     for jobs in dict.fromkeys(("1", cores))}
        ours_text = {f"hanota decode --jobs {jobs} (text)": [*decode, "--jobs", jobs]
                     for jobs in dict.fromkeys(("1", cores))}
        commands = {**ours_json, **ours_text}
        tshark = shutil.which("tshark")
        keys = f'uat:zigbee_pc_keys:"{NETWORK_KEY}","Normal","bench"'
        if tshark is not None:
            fields_command = [tshark, "-n", "-r", str(capture), "-o", keys, "-T", "fields"]
            for field in TSHARK_FIELDS:
                fields_command += ["-e", field]
            commands["tshark -T fields (OTA fields)"] = fields_command
            commands["tshark (summary lines)"] = [tshark, "-n", "-r", str(capture), "-o", keys]
        lines.append(_check_equal_work(capture, frames, tshark, keys))
        measured = _best_of(commands)
        lines += [_line(name, frames, figures) for name, figures in measured.items()]
        lines.append(_stage_costs(capture, frames))
        if tshark is None:
            lines.append("tshark: not installed, no comparison")
            return lines
        best_json = min(measured[name][0] for name in ours_json)
        best_text = min(measured[name][0] for name in ours_text)
        fields = measured["tshark -T fields (OTA fields)"][0]
        summary = measured["tshark (summary lines)"][0]
        lines.append(
            f"ratio ours/tshark (frames/s, our best --jobs): {fields / best_json:.2f} for "
            "--json against -T fields (equal work: decrypt every frame, print every OTA "
            f"field); {summary / best_text:.2f} for text against tshark's summary lines "
            "(tshark then skips building the field tree)"
        )
    return lines
