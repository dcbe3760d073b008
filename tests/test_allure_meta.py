"""The run-level Allure files (hanota.steps.allure_meta): categories that sort verdict reasons the
same way in Allure 2 (Java, whole-message match) and Allure 3 (JavaScript, in Node.js),
the properties escaping, the suite version, and the run metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hanota.steps.allure_meta import (
    ALLURE_STATUS,
    CATEGORIES,
    categories_json,
    properties,
    run_metrics,
    suite_version,
    verdict_of,
)

ROOT = Path(__file__).resolve().parents[1]

# (Allure status, status message as allure-pytest writes it) -> the category expected
MESSAGES = [
    ("skipped", "Skipped: INCONCLUSIVE: situation hw-mismatch not recorded in the capture set",
     "INCONCLUSIVE: situation not recorded"),
    ("skipped", "Skipped: INCONCLUSIVE: live source ended (end of stream); 12 frames seen",
     "INCONCLUSIVE: sniffer gap or capture cut short"),
    ("skipped", "Skipped: INCONCLUSIVE: no further evidence within 10 s (evidence_timeout_s) "
     "from zep://127.0.0.1:17754; 40 frames seen",
     "INCONCLUSIVE: sniffer gap or capture cut short"),
    ("skipped", "Skipped: INCONCLUSIVE: FRAG-2: sniffer gap at frames 10-12",
     "INCONCLUSIVE: sniffer gap or capture cut short"),
    ("skipped", "Skipped: INCONCLUSIVE: NOTIFY-1: no image_notify from chf within 30 s after "
     "frame 12, but the sniffer may have missed it: frames 14-15 did not decode",
     "INCONCLUSIVE: sniffer gap or capture cut short"),
    ("skipped", "Skipped: INCONCLUSIVE: VER-1: no read, but no frame of the trace decodes "
     "beyond its MAC header: the capture does not show the HAN",
     "INCONCLUSIVE: sniffer gap or capture cut short"),
    ("skipped", "Skipped: INCONCLUSIVE: no CHF certificate was given: the signatures cannot "
     "be checked", "INCONCLUSIVE: no certificate"),
    ("skipped", "Skipped: INCONCLUSIVE: VER-6: no certificate for the CHF",
     "INCONCLUSIVE: no certificate"),
    ("skipped", "Skipped: INCONCLUSIVE: the trace holds no GBCS messages after the event; "
     "CS08 alert 0x8F8B after the read-back cannot be judged",
     "INCONCLUSIVE: no GBCS messages"),
    ("skipped", "Skipped: INCONCLUSIVE: the trace holds no block transfer to hcalcs",
     "INCONCLUSIVE: the trace does not show the situation"),
    ("skipped", "INCONCLUSIVE: CONC-2: the trace holds no alert for hcalcs: alerts to both "
     "requesters are needed", "INCONCLUSIVE: the trace does not show the situation"),
    ("skipped", "Skipped: NOT APPLICABLE: the DUT's role is device; this scenario judges the "
     "chf side", "NOT APPLICABLE: the other side is under test"),
    ("skipped", "Skipped: NOT APPLICABLE: BAN-4: the PICS claims no combined PPMID/CAD "
     "internet update path", "NOT APPLICABLE: not claimed in the PICS"),
    ("failed", "hanota.verify.verdicts.Violation: FRAG-1: ppmid asks for offset 16448 but has only "
     "received up to 16384: a gap\n  frame 1039: t=1767225667.362 ppmid(0x4A31)→chf(0x0000)",
     "FAIL: rule broken"),
    ("broken", "ValueError: frame 12: APS: bad frame control", "ERROR: could not be judged"),
    ("skipped", "Skipped: tshark is not installed", "ERROR: skipped without a verdict"),
]


def _first_match(status: str, message: str, rules: list[dict]) -> str | None:
    """Allure 2's reading: the first rule whose status matches and whose regex matches the
    WHOLE message (Java's ``Pattern.matches``)."""
    for rule in rules:
        if status in rule["matchedStatuses"] and re.fullmatch(rule["messageRegex"], message):
            return str(rule["name"])
    return None


@pytest.mark.parametrize(("status", "message", "expected"), MESSAGES)
def test_a_reason_falls_into_its_category(status: str, message: str, expected: str) -> None:
    assert _first_match(status, message, categories_json()) == expected


def test_every_category_is_reachable_and_every_verdict_has_a_catch_all() -> None:
    assert {expected for _, _, expected in MESSAGES} == {c.name for c in CATEGORIES}
    for verdict, status in ALLURE_STATUS.items():
        of_verdict = [c for c in CATEGORIES if c.verdict == verdict and c.allure_status == status]
        assert of_verdict[-1].starts == ()


def test_a_pass_belongs_to_no_category() -> None:
    assert _first_match("passed", "", categories_json()) is None


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_sorts_the_reasons_as_python_does() -> None:
    """Allure 3 runs the same regexes in JavaScript (first rule whose regex matches)."""
    script = """
const [rules, cases] = JSON.parse(require("fs").readFileSync(0, "utf-8"));
console.log(JSON.stringify(cases.map(([status, message]) => {
  const rule = rules.find((r) => r.matchedStatuses.includes(status)
                                 && new RegExp(r.messageRegex).test(message));
  return rule ? rule.name : null;
})));
"""
    cases = [[status, message] for status, message, _ in MESSAGES]
    done = subprocess.run(["node", "-e", script], input=json.dumps([categories_json(), cases]),
                          capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == [expected for _, _, expected in MESSAGES]


def test_properties_escape_separators_and_non_ascii() -> None:
    text = properties({"DUT": "ppmid: 0x1 = a", "target name": "pcap · x\\y", " lead": " v"})
    assert text == ("DUT=ppmid\\: 0x1 \\= a\n"
                    "target\\ name=pcap \\u00b7 x\\\\y\n"
                    "\\ lead=\\ v\n")
    assert text.isascii()


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not run from a git clone")
def test_the_suite_version_names_the_commit() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+\S* \(commit [0-9a-f]{12}(-dirty)?\)", suite_version())


def _result(directory: Path, name: str, status: str, start: int, message: str = "") -> None:
    result = {"name": name, "status": status, "start": start,
              "statusDetails": {"message": message} if message else {}}
    (directory / f"{name}-result.json").write_text(json.dumps(result))


def test_run_metrics_count_this_sessions_verdicts(tmp_path: Path) -> None:
    _result(tmp_path, "old", "failed", 500)  # an earlier session's result: not counted
    _result(tmp_path, "a", "passed", 1000)
    _result(tmp_path, "b", "skipped", 1001, "Skipped: INCONCLUSIVE: no trace")
    _result(tmp_path, "c", "skipped", 1002, "Skipped: NOT APPLICABLE: role")
    _result(tmp_path, "d", "broken", 1003, "ValueError: x")
    _result(tmp_path, "e", "skipped", 1004, "Skipped: tshark is not installed")
    metrics = {m["key"]: m for m in run_metrics(tmp_path, 1000, 3500)}
    assert {key: m["value"] for key, m in metrics.items()} == {
        "verdicts.pass": 1, "verdicts.fail": 0, "verdicts.error": 2,
        "verdicts.inconclusive": 1, "verdicts.not_applicable": 1, "run.time": 2.5}
    assert metrics["verdicts.inconclusive"]["better"] == "lower"
    assert all(m["start"] == 1000 and m["stop"] == 3500 for m in metrics.values())


def test_verdict_of_reads_the_skip_reason() -> None:
    assert verdict_of({"status": "skipped", "statusDetails": {
        "message": "Skipped: INCONCLUSIVE: x"}}) == "INCONCLUSIVE"
    assert verdict_of({"status": "skipped", "statusDetails": {
        "message": "NOT APPLICABLE: role"}}) == "NOT APPLICABLE"
    assert verdict_of({"status": "skipped"}) == "ERROR"  # a skip without a verdict
    assert verdict_of({"status": "failed"}) == "FAIL"
