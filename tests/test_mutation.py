"""``make mutation`` (selftest/mutation.py): a profile counts as detected only when its own
requirement FAILs and nothing else does; the seed check sees any verdict that moves."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hanota.selftest import campaigns, mutation
from hanota.selftest.suite import SuiteRun

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


# ---- the campaigns over the imperfect HAN (selftest/campaigns.py) -------------------------

def _scenario(test: str, verdict: str, reason: str = "") -> dict:
    return {"scenario": f"features/test_conformance.py::{test}", "requirements": [],
            "verdict": verdict, "reason": reason}


def _suite(*scenarios: dict) -> SuiteRun:
    return SuiteRun({s["scenario"]: s["verdict"] for s in scenarios}, list(scenarios), 0, "")


NOTIFY_1 = campaigns.SCENARIO_IDS["NOTIFY-1/chf/upgrade"]
FRAG_1 = campaigns.SCENARIO_IDS["FRAG-1/device/upgrade"]
VER_1 = campaigns.SCENARIO_IDS["VER-1/chf/upgrade"]


def test_a_rate_tally_counts_what_stays_pass_and_names_inconclusive_reasons() -> None:
    passing = {f"features/test_conformance.py::{t}" for t in (NOTIFY_1, FRAG_1, VER_1)}
    tally = campaigns.RateTally(0.05)
    for seed, frag in enumerate(("INCONCLUSIVE", "FAIL")):
        tally.add(_suite(_scenario(NOTIFY_1, "PASS"),
                         _scenario(FRAG_1, frag, f"FRAG-1: gap at offset {seed * 64}\n frame 9"),
                         _scenario(VER_1, "INCONCLUSIVE", "INCONCLUSIVE: no read seen")),
                  passing, campaigns.short_names(), seed)
    lines = tally.lines()
    assert lines[0].startswith("miss 5%: 2 runs; of 6 verdicts PASS with a perfect sniffer, "
                               "2 stay PASS (33.3 %), 3 INCONCLUSIVE, 1 FAIL, 0 ERROR")
    assert "    INCONCLUSIVE   2x VER-1/chf/upgrade: INCONCLUSIVE: no read seen" in lines
    assert "    FAIL    1x FRAG-1/device/upgrade: FRAG-#: gap at offset #" in lines
    assert not tally.clean
    empty = campaigns.RateTally(0.01)
    empty.add(SuiteRun({}, [], 4, "boom"), passing, {}, 3)
    assert not empty.clean and "seed 3: no verdicts (pytest exit 4)" in empty.lines()[-1]


def test_a_variant_comparison_accepts_only_the_differences_a_rule_explains() -> None:
    names = campaigns.short_names()
    plain = _suite(_scenario(NOTIFY_1, "PASS"), _scenario(FRAG_1, "PASS"))
    notify_fails = _suite(_scenario(NOTIFY_1, "FAIL", "NOTIFY-1: must be unicast"),
                          _scenario(FRAG_1, "PASS"))
    lines, ok = campaigns.compare(plain, notify_fails, "broadcast-notify", names)
    assert ok and lines == ["    NOTIFY-1/chf/upgrade: PASS -> FAIL (expected: NOTIFY-1 "
                            "requires a unicast Image Notify to the target) NOTIFY-#: must "
                            "be unicast"]
    lines, ok = campaigns.compare(plain, notify_fails, "routed", names)
    assert not ok and "(UNEXPECTED)" in lines[0]
    assert campaigns.compare(plain, plain, "routed", names) == ([], True)
    lines, ok = campaigns.compare(plain, plain, "broadcast-notify", names)
    assert not ok and "PASS -> PASS (MISSED, expected FAIL: NOTIFY-1 requires" in lines[0]


def test_a_variant_may_allow_several_verdicts_where_the_situation_decides() -> None:
    names = campaigns.short_names()
    frag_6 = campaigns.SCENARIO_IDS["FRAG-6/chf/upgrade"]
    plain = _suite(_scenario(frag_6, "PASS"))
    no_read = _suite(_scenario(frag_6, "INCONCLUSIVE", "INCONCLUSIVE: no meter read"))
    assert campaigns.compare(plain, plain, "rejoin", names) == ([], True)
    lines, ok = campaigns.compare(plain, no_read, "rejoin", names)
    assert ok and "PASS -> INCONCLUSIVE (expected: FRAG-6 needs a meter read" in lines[0]
    failed = _suite(_scenario(frag_6, "FAIL", "FRAG-6: unanswered"))
    lines, ok = campaigns.compare(plain, failed, "rejoin", names)
    assert not ok and "(MISSED, expected PASS or INCONCLUSIVE" in lines[0]


def test_the_page_request_variant_runs_with_a_dut_that_claims_page_requests(
        tmp_path: Path) -> None:
    path = campaigns.variant_dut(tmp_path, SMALL_DUT, "page-request")
    assert path is not None and tomllib.loads(path.read_text())["pics"]["image_page_request"]
    assert campaigns.variant_dut(tmp_path, SMALL_DUT, "routed") == SMALL_DUT


@pytest.mark.slow
def test_sniffer_campaign_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    code = mutation.main(["--dut", str(SMALL_DUT), "--campaign", "sniffer", "--seeds", "1",
                          "--rates", "0.05"])
    out = capsys.readouterr().out
    assert "sniffer campaign: 56 scenarios" in out
    assert "miss 5%: 1 runs; of " in out and "stay PASS" in out
    assert code == (0 if "FAIL/ERROR: 0 (none)" in out else 1)


@pytest.mark.slow
def test_variant_comparison_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    mutation.main(["--dut", str(SMALL_DUT), "--campaign", "variants",
                   "--variant", "broadcast-notify"])
    out = capsys.readouterr().out
    assert "broadcast-notify: " in out
    assert "NOTIFY-1/chf/upgrade: PASS -> FAIL (expected: NOTIFY-1 requires a unicast" in out


@pytest.mark.slow
def test_imperfect_campaign_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    """The page-request HAN under the three imperfect sniffers: the campaign that found
    FRAG-1's false FAIL on a page whose responses the sniffer missed."""
    code = mutation.main(["--dut", str(SMALL_DUT), "--campaign", "imperfect",
                          "--variant", "page-request", "--seeds", "1"])
    out = capsys.readouterr().out
    assert "imperfect campaign: 3 runs (1 variants x 3 sniffers x 1 seeds)" in out
    assert "no FAIL/ERROR but those declared" in out and code == 0


@pytest.mark.slow
def test_profiles_on_a_variant_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    """Two profiles on the rogue-spoofs-chf HAN: obeys-cad-responses caught (it once
    passed, the rogue answering at the CHF's address), answers-cad-notify declared."""
    code = mutation.main(["--dut", str(SMALL_DUT), "--campaign", "profiles",
                          "--variant", "rogue-spoofs-chf", "--profile", "obeys-cad-responses",
                          "--profile", "answers-cad-notify"])
    out = capsys.readouterr().out
    assert "rogue-spoofs-chf: answers-cad-notify (BAN-1) uncaught, as declared" in out
    assert "rogue-spoofs-chf: 1/2 profiles caught exactly" in out and code == 0
