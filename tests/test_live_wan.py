"""End to end: the live target judges the WAN rules from DUIS POSTs beside HAN over ZEP,
with the emulator target's verdicts.

The test house's set-up in miniature: ``hanota emulate --zep --duis-post`` plays the HAN
(frames as ZEP, as a remote sniffer sends them) and the DCC (each GBCS message POSTed as
DUIS, as DCC Boxed delivers to a user's endpoint); the suite runs ``--target live
--source zep://… --wan-source http://…``. A live trace holds one exchange, so the
exchanges that judge VER-2, VER-3, VER-4, VER-6 and CONC-2 run one per live run:
two-devices (VER-2, VER-3, VER-6, CONC-2) and read-version (VER-4). The verdicts of the
scenarios of the situation each run showed must equal the emulator target's (the others
stay INCONCLUSIVE); a CHF fault (alerts to the wrong
supplier) must FAIL CONC-2 live as it does on the emulator; without DUIS the WAN rules
are INCONCLUSIVE and say "no DUIS alert within N s". The live runs overlap (they mostly
wait out their evidence window) and the emulator target runs meanwhile. Everything binds
to 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from hanota.selftest.suite import run_suite
from hanota.verify.report import ScenarioVerdict, requirement_verdicts

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
CERTIFICATE = ROOT / "emulators" / "keys" / "chf-test-ds.pem"
WAN_RULES = ("VER-2", "VER-3", "VER-4", "VER-6", "CONC-2")
SELECT = " or ".join(WAN_RULES)
EVIDENCE_S = 20
DUIS_LATENCY_S = 3
SPEED = 400  # virtual seconds per wall second
WAIT_S = 180.0


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveRun:
    """One live suite run (a child pytest) fed by one emulator run."""

    exchange: str
    out: Path
    duis: bool = True
    profile: str | None = None
    select: str = SELECT

    def start(self) -> None:
        self.zep = _free_port(socket.SOCK_DGRAM)
        self.http = _free_port(socket.SOCK_STREAM)
        self.url = f"http://127.0.0.1:{self.http}/smartdcc/duis"
        self.suite = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "hanota.steps.plugin",
             str(ROOT / "features"), "--target", "live",
             "--source", f"zep://127.0.0.1:{self.zep}", "--wan-source", self.url,
             "--chf-cert", str(CERTIFICATE), "--evidence-timeout", str(EVIDENCE_S),
             "--evidence-window", "run", "--duis-latency", str(DUIS_LATENCY_S),
             "--out", str(self.out), "-m", self.select],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait_listening(self) -> None:
        """The receiver answers once the live target is up (it starts after the ZEP
        socket is bound)."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            assert self.suite.poll() is None, self.suite.communicate()[0][-3000:]
            try:
                socket.create_connection(("127.0.0.1", self.http), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"live suite for {self.exchange} never listened")

    def emulate(self) -> str:
        command = [sys.executable, "-m", "hanota.cli", "emulate", "--scenario", self.exchange,
                   "--out", str(self.out / "emulated.pcapng"),
                   "--zep", f"127.0.0.1:{self.zep}", "--speed", str(SPEED)]
        if self.duis:
            command += ["--duis-post", self.url]
        if self.profile:
            command += ["--profile", f"chf={self.profile}"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              timeout=WAIT_S, check=True)
        return done.stdout

    def finish(self) -> list[ScenarioVerdict]:
        output, _ = self.suite.communicate(timeout=WAIT_S)
        verdicts = self.out / "verdicts.json"
        assert verdicts.exists(), output[-3000:]
        self.output = output
        return [ScenarioVerdict(**s) for s in json.loads(verdicts.read_text())["scenarios"]]


def _by_requirement(results: list[ScenarioVerdict], requirements=WAN_RULES) -> dict[str, str]:
    table = requirement_verdicts(results)
    return {req: table[req]["verdict"] for req in requirements}


SITUATION_OF = {"two-devices": "two-devices", "read-version": "sr-11-2"}


def _judged_in(run: LiveRun) -> list[ScenarioVerdict]:
    """The scenarios of the situation the live window showed; the others must stay
    INCONCLUSIVE there (a live window holds one exchange)."""
    situation = SITUATION_OF[run.exchange]
    others = {r.verdict for r in run.results if r.situation != situation}
    assert others <= {"INCONCLUSIVE", "PASS", "N/A"}, run.output[-3000:]
    return [r for r in run.results if r.situation == situation]


