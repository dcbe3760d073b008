"""Emulator benchmark: the 1 MiB ``upgrade-large`` run in virtual time.

Why this figure: it is the largest exchange the suite runs (about 65,000 frames, each
built, encrypted, written to the capture, decrypted and parsed), so it bounds how long
the suite's conformance run takes against the emulated HAN.
"""

from __future__ import annotations

import io
import time

from hanota.dut.description import load_dut
from hanota.emulators import emulate

TARGET_S = 5.0


def run() -> list[str]:
    dut = load_dut()
    capture = io.BytesIO()
    started = time.perf_counter()
    result = emulate(dut, "upgrade-large", capture)
    wall = time.perf_counter() - started
    verdict = "within" if wall <= TARGET_S else "ABOVE"
    return [
        f"upgrade-large (1 MiB): {wall:.2f} s wall for {result.virtual_seconds:.0f} s virtual "
        f"({verdict} the {TARGET_S:.0f} s target)",
        f"{result.frames} frames, {result.frames / wall:,.0f} frames/s, "
        f"capture {capture.tell() / 1e6:.1f} MB",
    ]
