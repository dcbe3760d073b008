"""The differential harness (``bench.wireshark_diff``) on every format sample and on every
reference capture in ``pcaps/``: ``hanota`` and tshark agree on every frame tshark decodes
beyond the MAC header, item by item (layers, FCS, MAC and NWK addresses, APS cluster, ZCL
command, OTA fields).

All 45 reference captures run (32,089 frames, 17 s to 50 s on two shared cores): they are
what the suite's own replay tests judge, so none is left out. Known disagreements are
listed in ``KNOWN`` with the reason; the test fails on any other, and on a known one that
went away (so the list cannot go stale).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hanota.dut.description import load_dut
from hanota.layers.model import FrameRecord
from sniffer_samples import KEYS, samples

from bench import wireshark_diff
from bench.wireshark_diff import ITEMS, command_id_fields, diff_capture

pytestmark = [
    pytest.mark.tshark,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed"),
]
ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "pcaps"
SAMPLES = {sample.name: sample for sample in samples()}
KNOWN: dict[tuple[str, int, str], str] = {}
"""(capture, frame, item) -> why tshark and hanota differ there. Empty: the last entries
(Report Attributes of the OTA cluster) went when layers/zcl.py learnt that command."""


@pytest.fixture(scope="module")
def command_fields() -> list[str]:
    tshark = shutil.which("tshark")
    assert tshark is not None
    return command_id_fields(tshark)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_format_sample_agrees_with_tshark_on_every_item(
    name: str, tmp_path: Path, command_fields: list[str],
) -> None:
    sample = SAMPLES[name]
    report = diff_capture(sample.write(tmp_path), KEYS.network_keys, sample.fcs_format,
                          command_fields=command_fields)
    assert report.ok, "\n".join(report.lines())
    assert report.beyond_mac >= min(7, len(sample.expected) // 2)  # half are MAC ACKs
    for item in ITEMS:  # only a frame cut inside its MAC header may differ, and only there
        if item not in ("layers", "mac"):
            assert report.agree[item] == report.compared[item], "\n".join(report.lines())
    assert all(kind.theirs[0] == "wpan" if kind.item == "layers" else kind.ours is None
               for kind in report.kinds.values()), "\n".join(report.lines())


def _losing_the_cut_nwk_header(frame: FrameRecord) -> dict:
    """Our side as a codec that drops the NWK header of a frame cut inside its payload
    (what ``hanota`` did before it decoded layer by layer)."""
    ours = OURS(frame)
    if frame.han is not None and frame.han.error is not None:
        ours.update(layers=ours["layers"][:1], nwk=None)
    return ours


OURS = wireshark_diff._ours
SABOTAGED = (  # the command line with that codec
    "import sys; import bench.wireshark_diff as w; original = w._ours\n"
    "def lossy(frame):\n"
    "    ours = original(frame)\n"
    "    if frame.han is not None and frame.han.error is not None:\n"
    "        ours.update(layers=ours['layers'][:1], nwk=None)\n"
    "    return ours\n"
    "w._ours = lossy; sys.exit(w.main(sys.argv[1:]))")


def test_the_harness_reports_a_codec_that_loses_layers(
    tmp_path: Path, command_fields: list[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Frames cut inside their secured NWK payload, against a codec that loses the NWK
    header there: the harness must say so and fail (a harness that cannot fail checks
    nothing)."""
    monkeypatch.setattr(wireshark_diff, "_ours", _losing_the_cut_nwk_header)
    sample = SAMPLES["cut-in-payload-195.pcap"]
    report = diff_capture(sample.write(tmp_path), KEYS.network_keys, sample.fcs_format,
                          command_fields=command_fields)
    assert not report.ok
    layers = [kind for kind in report.kinds.values() if kind.item == "layers"]
    assert layers and layers[0].theirs == ("wpan", "zbee_nwk") and layers[0].ours == ("wpan",)
    assert "truncated by the capture" in (layers[0].error or "")


@pytest.mark.slow
def test_every_reference_capture_agrees_with_tshark(command_fields: list[str]) -> None:
    dut = load_dut(PCAPS / "dut.toml")
    keys = (dut.network_key, *dut.link_keys)
    found: dict[tuple[str, int, str], str] = {}
    total = 0
    for capture in sorted(PCAPS.glob("*.pcapng")):
        report = diff_capture(capture, keys, command_fields=command_fields)
        total += report.beyond_mac
        assert report.frames > 0, capture
        for kind in report.kinds.values():
            key = (capture.name, kind.frame, kind.item)
            assert key in KNOWN, "\n".join(report.lines())
            found[key] = KNOWN[key]
            assert kind.count == 1, "\n".join(report.lines())
        assert len(report.beyond_mac_disagreeing) == len(report.kinds), capture
    assert found == KNOWN, "a known disagreement went away: remove it from KNOWN"
    assert total > 15_000


def test_the_command_line_exits_by_the_agreement(tmp_path: Path) -> None:
    good = SAMPLES["cc24xx-195.pcapng"].write(tmp_path)
    cut = SAMPLES["cut-in-payload-195.pcap"].write(tmp_path)
    command = [sys.executable, "-m", "bench.wireshark_diff", "--key", KEYS.network_keys[0].hex()]
    agreeing = subprocess.run([*command, str(good)], capture_output=True, text=True, cwd=ROOT)
    assert agreeing.returncode == 0, agreeing.stdout
    assert "wpan.fcs_format:TI CC24xx metadata" in agreeing.stdout
    assert "zcl command        8 / 8       agree 100.00 %" in agreeing.stdout
    agreeing = subprocess.run([*command, str(good), str(cut)], capture_output=True,
                              text=True, cwd=ROOT)
    assert agreeing.returncode == 0, agreeing.stdout
    differing = subprocess.run([sys.executable, "-c", SABOTAGED, *command[3:], str(good),
                                str(cut)], capture_output=True, text=True, cwd=ROOT)
    assert differing.returncode == 1, differing.stdout + differing.stderr
    assert "layers: frame 1 (and 1 more): tshark ('wpan', 'zbee_nwk'), hanota ('wpan',)" in \
        differing.stdout
    unusable = subprocess.run([*command, str(good), "--keys-file", str(tmp_path / "none")],
                              capture_output=True, text=True, cwd=ROOT)
    assert unusable.returncode == 2 and "cannot read" in unusable.stdout
