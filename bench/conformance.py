"""Conformance benchmark: the wall time of ``make conformance`` against its 60 s target.

Why this figure: ``make conformance`` is the first command a new user runs, and a suite
that takes minutes is run less often. It is run here the way the Makefile runs it (the
same pytest command, as a subprocess, Allure results on), into a temporary directory so
``out/`` is left alone; a second run without Allure shows what the per-scenario
attachments (capture slices, sequence charts, download plots) cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TARGET_S = 60.0
ROOT = Path(__file__).resolve().parents[1]


def _suite(out: Path, allure: bool, *extra: str) -> tuple[float, int, Counter[str]]:
    """Wall time, pytest's exit code and the verdict counts of one suite run (``extra``:
    more pytest options, e.g. ``-n 2``)."""
    command = [sys.executable, "-m", "pytest", "-q", "-rfE", "features/",
               "-p", "hanota.steps.plugin", "--target", "emulator", "--out", str(out), *extra]
    if allure:
        command += ["--alluredir", str(out / "allure-results"), "--clean-alluredir"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    verdicts_file = out / "verdicts.json"
    if not verdicts_file.exists():
        raise RuntimeError(f"the suite wrote no verdicts (exit {done.returncode}): "
                           f"{done.stdout[-400:]}{done.stderr[-400:]}")
    verdicts = Counter(row["verdict"] for row in
                       json.loads(verdicts_file.read_text())["scenarios"])
    return wall, done.returncode, verdicts


def _attachments(results: Path) -> tuple[Counter[str], int]:
    kinds: Counter[str] = Counter()
    size = 0
    for path in results.glob("*-attachment.*"):
        kinds[path.suffix.lstrip(".")] += 1
        size += path.stat().st_size
    return kinds, size


def run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="hanota-bench-") as tmp:
        out = Path(tmp)
        wall, code, verdicts = _suite(out / "with", allure=True)
        kinds, size = _attachments(out / "with" / "allure-results")
        bare, _, _ = _suite(out / "without", allure=False)
    verdict = "within" if wall <= TARGET_S else "ABOVE"
    scenarios = sum(verdicts.values())
    counts = ", ".join(f"{n} {v.lower()}" for v, n in sorted(verdicts.items()))
    return [
        f"make conformance (emulator, Allure on): {wall:.1f} s wall for {scenarios} scenarios "
        f"({verdict} the {TARGET_S:.0f} s target, {os.cpu_count()} CPUs, pytest exit {code})",
        f"verdicts: {counts}",
        f"without Allure: {bare:.1f} s; attachments cost {wall - bare:.1f} s: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        + f", {size / 1e6:.1f} MB",
    ]
