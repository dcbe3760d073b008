"""The conformance statement and the run header: what a test house hands over.

A replay of a reference capture (``--target pcap``, about 3 s) with a DUT description
that names both sides writes ``conformance.html`` / ``.md`` and ``verdicts.json``'s
``run``: the identity, the PICS and PIXIT, the target, the suite's version, the tshark
version, every evidence file with its SHA-256 (checked against hashlib here), and per
requirement the verdict, the scenarios, the evidence or reason, a picture and the
interpretations. Under pytest-xdist (``-n 2``) the same files come out. The statement
itself is also rendered from hand-made verdicts (no suite run) to check the figures are
embedded once and the text is escaped. The browser checks are in test_campaign.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hanota.dut.description import Dut, Pics, Pixit, load_dut
from hanota.dut.situations import BY_ID
from hanota.steps.run_results import dut_facts, interpretations
from hanota.targets.base import TargetOptions, evidence_files, make_target
from hanota.targets.live import LiveTarget
from hanota.verify.report import ScenarioVerdict
from hanota.verify.requirements import INTERPRETATIONS, REQUIREMENTS

from hanota.statement import Statement, write_statement

ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "pcaps"
DOMAIN_REQUIREMENTS = Path("/work/shared/domain/requirements.md")
IDENTITY = '''manufacturer = "Acme Meters"
model = "PPMID-7"
firmware_version = "1.2.3"
'''
PEER = '''
[dut.peer]
manufacturer = "Hub & Co"
model = "CH <one>"
firmware_version = "4.5"
'''


def described_dut(folder: Path, peer: str = PEER) -> Path:
    """pcaps/dut.toml with identity keys in [dut] and a [dut.peer] table."""
    text = (PCAPS / "dut.toml").read_text()
    anchor = 'node = "ppmid"           # the device node that device-side scenarios judge\n'
    assert anchor in text
    path = folder / "dut.toml"
    path.write_text(text.replace(anchor, anchor + IDENTITY, 1) + peer)
    return path


def replay(out: Path, dut: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-q", "features/", "-p", "hanota.steps.plugin",
               "--target", "pcap", "--dut", str(dut), "--pcap", str(PCAPS / "upgrade.pcapng"),
               "--alerts", str(PCAPS / "upgrade.gbcs.hex"), "--images", "ppmid",
               "--chf-cert", str(ROOT / "emulators" / "keys" / "chf-test-ds.pem"),
               "--out", str(out), *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("statement")
    done = replay(folder / "out", described_dut(folder), "--alluredir",
                  str(folder / "allure-results"))
    assert f"statement: {folder / 'out' / 'conformance.html'}" in done.stdout
    return folder / "out"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_verdicts_json_carries_the_run_header(run_dir: Path) -> None:
    data = json.loads((run_dir / "verdicts.json").read_text())
    assert isinstance(data["header"], str) and len(data["scenarios"]) == 56  # as before
    run = data["run"]
    assert run["suite"]["name"] == "hanota" and re.match(r"\d+\.\d+\.\d+", run["suite"]["version"])
    assert run["target"]["name"] == "pcap"
    assert run["target"]["description"].startswith("replay of ")
    assert run["device"] == {"manufacturer": "Acme Meters", "model": "PPMID-7",
                             "firmware_version": "1.2.3", "hardware_version": "not stated",
                             "node": "ppmid", "kind": "ppmid", "eui64": "00DB1234567890A4",
                             "under_test": True}
    assert (run["chf"]["model"], run["chf"]["eui64"]) == ("CH <one>", "00DB1234567890A2")
    assert [(e["file"], e["sha256"], e["bytes"]) for e in run["evidence"]] == [
        (name, sha256(PCAPS / name), (PCAPS / name).stat().st_size)
        for name in ("upgrade.pcapng", "upgrade.gbcs.hex")]
    assert run["dut"]["file"]["sha256"] == sha256(run_dir.parent / "dut.toml")
    assert run["dut"]["pics"]["large_image_process"] is True
    assert run["dut"]["pixit"]["image_store_limit"] == 16384
    assert {i["requirement"] for i in run["interpretations"]} == set(INTERPRETATIONS)
    tshark = run["tshark"]
    assert tshark.startswith("TShark") or tshark == "not on PATH"


def test_the_markdown_statement_holds_identity_evidence_and_every_requirement(
        run_dir: Path) -> None:
    text = (run_dir / "conformance.md").read_text()
    assert "**Acme Meters PPMID-7, firmware 1.2.3** (device)" in text
    assert "| EUI-64 | 00DB1234567890A4 | 00DB1234567890A2 |" in text
    assert f"`{sha256(PCAPS / 'upgrade.pcapng')}`" in text
    for requirement in REQUIREMENTS:
        assert f"| [{requirement}](#{requirement.lower()})" in text
        assert f"### {requirement}\n" in text
    assert "| [FRAG-5](#frag-5) *interpretation* |" in text
    assert "| [NOTIFY-3](#notify-3) *interpretation* |" in text
    assert "Switch: `pixit.notify_non_target_fails` = `True`" in text
    # a PASS names its frames, anything else its reason; pictures are linked files
    assert re.search(r"\| The PPMID requests the whole file without gaps .*\| PASS \| "
                     r"upgrade\.pcapng \| frames \d+", text)
    assert "INCONCLUSIVE: " in text
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", text):
        assert (run_dir / link).is_file(), link


def test_the_html_statement_is_one_file_with_its_pictures_inside(run_dir: Path) -> None:
    page = (run_dir / "conformance.html").read_text()
    assert "<script" not in page.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:|#)""", page), "a link out"
    assert "url(" not in page  # no style fetching anything
    rows = re.findall(r'<tr data-requirement="([A-Z]+-\d+)">', page)
    assert rows == list(REQUIREMENTS)
    pictures = re.findall(r'<img src="data:(image/[a-z+]+);base64,', page)
    assert "image/png" in pictures and "image/svg+xml" in pictures  # plots: Allure is on
    assert len(pictures) == len(set(re.findall(r'<img src="([^"]+)"', page)))  # once each
    assert "CH &lt;one&gt;" in page and "Hub &amp; Co CH &lt;one&gt;, firmware 4.5" in page
    assert (run_dir / "conformance.html").stat().st_size < 2_000_000


