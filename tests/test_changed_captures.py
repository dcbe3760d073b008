"""The reference captures of conformant implementations, changed the way real captures
differ (issue 9's goal): no FAIL, no ERROR, whatever the sniffer missed or mangled.

Every check of the suite (``judge_all``) runs on each changed capture of each of the 13
conformant exchanges in ``pcaps/``. A verdict may fall from PASS to INCONCLUSIVE (the
evidence is gone); it may never become FAIL. The changes are seeded, so a failure here
names a reproducible capture.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import capture_edits as edits
import pytest
from hanota.dut.description import load_dut
from hanota.targets.replay import load_trace
from hanota.targets.wan_input import read_wan_inputs
from hanota.verify.trace import Trace
from judge_all import failures, judge_all

ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "pcaps"
MANIFEST = json.loads((PCAPS / "manifest.json").read_text())
CONFORMANT = [entry for entry in MANIFEST["captures"]
              if entry["profile"] is None and "cut" not in entry["file"]]

EDITS: dict[str, Callable[[edits.Records], edits.Records]] = {
    "sniffer misses 2 %": lambda r: edits.drop(r, 0.02, 1),
    "sniffer misses 10 %": lambda r: edits.drop(r, 0.10, 2),
    "bad FCS on 3 %": lambda r: edits.corrupt(r, 0.03, 3),
    "started a third in": lambda r: edits.start_at(r, 0.33),
    "stopped at two thirds": lambda r: edits.stop_at(r, 0.66),
    "garbage records": lambda r: edits.garbage(r, 40, 4),
    "a timestamp a year ahead": lambda r: edits.time_glitch(r, 5),
    "recorded twice in a row": edits.twice,
}


def _trace(entry: dict, capture: Path, *, timeless: bool = False) -> Trace:
    dut = load_dut(PCAPS / entry["dut"])
    images = [dut.images[name] for name in entry["images"]]
    trace = load_trace(dut, capture, held_images=images)
    for message in read_wan_inputs(PCAPS / entry["gbcs"]):
        trace.add_wan(message.data, None if timeless else message.time)
    return trace


@pytest.mark.parametrize("entry", CONFORMANT, ids=lambda e: e["exchange"])
def test_a_conformant_capture_changed_like_a_real_one_never_fails(entry, tmp_path):
    records = edits.read(PCAPS / entry["file"])
    base = judge_all(_trace(entry, PCAPS / entry["file"]))
    assert not failures(base), failures(base)
    for name, change in EDITS.items():
        capture = edits.write(tmp_path / f"{name}.pcapng", change(records))
        verdicts = judge_all(_trace(entry, capture))
        assert not failures(verdicts), f"{entry['exchange']}, {name}: {failures(verdicts)}"
        gained = [label for label, verdict in verdicts.items()
                  if verdict == "PASS" and base[label] != "PASS"]
        assert not gained, f"{name}: a change of the capture made these pass: {gained}"


@pytest.mark.parametrize("entry", CONFORMANT, ids=lambda e: e["exchange"])
def test_alerts_without_times_never_fail(entry):
    verdicts = judge_all(_trace(entry, PCAPS / entry["file"], timeless=True))
    assert not failures(verdicts), failures(verdicts)
