"""The reference captures in pcaps/: every one replayed with ``--target pcap`` gives, for
every scenario, the verdict its manifest declares (derived from selftest/refcaptures.py's
hand-written tables, never from a run), and none is missing.

Why: the replay path is what a test house uses on its own captures; these captures pin
its verdicts (a FAIL where a profile breaks its requirement, INCONCLUSIVE where a capture
stops early or lacks the exchange, never a PASS without evidence).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hanota.dut.description import load_dut
from hanota.emulators import PROFILES, SCENARIOS
from hanota.selftest import refcaptures
from hanota.selftest.refcaptures import (
    CUT_BEFORE_ACTIVATION,
    CUTS,
    PROFILE_CAPTURES,
    check_all,
    expected_verdicts,
    load_manifest,
)
from hanota.selftest.suite import run_suite
from hanota.targets.replay import load_trace

ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "pcaps"
MANIFEST = load_manifest(PCAPS)
BY_FILE = {entry["file"]: entry for entry in MANIFEST["captures"]}


@pytest.mark.slow
def test_every_reference_capture_replays_to_its_declared_verdicts(tmp_path: Path) -> None:
    """Every capture gives its declared verdicts (a profile's FAILs on its own
    requirement alone)."""
    mismatches, count = check_all(PCAPS, tmp_path, workers=max(2, os.cpu_count() or 2))
    assert count == len(MANIFEST["captures"])
    assert not mismatches, "\n" + "\n".join(mismatches)


def test_every_exchange_and_every_profile_has_a_reference_capture() -> None:
    conformant = {e["exchange"] for e in MANIFEST["captures"] if e["profile"] is None}
    assert conformant == set(SCENARIOS)
    profiled = {e["profile"]: e for e in MANIFEST["captures"] if e["profile"] is not None}
    assert set(profiled) == set(PROFILES), "a profile without a reference capture"
    assert set(PROFILE_CAPTURES) == set(PROFILES)
    for name, entry in profiled.items():
        assert entry["breaks"] == PROFILES[name].requirement
        failing = {short for short, verdict in entry["expected"].items() if verdict == "FAIL"}
        assert failing, f"{name}: no scenario expected to FAIL"
        assert {short.split("/")[0] for short in failing} == {PROFILES[name].requirement}
    for entry in MANIFEST["captures"]:
        assert (PCAPS / entry["file"]).stat().st_size > 0
        assert (PCAPS / entry["gbcs"]).exists()


def test_the_manifest_is_what_the_declared_tables_give() -> None:
    """Nobody edited a verdict into the manifest by hand (or let it go stale)."""
    for entry in MANIFEST["captures"]:
        dut = load_dut(PCAPS / entry["dut"])
        profile = entry["profile"]
        where = PROFILE_CAPTURES.get(profile) if profile else None
        stem = entry["file"].removesuffix(".pcapng")
        imperfect = refcaptures.IMPERFECT_CAPTURES.get(stem)
        inconclusive = where.inconclusive if where else (
            CUT_BEFORE_ACTIVATION if stem in CUTS
            else imperfect.inconclusive if imperfect else ())
        evidenced = where.evidenced if where else ()
        assert entry["expected"] == expected_verdicts(
            dut, entry["exchange"], profile, inconclusive, evidenced), entry["file"]
    assert set(MANIFEST["scenarios"]) == set(refcaptures.SCENARIO_IDS)


def test_a_capture_cut_before_activation_never_passes_activation_or_version() -> None:
    for name in CUTS:
        expected = BY_FILE[f"{name}.pcapng"]["expected"]
        after = {short: verdict for short, verdict in expected.items()
                 if short.startswith(("ACT-1", "ACT-2", "VER-1", "VER-2"))}
        assert after and set(after.values()) == {"INCONCLUSIVE"}, name
    whole = (PCAPS / "upgrade.pcapng").read_bytes()
    at_record = (PCAPS / "upgrade-cut-at-record.pcapng").read_bytes()
    mid_record = (PCAPS / "upgrade-cut-mid-record.pcapng").read_bytes()
    assert whole.startswith(mid_record) and mid_record.startswith(at_record)
    assert len(at_record) < len(mid_record) < len(whole)


def test_make_pcaps_reproduces_the_committed_captures(tmp_path: Path) -> None:
    """The committed bytes are what the emulator makes today: a change of the emulator
    that alters them must come with ``make pcaps`` (and a look at the manifest)."""
    for file in (refcaptures.DUT_FILE, refcaptures.VERSION_EVENT_DUT_FILE):
        (tmp_path / file).write_bytes((PCAPS / file).read_bytes())
    refcaptures.build(tmp_path)
    for entry in MANIFEST["captures"]:
        fresh, committed = tmp_path / entry["file"], PCAPS / entry["file"]
        assert fresh.read_bytes() == committed.read_bytes(), \
            f"{entry['file']} differs from a fresh `make pcaps`"
        # ECDSA signatures differ run to run: compare times and message lengths only.
        assert _gbcs_shape(tmp_path / entry["gbcs"]) == _gbcs_shape(PCAPS / entry["gbcs"]), \
            entry["gbcs"]
    assert load_manifest(tmp_path) == MANIFEST


def _gbcs_shape(path: Path) -> list[tuple[str, int]]:
    """Each message's time (empty for a file without times) and length."""
    lines = [line.split(" ", 1) for line in path.read_text().splitlines()
             if not line.startswith("#")]
    return [(parts[0], len(parts[1])) if len(parts) == 2 else ("", len(parts[0]))
            for parts in lines]


def test_a_capture_cut_mid_record_keeps_every_whole_record_before_the_cut() -> None:
    dut = load_dut(PCAPS / refcaptures.DUT_FILE)
    whole = load_trace(dut, PCAPS / "upgrade-cut-at-record.pcapng")
    cut = load_trace(dut, PCAPS / "upgrade-cut-mid-record.pcapng")
    assert len(cut.frames) == len(whole.frames) + 1
    assert not whole.decode_errors
    assert [frame.number for frame in cut.decode_errors] == [cut.frames[-1].number]
    assert "capture cut short" in (cut.frames[-1].error or "")


@pytest.mark.slow
def test_the_reference_captures_as_one_capture_set_cover_every_scenario(tmp_path: Path) -> None:
    """``pcaps/`` is a capture set (``situations.toml``): one replay judges every
    scenario on its own situation's capture; none is INCONCLUSIVE for want of it, and
    each gets the verdict its capture declares."""
    run = run_suite("pcap", out=tmp_path, certificate=ROOT / MANIFEST["certificate"],
                    extra=("--capture-set", str(PCAPS)))
    expected = refcaptures.capture_set_expected(MANIFEST)
    assert len(run.verdicts) == len(expected), run.output[-2000:]
    for name, verdict in expected.items():
        scenario = MANIFEST["scenarios"][name]
        assert run.verdicts.get(scenario) == verdict, name
    assert not [s for s in run.scenarios if "not recorded" in s["reason"]]
    assert {v for v in expected.values()} <= {"PASS", "NOT APPLICABLE"}