@pytest.mark.slow
def test_under_pytest_xdist_the_same_files_come_out(run_dir: Path, tmp_path: Path) -> None:
    """Two workers judge the scenarios; the controller writes verdicts.json, the summary
    and the statement, whole and in collection order."""
    replay(tmp_path / "out", run_dir.parent / "dut.toml", "-n", "2", "--alluredir",
           str(tmp_path / "allure-results"))
    assert len(list((tmp_path / "allure-results").glob("*-result.json"))) == 56
    assert (tmp_path / "allure-results" / "environment.properties").is_file()  # controller
    one, two = (json.loads((folder / "verdicts.json").read_text())
                for folder in (run_dir, tmp_path / "out"))
    assert two["scenarios"] == one["scenarios"]
    assert two["run"]["evidence"] == one["run"]["evidence"]
    assert two["run"]["target"] == one["run"]["target"]

    def body(path: Path, marker: str) -> str:
        return path.read_text().split(marker, 1)[1]

    assert body(tmp_path / "out" / "summary.md", "| requirement |") == \
        body(run_dir / "summary.md", "| requirement |")
    assert body(tmp_path / "out" / "conformance.md", "## 3. Evidence files") == \
        body(run_dir / "conformance.md", "## 3. Evidence files")


def test_interpretations_are_the_requirements_marked_so_and_name_real_switches() -> None:
    for item in INTERPRETATIONS.values():
        table, _, key = item.switch.partition(".")
        assert key in {f.name for f in dataclasses.fields({"pics": Pics, "pixit": Pixit}[table])}
        assert item.requirement in REQUIREMENTS and item.source and item.reading
    if DOMAIN_REQUIREMENTS.exists():
        marked = re.findall(r"^\| ([A-Z]+-\d+) \| \*interpretation\*",
                            DOMAIN_REQUIREMENTS.read_text(), flags=re.MULTILINE)
        assert marked and set(marked) <= set(INTERPRETATIONS)


