"""The Allure results of real scenario runs on the emulator: labels and attachments.

Runs the suite as a user does (pytest on features/ with the plugin and --alluredir) on a
few scenarios: a transfer scenario that passes, the same one failing under a fault
profile, and a scenario without block traffic. Each run emulates one or two exchanges.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hanota.dut.description import load_dut
from hanota.layers.capture import CaptureParser
from hanota.layers.model import FrameRecord
from hanota.targets.base import dut_keys
from hanota.targets.pcap import decode_records, read_capture

ROOT = Path(__file__).resolve().parents[1]
CASE = "features/test_conformance.py::"
UPGRADE = "a conformant upgrade of the PPMID"
GAPLESS = CASE + ("test_the_kind_requests_the_whole_file_without_gaps_delivery"
                  f"[PPMID-ppmid-in one OTA file-{UPGRADE}]")
NOW = CASE + f"test_the_communications_hub_tells_the_kind_to_upgrade_now[PPMID-ppmid-{UPGRADE}]"
IHD = CASE + "test_the_communications_hub_offers_no_image_to_an_inhome_display"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Run = tuple[Path, dict[str, dict]]


def _run(out: Path, *args: str) -> dict[str, dict]:
    """Run the suite; the Allure results by scenario name (with their attachments read)."""
    results = out / "allure"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "hanota.steps.plugin",
                    "--out", str(out), "--alluredir", str(results), *args],
                   cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    found = {}
    for path in results.glob("*-result.json"):
        result = json.loads(path.read_text())
        attachments = {}
        for step in result.get("steps", []):
            for attachment in step.get("attachments", []):
                attachments[attachment["name"]] = (attachment["type"],
                                                   (results / attachment["source"]).read_bytes())
        result["attached"] = attachments
        found[result["name"]] = result
    return found


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("pass")
    return out, _run(out, GAPLESS, NOW, IHD)


def _labels(result: dict) -> dict[str, list[str]]:
    labels: dict[str, list[str]] = {}
    for label in result["labels"]:
        labels.setdefault(label["name"], []).append(label["value"])
    return labels


def _slice(attached: dict) -> list[FrameRecord]:
    (name,) = [name for name in attached if name.startswith("capture slice")]
    kind, data = attached[name]
    assert kind == "application/x-pcapng"
    parser = CaptureParser()
    records = parser.feed(data)
    parser.close()
    return list(decode_records(records, dut_keys(load_dut())))


def test_labels_name_requirement_area_role_and_target(passing: Run) -> None:
    _, results = passing
    labels = _labels(results["The PPMID requests the whole file without gaps (in one OTA file)"])
    assert labels["requirement"] == ["FRAG-1"]
    assert labels["feature"] == ["block_transfer"]
    assert labels["role"] == ["device"]
    assert labels["target"] == ["emulator"]
    assert labels["story"][0].startswith("FRAG-1: ")


def test_a_passing_transfer_scenario_attaches_everything(passing: Run) -> None:
    out, results = passing
    result = results["The PPMID requests the whole file without gaps (in one OTA file)"]
    attached = result["attached"]
    assert result["status"] == "passed"
    assert attached["download plot (ppmid)"][1].startswith(PNG_SIGNATURE)
    assert attached["message sequence chart (ppmid)"][0] == "image/svg+xml"
    assert b"<svg" in attached["message sequence chart (ppmid)"][1]
    assert b"image_block_request" in attached["message sequence chart (ppmid, text)"][1]
    assert b"alert 0x" in attached["GBCS messages"][1]
    # the slice is the evidence frames of verdicts.json, byte for byte
    verdicts = json.loads((out / "verdicts.json").read_text())["scenarios"]
    (row,) = [r for r in verdicts if r["name"] == result["name"]]
    assert len(row["frames"]) > 1000
    original = {record.number: record for record in
                read_capture(out / "captures" / "upgrade.pcapng", dut_keys(load_dut()))}
    back = _slice(attached)
    assert [record.raw for record in back] == [original[n].raw for n in row["frames"]]
    decoded = attached["decoded frames (capture slice)"][1].decode()
    assert f"frame {row['frames'][0]}: " in decoded


def test_a_transfer_scenario_of_another_requirement_gets_the_plot(passing: Run) -> None:
    _, results = passing
    attached = results["The Communications Hub tells the PPMID to upgrade now"]["attached"]
    assert attached["download plot (ppmid)"][1].startswith(PNG_SIGNATURE)


def test_a_scenario_without_block_traffic_has_no_plot(passing: Run) -> None:
    _, results = passing
    attached = results["The Communications Hub offers no image to an In-Home Display"][
        "attached"]
    assert not any(key.startswith("download plot") for key in attached)
    assert any(key.startswith("message sequence chart") for key in attached)
    assert _slice(attached)


def test_a_failing_scenario_slices_the_violation_with_its_neighbours(tmp_path: Path) -> None:
    results = _run(tmp_path, GAPLESS, "--dut-profile", "skips-offset")
    result = results["The PPMID requests the whole file without gaps (in one OTA file)"]
    assert result["status"] == "failed"
    attached = result["attached"]
    back = _slice(attached)
    # the two violating requests (the one before the gap and the one after it), each
    # with three frames either side: one run of frames, the windows overlapping
    decoded = attached["decoded frames (capture slice)"][1].decode().splitlines()
    numbers = [int(line.split(":")[0].removeprefix("frame ")) for line in decoded
               if line.startswith("frame ")]
    assert len(back) == len(numbers) and 8 <= len(numbers) <= 14
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    text = attached["verdict evidence"][1].decode()
    assert f"frame {numbers[3]}" in text and f"frame {numbers[-4]}" in text
    assert attached["download plot (ppmid)"][1].startswith(PNG_SIGNATURE)
