"""The whole suite, run as a test engineer runs it (pytest in a subprocess).

Conformant emulated HAN: everything passes on evidence. Fault profiles: exactly the
scenarios of the broken requirement fail. Role and PICS filters: NOT APPLICABLE. Replay of
one capture: what it does not hold is INCONCLUSIVE, never passed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hanota.selftest.suite import SuiteRun, run_suite
from hanota.verify.requirements import REQUIREMENTS

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DUT = (ROOT / "dut" / "default_dut.toml").read_text()


def _dut(tmp_path: Path, **changes: str) -> Path:
    """The default DUT description with ``key = value`` lines replaced."""
    text = DEFAULT_DUT
    for key, value in changes.items():
        text, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.MULTILINE)
        assert count == 1, key
    path = tmp_path / "dut.toml"
    path.write_text(text)
    return path


def _failing_requirements(run: SuiteRun) -> set[str]:
    return {req for s in run.scenarios if s["verdict"] in ("FAIL", "ERROR")
            for req in s["requirements"]}


@pytest.fixture(scope="module")
def conformant(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, Path]:
    out = tmp_path_factory.mktemp("conformant")
    return run_suite("emulator", out=out), out


def test_conformant_han_passes_every_applicable_scenario_on_evidence(conformant):
    run, out = conformant
    assert run.exit_code == 0, run.output[-2000:]
    assert not run.by_verdict("FAIL") and not run.by_verdict("ERROR")
    assert not run.by_verdict("INCONCLUSIVE"), run.by_verdict("INCONCLUSIVE")
    passed = run.by_verdict("PASS")
    assert len(passed) >= 50
    assert all(s["frames"] or s["wan"] for s in passed), "a pass without evidence"
    covered = {req for s in run.scenarios for req in s["requirements"]}
    assert covered == set(REQUIREMENTS)
    summary = (out / "summary.md").read_text()
    assert "| BAN-4 | local_upgrade_ban | **NOT APPLICABLE** |" in summary
    assert "per-requirement summary" in run.output and "summary.md" in run.output


def test_plain_pytest_features_gives_what_make_conformance_gives(conformant, tmp_path: Path):
    """``pytest features/`` as a pytest-bdd user types it (the plugin comes from
    features/conftest.py) against the ``conformant`` run, which is ``make conformance``'s
    command without Allure: the same verdict for every scenario, so the same counts."""
    recipe = (ROOT / "Makefile").read_text().split("\nconformance:", 1)[1].split("\n\n")[0]
    assert "pytest -q -rfE features/ -p hanota.steps.plugin --target emulator" in recipe
    run, _ = conformant
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "features/", "--out",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=1800, check=False)
    assert done.returncode == run.exit_code == 0, done.stdout[-2000:]
    plain = {s["scenario"]: s["verdict"]
             for s in json.loads((tmp_path / "verdicts.json").read_text())["scenarios"]}
    assert Counter(plain.values()) == Counter(run.verdicts.values())
    assert plain == run.verdicts


@pytest.mark.parametrize("profile, requirement, exchange, pics", [
    ("no-pacing", "FRAG-3", "upgrade", {}),
    ("unsigned-alert", "VER-6", "upgrade", {}),
    ("never-notifies", "NOTIFY-1", "upgrade", {}),
    ("silent-after-event", "VER-5", "version-event", {"version_event": "true"}),
])
def test_a_fault_profile_fails_exactly_its_requirement(tmp_path: Path, profile, requirement,
                                                       exchange, pics):
    dut = _dut(tmp_path, **pics) if pics else None
    run = run_suite("emulator", dut=dut, profile=profile, out=tmp_path / "out")
    assert run.exit_code == 1
    assert _failing_requirements(run) == {requirement}
    failure = next(s for s in run.scenarios if s["verdict"] == "FAIL")
    assert re.search(r"frame \d+:|WAN message \d+:", failure["reason"])
    capture = tmp_path / "out" / "captures" / f"{exchange}-{profile}.pcapng"
    replay = run_suite("pcap", dut=dut, capture=capture, alerts=capture.with_suffix(".gbcs.hex"),
                       certificate=ROOT / "emulators" / "keys" / "chf-test-ds.pem",
                       out=tmp_path / "replay")
    assert _failing_requirements(replay) == {requirement}, "the same bytes, the same verdict"


def test_role_device_makes_chf_scenarios_not_applicable(tmp_path: Path):
    dut = _dut(tmp_path, role='"device"')
    run = run_suite("emulator", dut=dut, out=tmp_path / "out",
                    select="NOTIFY-1 or NOTIFY-2 or SCOPE-2")
    by_role = {(s["role"], s["scenario"]): s for s in run.scenarios}
    chf = [s for (role, _), s in by_role.items() if role == "chf"]
    assert chf and all(s["verdict"] == "NOT APPLICABLE" and s["reason"].startswith(
        "NOT APPLICABLE") for s in chf)
    device = {name: s["verdict"] for (role, name), s in by_role.items() if role == "device"}
    assert any("ppmid" in name and verdict == "PASS" for name, verdict in device.items())
    assert any("hcalcs" in name and verdict == "NOT APPLICABLE"
               for name, verdict in device.items())


def test_pics_off_gives_not_applicable(tmp_path: Path):
    dut = _dut(tmp_path, large_image_process="false")
    run = run_suite("emulator", dut=dut, out=tmp_path / "out", select="FRAG-5")
    assert run.scenarios and {s["verdict"] for s in run.scenarios} == {"NOT APPLICABLE"}
    assert all("large_image_process" in s["reason"] for s in run.scenarios)


def test_replay_judges_only_what_the_capture_holds(conformant, tmp_path: Path):
    _, out = conformant
    capture = out / "captures" / "upgrade.pcapng"
    run = run_suite("pcap", capture=capture, alerts=capture.with_suffix(".gbcs.hex"),
                    certificate=ROOT / "emulators" / "keys" / "chf-test-ds.pem",
                    out=tmp_path, select="NOTIFY-2 or VER-4 or BAN-1 or VER-6 or FRAG-5")
    verdicts = {s["name"]: s for s in run.scenarios}
    assert verdicts["SR 11.2 reads the version on demand"]["verdict"] == "INCONCLUSIVE"
    assert verdicts["An Image Notify from a rogue node is ignored"]["verdict"] == \
        "INCONCLUSIVE"
    assert not run.by_verdict("FAIL") and not run.by_verdict("ERROR"), run.output[-2000:]
    assert all(s["reason"].startswith("INCONCLUSIVE") for s in run.by_verdict("INCONCLUSIVE"))
    assert any(s["verdict"] == "PASS" and "NOTIFY-2" in s["requirements"]
               for s in run.scenarios)
    assert any(s["verdict"] == "PASS" and "VER-6" in s["requirements"] for s in run.scenarios)


@pytest.mark.parametrize("exchange", ["upgrade-lossy", "rogue-cad"])
def test_a_conformant_capture_never_fails_any_scenario(conformant, tmp_path: Path, exchange):
    """Replayed against every scenario, a conformant capture gives pass, inconclusive or
    not applicable: a scenario whose exchange is absent must not turn into a FAIL."""
    _, out = conformant
    capture = out / "captures" / f"{exchange}.pcapng"
    run = run_suite("pcap", capture=capture, alerts=capture.with_suffix(".gbcs.hex"),
                    certificate=ROOT / "emulators" / "keys" / "chf-test-ds.pem", out=tmp_path)
    assert run.exit_code == 0, run.output[-2000:]
    assert run.by_verdict("PASS") and run.by_verdict("INCONCLUSIVE")
    assert not run.by_verdict("FAIL") and not run.by_verdict("ERROR")
