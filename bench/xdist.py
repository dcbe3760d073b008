"""pytest-xdist benchmark: ``make conformance``'s command with ``-n 0`` and with ``-n 2``.

Why measured: a campaign on one machine is sped up by running scenarios in worker
processes (``pytest features/ -n 2``), but each worker starts its own Python, imports
the suite and decodes the captures its scenarios need; whether two workers beat one
process depends on the exchanges (the 1 MiB upgrade dominates the emulator run, and is
emulated once per run: a worker that needs it while another writes it waits and reads
the capture) and on the cores free. Both runs are the same command, Allure results on,
into temporary directories; their verdicts must be equal.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bench.conformance import _suite

WORKERS = 2


def _verdicts(out: Path) -> dict[str, str]:
    scenarios = json.loads((out / "verdicts.json").read_text())["scenarios"]
    return {s["scenario"]: s["verdict"] for s in scenarios}


def run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="hanota-bench-xdist-") as tmp:
        one_out, many_out = Path(tmp) / "n0", Path(tmp) / f"n{WORKERS}"
        one, one_code, _ = _suite(one_out, True, "-n", "0")
        many, many_code, _ = _suite(many_out, True, "-n", str(WORKERS))
        same = _verdicts(one_out) == _verdicts(many_out)
        statement = (many_out / "conformance.html").stat().st_size
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return [
        f"make conformance's command, -n 0: {one:.1f} s wall (exit {one_code}); "
        f"-n {WORKERS}: {many:.1f} s wall (exit {many_code}); speed-up x{one / many:.2f} "
        f"({os.cpu_count()} CPUs, load average {load:.1f} at the end)",
        f"verdicts equal: {'yes' if same else 'NO'}; conformance.html of the -n {WORKERS} run: "
        f"{statement / 1e3:.0f} kB",
    ]
