"""``hanota.matrix`` on hand-made run directories (no suite run): cells, worst verdicts,
reruns, refusals. The campaign of real runs, and the page in a browser, are in
test_campaign.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hanota.matrix import MatrixError, cell_lines, merge, write_matrix


def side(model: str, firmware: str, kind: str, eui64: str) -> dict:
    return {"manufacturer": "M", "model": model, "firmware_version": firmware,
            "hardware_version": "not stated", "node": kind, "kind": kind, "eui64": eui64,
            "under_test": True}


def run_dir(folder: Path, device: dict, chf: dict, verdicts: dict[str, str],
            role: str = "both", statement: bool = True) -> Path:
    folder.mkdir(parents=True)
    scenarios = [{"scenario": f"t{i}", "name": f"s{i}", "feature": "f", "requirements": [req],
                  "role": "chf", "verdict": verdict}
                 for i, (req, verdict) in enumerate(verdicts.items())]
    run = {"suite": {"version": "0.1.0"}, "target": {"name": "pcap", "inputs": "pcap"},
           "dut": {"role": role}, "device": device, "chf": chf, "started": "2026-01-01"}
    (folder / "verdicts.json").write_text(json.dumps({"header": "h", "run": run,
                                                      "scenarios": scenarios}))
    if statement:
        (folder / "conformance.html").write_text("<!DOCTYPE html>")
    return folder


PPMID = side("P-1", "1.0", "ppmid", "00DB1234567890A4")
HUB_A = side("Hub", "A", "chf", "00DB1234567890A2")
HUB_B = side("Hub", "B", "chf", "00DB1234567890A2")


def test_a_cell_is_the_worst_of_its_runs_and_rows_and_columns_keep_the_order_given(
        tmp_path: Path) -> None:
    runs = [run_dir(tmp_path / "1", PPMID, HUB_B, {"VER-1": "PASS", "BAN-4": "NOT APPLICABLE"}),
            run_dir(tmp_path / "2", PPMID, HUB_A, {"VER-1": "PASS"}),
            run_dir(tmp_path / "3", PPMID, HUB_A, {"VER-1": "INCONCLUSIVE"}, role="device"),
            run_dir(tmp_path / "4", side("P-1", "1.1", "ppmid", "00DB1234567890A4"), HUB_A,
                    {"VER-1": "ERROR", "VER-2": "FAIL"}, statement=False)]
    html_path, md_path, matrix = write_matrix([*runs, tmp_path / "2"], tmp_path / "m")
    assert len(matrix.runs) == 4  # a directory given twice counts once
    assert matrix.hubs == ["M Hub, firmware B", "M Hub, firmware A"]
    assert matrix.devices == ["M P-1, firmware 1.0", "M P-1, firmware 1.1"]
    assert cell_lines(matrix) == [
        "PASS            M P-1, firmware 1.0  ×  M Hub, firmware B  (1 run)",
        "INCONCLUSIVE    M P-1, firmware 1.0  ×  M Hub, firmware A  (2 runs)",
        "FAIL            M P-1, firmware 1.1  ×  M Hub, firmware A  (1 run)"]
    text = md_path.read_text()
    assert "| M P-1, firmware 1.1 | not tested | **FAIL** ([FAIL, both sides](../4)) |" in text
    assert "[INCONCLUSIVE, device side](../3/conformance.html)" in text
    assert "FAIL: VER-2; ERROR: VER-1; NOT RUN: 28 requirements" in text
    page = html_path.read_text()
    assert "<script" not in page and '<a href="../1/conformance.html">statement</a>' in page
    assert "<code>../4</code> (no statement)" in page


def test_a_side_without_a_model_is_named_by_its_node() -> None:
    from hanota.statement import side_name

    unnamed = {**HUB_A, "model": "not stated", "manufacturer": "not stated"}
    assert side_name(unnamed) == "CHF 00DB1234567890A2 (model not stated)"
    assert side_name({**HUB_A, "manufacturer": "not stated"}) == "Hub, firmware A"


def test_runs_the_merge_cannot_use_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="no run directory"):
        merge([])
    with pytest.raises(MatrixError, match=r"empty: no verdicts\.json"):
        merge([tmp_path / "empty"])
    old = tmp_path / "old"
    old.mkdir()
    (old / "verdicts.json").write_text(json.dumps({"header": "h", "scenarios": []}))
    with pytest.raises(MatrixError, match="no run header"):
        merge([old])
    (old / "verdicts.json").write_text("{")
    with pytest.raises(MatrixError, match="not readable as JSON"):
        merge([old])