FAULT = "alerts-wrong-supplier"
FAULT_RULES = ("VER-2", "VER-3", "VER-6", "CONC-2")


@pytest.fixture(scope="module")
def emulator_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future]:
    """The emulator target's runs (conformant, and with the CHF fault), in the
    background while the live runs wait out their windows."""
    pool = ThreadPoolExecutor(max_workers=2)
    futures = {
        "conformant": pool.submit(run_suite, "emulator", select=SELECT,
                                  out=tmp_path_factory.mktemp("emulator")),
        FAULT: pool.submit(run_suite, "emulator", profile=FAULT,
                           select=" or ".join(FAULT_RULES),
                           out=tmp_path_factory.mktemp("emulator-fault")),
    }
    pool.shutdown(wait=False)
    return futures


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory,
         emulator_verdicts: dict[str, Future]) -> dict[str, LiveRun]:
    """The live runs, each fed as soon as its receiver listens; they overlap while they
    wait out their evidence windows."""
    runs = {
        "two-devices": LiveRun("two-devices", tmp_path_factory.mktemp("live-two")),
        "read-version": LiveRun("read-version", tmp_path_factory.mktemp("live-read")),
        FAULT: LiveRun("two-devices", tmp_path_factory.mktemp("live-fault"), profile=FAULT),
        "no-duis": LiveRun("two-devices", tmp_path_factory.mktemp("live-silent"),
                           duis=False, select="VER-6 or CONC-2"),
    }
    for run in runs.values():  # each window starts with its run: fed at once, then left
        run.start()                # to wait while the next one starts
        run.wait_listening()
        posted = run.emulate()
        assert ("DUIS messages posted" in posted) == run.duis, posted
    for run in runs.values():
        run.results = run.finish()
    return runs


def test_live_wan_verdicts_equal_the_emulator_targets(
    runs: dict[str, LiveRun], emulator_verdicts: dict[str, Future],
) -> None:
    emulated = emulator_verdicts["conformant"].result(timeout=WAIT_S)
    assert emulated.exit_code == 0, emulated.output[-3000:]
    on_emulator = [ScenarioVerdict(**s) for s in emulated.scenarios]
    assert set(_by_requirement(on_emulator).values()) == {"PASS"}
    expected = {r.name: r.verdict for r in on_emulator}
    for exchange in ("two-devices", "read-version"):
        live = {r.name: r.verdict for r in _judged_in(runs[exchange])}
        assert live and live == {name: expected[name] for name in live}, \
            runs[exchange].output[-3000:]
    # each live run judged its own exchange on evidence: frames and WAN messages
    passed = {req for r in runs["two-devices"].results if r.verdict == "PASS"
              for req in r.requirements}
    assert passed == {"VER-2", "VER-3", "VER-6", "CONC-2"}
    sr112 = next(r for r in runs["read-version"].results if "VER-4" in r.requirements)
    assert sr112.verdict == "PASS" and sr112.frames and len(sr112.wan) == 4


def test_a_chf_fault_fails_live_as_on_the_emulator(
    runs: dict[str, LiveRun], emulator_verdicts: dict[str, Future],
) -> None:
    emulated = [ScenarioVerdict(**s) for s in emulator_verdicts[FAULT].result(timeout=WAIT_S)
                .scenarios]
    assert _by_requirement(emulated, FAULT_RULES) == {
        "VER-2": "PASS", "VER-3": "PASS", "VER-6": "PASS", "CONC-2": "FAIL"}
    expected = {r.name: r.verdict for r in emulated}
    live = _judged_in(runs[FAULT])
    assert {r.name: r.verdict for r in live} == {r.name: expected[r.name] for r in live}
    assert {req for r in live if r.verdict == "FAIL" for req in r.requirements} == {"CONC-2"}
    failed = next(r for r in runs[FAULT].results if "CONC-2" in r.requirements)
    assert "goes to" in failed.reason


def test_without_duis_the_wan_rules_are_inconclusive_and_say_why(
    runs: dict[str, LiveRun],
) -> None:
    results = runs["no-duis"].results
    assert results and {r.verdict for r in results} == {"INCONCLUSIVE"}
    for result in results:
        assert f"no DUIS alert within {DUIS_LATENCY_S} s at http://127.0.0.1:" in \
            result.reason, result.reason
