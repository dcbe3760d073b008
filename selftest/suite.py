"""Run the conformance suite as a function: (target, DUT, profile) -> {scenario: verdict}.

Why a subprocess: each run is a fresh pytest session (its own emulator cache, its own
out directory), so callers such as the mutation run, the reference-capture builder or
the project's own tests can run many in a row or in parallel without state leaking.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class SuiteRun:
    """What one run returned: verdict per scenario id, the raw records, pytest's code."""

    verdicts: dict[str, str]
    scenarios: list[dict]
    exit_code: int
    output: str

    def by_verdict(self, verdict: str) -> list[dict]:
        return [s for s in self.scenarios if s["verdict"] == verdict]


def run_suite(
    target: str = "emulator", *, dut: Path | None = None, profile: str | None = None,
    out: Path, capture: Path | None = None, alerts: Path | None = None,
    certificate: Path | None = None, seed: int = 0, select: str | None = None,
    extra: tuple[str, ...] = (), timeout: float = 1800.0,
) -> SuiteRun:
    """Run features/ under ``hanota.steps.plugin`` and read back ``<out>/verdicts.json``.

    ``select`` is a pytest ``-m`` expression over the tags (``"FRAG-1 and device"``).
    """
    command = [sys.executable, "-m", "pytest", "-q", "-p", "hanota.steps.plugin",
               str(ROOT / "features"), "--target", target, "--out", str(out),
               "--seed", str(seed)]
    for flag, value in (("--dut", dut), ("--dut-profile", profile), ("--pcap", capture),
                        ("--alerts", alerts), ("--chf-cert", certificate), ("-m", select)):
        if value is not None:
            command += [flag, str(value)]
    command += list(extra)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False)
    verdicts_file = Path(out) / "verdicts.json"
    scenarios = json.loads(verdicts_file.read_text())["scenarios"] if verdicts_file.exists() \
        else []
    return SuiteRun({s["scenario"]: s["verdict"] for s in scenarios}, scenarios,
                    done.returncode, done.stdout + done.stderr)
