"""``make mutation`` (verify/mutation.py): a profile counts as detected only when its own
requirement FAILs and nothing else does; the seed check sees any verdict that moves."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from verify import mutation
from verify.suite import SuiteRun

ROOT = Path(__file__).resolve().parents[1]
SMALL_DUT = ROOT / "pcaps" / "dut.toml"


def _run(*verdicts: tuple[str, str]) -> SuiteRun:
    scenarios = [{"scenario": f"features/x.py::test_{i}", "requirements": [requirement],
                  "verdict": verdict} for i, (requirement, verdict) in enumerate(verdicts)]
    return SuiteRun({s["scenario"]: s["verdict"] for s in scenarios}, scenarios, 1, "")


def test_a_fail_of_the_profiles_requirement_alone_is_detected() -> None:
    result = mutation.judge("no-pacing", _run(("FRAG-3", "FAIL"), ("FRAG-1", "PASS")), 1.0)
    assert result.detected and not result.unexpected and result.ok
    assert "FRAG-3" in result.line() and "detected yes" in result.line()


def test_other_fails_and_errors_are_over_detection() -> None:
    result = mutation.judge("no-pacing", _run(("FRAG-3", "FAIL"), ("VER-1", "FAIL")), 1.0)
    assert result.detected and not result.ok
    assert result.unexpected == ["FAIL VER-1 test_1"]
    errored = mutation.judge("no-pacing", _run(("FRAG-3", "ERROR")), 1.0)
    assert not errored.detected and errored.unexpected == ["ERROR FRAG-3 test_0"]


def test_no_fail_is_undetected_and_no_verdicts_is_reported() -> None:
    assert not mutation.judge("no-pacing", _run(("FRAG-3", "PASS")), 1.0).detected
    empty = mutation.judge("no-pacing", SuiteRun({}, [], 4, "usage error"), 1.0)
    assert not empty.ok and "no verdicts (pytest exit 4)" in empty.unexpected[0]


def test_the_dut_variant_claims_the_optional_pics(tmp_path: Path) -> None:
    path = mutation.dut_variant(tmp_path, None, *mutation.PICS_FOR_PROFILE["silent-after-event"])
    assert tomllib.loads(path.read_text())["pics"]["version_event"] is True
    with pytest.raises(ValueError, match="no single line"):
        mutation.dut_variant(tmp_path, None, "no_such_key", "1")


def test_seed_report_names_a_verdict_that_moves() -> None:
    same = [{"a": "PASS", "b": "PASS"}, {"a": "PASS", "b": "PASS"}]
    lines, identical = mutation.seeds_report(same, {"x", "y"}, 1.0)
    assert identical and "2 distinct upgrade-lossy captures: verdicts IDENTICAL" in lines[-1]
    moved = [{"a": "PASS"}, {"a": "FAIL"}]
    lines, identical = mutation.seeds_report(moved, {"x"}, 1.0)
    assert not identical and lines[0] == "seed 1: a: PASS with seed 0, FAIL here"


@pytest.mark.slow
def test_mutation_run_detects_a_profile_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    code = mutation.main(["--dut", str(SMALL_DUT), "--profile", "never-reads-back",
                          "--profile", "silent-after-event"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "detected 2/2 (100 %)" in out
    assert "silent-after-event" in out and "VER-5" in out
