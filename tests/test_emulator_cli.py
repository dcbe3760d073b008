"""``hanota emulate``: capture and GBCS files written, profiles by node, --list."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from air_trace import read_trace
from hanota.dut.description import load_dut
from hanota.layers.capture import CaptureParser
from hanota.layers.gbcs import decode_gbcs
from hanota.layers.gbcs_payloads import Ccs08Alert
from hanota.targets.wan_input import read_wan_inputs

from hanota.cli import main


def test_emulate_writes_capture_and_numbered_gbcs_files(tmp_path: Path) -> None:
    out = tmp_path / "run.pcapng"
    alerts = tmp_path / "wan"
    code = main(["emulate", "--scenario", "upgrade-invalid-image", "--out", str(out),
                 "--alerts", str(alerts), "--seed", "3"])
    assert code == 0
    trace = read_trace(out.read_bytes(), load_dut())
    assert trace.of("upgrade_end_request", src="ppmid")
    files = sorted(path.name for path in alerts.iterdir())
    assert files == ["01-alert-0128.hex"]
    (message,) = read_wan_inputs(alerts / files[0])  # time-prefixed: timed evidence
    assert message.time is not None
    payload = decode_gbcs(message.data).payload
    assert isinstance(payload, Ccs08Alert) and payload.response_code == 3


def test_emulate_read_version_names_commands_and_responses(tmp_path: Path) -> None:
    alerts = tmp_path / "wan"
    dut = tmp_path / "dut.toml"
    dut.write_text(resources.files("hanota.dut").joinpath("default_dut.toml").read_text())
    assert main(["emulate", "--dut", str(dut), "--scenario", "read-version",
                 "--out", str(tmp_path / "c.pcapng"), "--alerts", str(alerts)]) == 0
    assert sorted(path.name for path in alerts.iterdir()) == [
        "01-command-0129.hex", "02-response-0129.hex", "03-command-0129.hex",
        "04-response-0129.hex"]


def test_emulate_applies_a_profile_to_a_node(tmp_path: Path) -> None:
    out = tmp_path / "c.pcapng"
    assert main(["emulate", "--scenario", "upgrade-hw-mismatch", "--profile",
                 "chf=ignores-hw-version", "--out", str(out)]) == 0
    trace = read_trace(out.read_bytes(), load_dut())
    assert trace.of("query_next_image_response", dst="ppmid")[0].fields["status"] == 0


def test_emulate_list_names_exchanges_and_profiles(capsys: pytest.CaptureFixture) -> None:
    assert main(["emulate", "--list"]) == 0
    text = capsys.readouterr().out
    assert "upgrade-large" in text and "skips-offset" in text and "FRAG-1" in text


def test_emulate_takes_the_sniffer_and_han_knobs(tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "c.pcapng"
    assert main(["emulate", "--scenario", "read-version", "--out", str(out),
                 "--sniffer-miss", "0.3", "--sniffer-fcs", "none", "--han-variant",
                 "routed,aps-encrypted", "--nwk-ext-source", "1"]) == 0
    heard = int(capsys.readouterr().out.split(" frames (")[1].split(" captured")[0])
    records = CaptureParser().feed(out.read_bytes())
    assert {record.linktype for record in records} == {230}
    assert len(records) == heard
    assert main(["emulate", "--list"]) == 0
    assert "page-request" in capsys.readouterr().out


@pytest.mark.parametrize("args", [
    ["--scenario", "upgrade"],
    ["--scenario", "nope", "--out", "{tmp}/x.pcapng"],
    ["--scenario", "upgrade", "--profile", "ppmid", "--out", "{tmp}/x.pcapng"],
    ["--scenario", "upgrade", "--profile", "fridge=no-pacing", "--out", "{tmp}/x.pcapng"],
    ["--scenario", "upgrade", "--han-variant", "teleport", "--out", "{tmp}/x.pcapng"],
    ["--scenario", "upgrade", "--sniffer-miss", "2", "--out", "{tmp}/x.pcapng"],
])
def test_emulate_refuses_bad_arguments(args: list[str], tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    assert main(["emulate", *(a.replace("{tmp}", str(tmp_path)) for a in args)]) == 2
    assert "hanota emulate" in capsys.readouterr().err


def test_same_seed_same_capture_across_processes(tmp_path: Path) -> None:
    """Nothing in a run may depend on the interpreter's hash seed or on wall time."""
    digests = set()
    for hash_seed in ("1", "2"):
        out = tmp_path / f"run-{hash_seed}.pcapng"
        subprocess.run(
            [sys.executable, "-m", "hanota.cli", "emulate", "--scenario", "two-devices",
             "--seed", "7", "--loss", "0.05", "--out", str(out)],
            check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1
