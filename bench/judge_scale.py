"""Judge benchmark: the whole suite replayed on one capture of a 1 MiB upgrade, and on
that capture repeated 16 times (about a million frames, a day's soak of a busy HAN).

Why: every check must be linear in the trace (index once, walk once) and the trace's
memory per frame bounded, so a soak capture can be judged at all. The figures are the
time ratio for 16 times the frames (linear: about 16; the target is at most 20) and the
peak memory of the replaying process, with the bytes it costs per frame.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hanota.dut.description import load_dut
from hanota.emulators import emulate
from hanota.layers.capture import (
    LINKTYPE_IEEE802_15_4_WITHFCS,
    CaptureParser,
    pcapng_header,
    pcapng_packet,
)
from hanota.targets.replay import write_gbcs_hex

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 16
PAUSE_S = 600.0
"""Quiet air between two copies of the upgrade (they follow on in time, in one file)."""
LIMIT = 20.0
_MEASURED = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(done.returncode, peak)
"""


def _repeat(source: Path, target: Path, times: int) -> int:
    """``source`` written ``times`` times in a row, each copy shifted after the last;
    returns the number of frames written. Streamed record by record."""
    parser = CaptureParser()
    records = parser.feed(source.read_bytes())
    parser.close()
    span = records[-1].time - records[0].time + PAUSE_S
    with target.open("wb") as out:
        out.write(pcapng_header(LINKTYPE_IEEE802_15_4_WITHFCS))
        for copy in range(times):
            shift = copy * span
            for record in records:
                out.write(pcapng_packet(record.time + shift, record.data))
    return len(records) * times


def _replay(capture: Path, alerts: Path, out: Path) -> tuple[float, int, dict[str, int]]:
    """Wall time, peak RSS (KiB) and verdict counts of the suite replaying ``capture``."""
    command = [sys.executable, "-c", _MEASURED, sys.executable, "-m", "pytest", "-q",
               "features/", "-p", "hanota.steps.plugin", "--target", "pcap", "--pcap", str(capture),
               "--alerts", str(alerts), "--images", "ppmid-large", "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    peak = int(done.stdout.split()[-1])
    counts: dict[str, int] = {}
    for row in json.loads((out / "verdicts.json").read_text())["scenarios"]:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    return wall, peak, counts


def run() -> list[str]:
    dut = load_dut()
    lines = []
    with tempfile.TemporaryDirectory(prefix="hanota-judge-") as tmp:
        folder = Path(tmp)
        single = folder / "upgrade-large.pcapng"
        with single.open("wb") as stream:
            result = emulate(dut, "upgrade-large", stream)
        alerts = folder / "alerts.hex"
        write_gbcs_hex(alerts, [(m.time, m.data) for m in result.wan])
        repeated = folder / f"upgrade-large-x{REPEATS}.pcapng"
        frames = _repeat(single, repeated, REPEATS)
        one_wall, one_peak, one_counts = _replay(single, alerts, folder / "one")
        many_wall, many_peak, many_counts = _replay(repeated, alerts, folder / "many")
    ratio = many_wall / one_wall
    per_frame = (many_peak - one_peak) * 1024 / (frames - result.frames)
    verdict = "linear" if ratio <= LIMIT else "ABOVE the limit"
    lines.append(f"one capture: {result.frames:,} frames, suite replay {one_wall:.1f} s, "
                 f"peak {one_peak / 1024:.0f} MiB; {one_counts}")
    lines.append(f"x{REPEATS}: {frames:,} frames, suite replay {many_wall:.1f} s, "
                 f"peak {many_peak / 1024:.0f} MiB; {many_counts}")
    lines.append(f"time ratio {ratio:.1f} for {REPEATS}x the frames ({verdict}: at most "
                 f"{LIMIT:g}); memory {per_frame:.0f} bytes per frame")
    return lines