def _header(dut: Dut) -> dict:
    """A run header as hanota.steps.run_results builds it, without a pytest run."""
    side = {"manufacturer": "not stated", "model": "not stated",
            "firmware_version": "not stated", "hardware_version": "not stated"}
    return {"suite": {"name": "hanota", "version": "0.0.0", "requirements": "SECMP0007"},
            "tshark": "not on PATH",
            "target": {"name": "live", "description": "zep://127.0.0.1:1", "inputs": "live"},
            "dut": {"file": {"file": "d.toml", "path": "d.toml", "sha256": "00", "bytes": 1},
                    **dut_facts(dut)},
            "device": {**side, "node": "ppmid", "kind": "ppmid", "eui64": "00DB1234567890A4",
                       "under_test": True},
            "chf": {**side, "node": "chf", "kind": "chf", "eui64": "00DB1234567890A2",
                    "under_test": False},
            "evidence": [], "interpretations": interpretations(dut),
            "started": "2026-01-01T00:00:00+00:00", "elapsed_s": 1.0, "command": "pytest"}


def test_a_picture_is_embedded_once_and_the_worst_verdict_picks_it(tmp_path: Path) -> None:
    (tmp_path / "figures").mkdir()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    for name in ("a.ppmid.msc.svg", "b.ppmid.msc.svg"):
        (tmp_path / "figures" / name).write_bytes(svg)
    (tmp_path / "figures" / "a.ppmid.plot.png").write_bytes(b"\x89PNG fake")
    a = ["figures/a.ppmid.msc.svg", "figures/a.ppmid.plot.png"]
    results = [
        ScenarioVerdict("t1", "one", "version_report", ["VER-1"], "chf", "PASS",
                        frames=[1, 2], figures=a, source="x: a.pcapng"),
        ScenarioVerdict("t2", "two <b>", "version_report", ["VER-1", "VER-2"], "chf", "FAIL",
                        reason="VER-1: no read <script>\n  frame 9: ...",
                        figures=["figures/b.ppmid.msc.svg"], source="x: b.pcapng"),
        ScenarioVerdict("t3", "three", "block_transfer", ["FRAG-1"], "device", "PASS",
                        frames=[3], figures=a, source="x: a.pcapng"),
    ]
    statement = Statement(_header(load_dut()), results, tmp_path)
    assert statement.figures["VER-1"] == "figures/b.ppmid.msc.svg"  # the FAIL's exchange
    assert statement.figures["FRAG-1"] == "figures/a.ppmid.plot.png"  # a transfer: the plot
    assert statement.overall == "FAIL"
    html_path, md_path = write_statement(tmp_path, statement.run, results)
    page = html_path.read_text()
    assert page.count('<img src="data:image/svg+xml;base64,') == 1  # VER-2 links to VER-1's
    assert 'shown under <a href="#req-VER-1">VER-1</a>' in page
    assert "&lt;script&gt;" in page and "<script" not in page and "two &lt;b&gt;" in page
    assert "<details><summary>the whole reason</summary>" in page
    assert "| [SCOPE-1](#scope-1) | OTA via the CHF is available to PPMIDs and HCALCS | " \
           "**NOT RUN** |" in md_path.read_text()
    assert "No evidence file: the target (zep://127.0.0.1:1) kept none" in md_path.read_text()


def test_targets_list_the_evidence_files_they_judged(tmp_path: Path) -> None:
    dut = load_dut(PCAPS / "dut.toml")
    alerts = tmp_path / "alerts"
    alerts.mkdir()
    for name in ("02.hex", "01.xml", "notes.pdf"):
        (alerts / name).write_text("")
    replayed = make_target("pcap", TargetOptions(dut=dut, capture=PCAPS / "upgrade.pcapng",
                                                 alerts=alerts))
    assert evidence_files(replayed) == [PCAPS / "upgrade.pcapng", alerts / "01.xml",
                                        alerts / "02.hex"]
    emulated = make_target("emulator", TargetOptions(dut=load_dut(), out_dir=tmp_path))
    assert evidence_files(emulated) == []
    emulated.trace(BY_ID["sr-11-2"])
    captures = tmp_path / "captures"
    assert evidence_files(emulated) == [captures / "read-version.pcapng",
                                        captures / "read-version.gbcs.hex"]
    # none aside (the hidden lock and run stamp a parallel run keeps are bookkeeping)
    assert sorted(p.name for p in captures.iterdir() if not p.name.startswith(".")) == [
        "read-version.gbcs.hex", "read-version.pcapng"]
    recording = tmp_path / "recording.pcapng"
    recording.write_bytes((PCAPS / "read-version.pcapng").read_bytes())
    assert LiveTarget(dut, f"pipe:{recording}").evidence_files() == [recording]
    assert LiveTarget(dut, "zep://127.0.0.1:0").evidence_files() == []
    assert evidence_files(object()) == []  # a target from outside, without the hook
