"""Targets: the emulator target judges bytes through the pcap path; replay reads the same.

Needs the emulator (emulators/) but not the shared folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hanota.dut.description import load_dut
from hanota.dut.situations import BY_ID
from hanota.targets.base import TARGETS, TargetOptions, make_target
from hanota.targets.emulator import EmulatorTarget, delivered_images, profile_nodes
from hanota.targets.wan_input import read_wan_inputs
from hanota.verify.checks import notification, version_report
from hanota.verify.verdicts import Inconclusive

DUT = load_dut()


@pytest.fixture(scope="module")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> EmulatorTarget:
    out = tmp_path_factory.mktemp("out")
    return make_target("emulator", TargetOptions(dut=DUT, out_dir=out))


def _commands(trace) -> list[tuple]:
    return [(f.number, f.src, f.dst, f.command) for f in trace.frames if f.command]


def test_registry_knows_both_targets_and_refuses_others(tmp_path: Path):
    make_target("emulator", TargetOptions(dut=DUT, out_dir=tmp_path))
    assert {"emulator", "pcap"} <= set(TARGETS)
    with pytest.raises(ValueError, match=r"known: .*emulator"):
        make_target("nonsense", TargetOptions(dut=DUT))
    with pytest.raises(ValueError, match="--pcap"):
        make_target("pcap", TargetOptions(dut=DUT))


def test_emulator_writes_a_capture_and_decodes_it_back(emulated: EmulatorTarget):
    trace = emulated.trace(BY_ID["upgrade"])
    capture = emulated.capture_path("upgrade")
    assert capture.exists() and capture.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # pcapng
    assert capture.with_suffix(".gbcs.hex").exists()
    assert trace.frames and not trace.decode_errors
    assert str(capture) in trace.source
    assert {m.kind for m in trace.wan} == {"alert"}
    assert all(m.signature_valid for m in trace.wan)
    assert emulated.trace(BY_ID["upgrade"]) is trace  # one run per session


def test_replay_of_the_emulated_capture_gives_the_same_trace(emulated: EmulatorTarget,
                                                              tmp_path: Path):
    emulated_trace = emulated.trace(BY_ID["upgrade"])
    capture = emulated.capture_path("upgrade")
    replay = make_target("pcap", TargetOptions(
        dut=DUT, capture=capture, alerts=capture.with_suffix(".gbcs.hex"),
        certificate=Path(__file__).resolve().parents[1] / "emulators/keys/chf-test-ds.pem"))
    trace = replay.trace(BY_ID["rollback"])
    assert _commands(trace) == _commands(emulated_trace)
    assert [m.raw for m in trace.wan] == [m.raw for m in emulated_trace.wan]
    assert replay.trace("upgrade") is trace  # one capture judged for every scenario


def test_replay_without_the_exchange_is_inconclusive(emulated: EmulatorTarget):
    capture = emulated.capture_path("upgrade")
    trace = make_target("pcap", TargetOptions(dut=DUT, capture=capture)).trace("read-version")
    with pytest.raises(Inconclusive):
        version_report.check_sr112(trace, "ppmid")
    with pytest.raises(Inconclusive, match="GBCS"):
        version_report.check_ccs08_alert(trace, "ppmid", "a successful transfer")
    assert notification.check_device_queries(trace, "ppmid").frames


def test_gbcs_hex_reader(tmp_path: Path):
    folder = tmp_path / "alerts"
    folder.mkdir()
    (folder / "a.hex").write_text("# comment\n1767225600.5 DF01\n\n")
    (folder / "b.hex").write_text("dd 02\n")
    assert [(m.time, m.data) for m in read_wan_inputs(folder)] == [
        (1767225600.5, b"\xdf\x01"), (None, b"\xdd\x02")]
    (folder / "c.hex").write_text("1.0 XYZ\n")
    with pytest.raises(ValueError, match=r"c\.hex: line 1"):
        read_wan_inputs(folder)


def test_fault_profiles_go_to_the_node_of_their_side():
    assert profile_nodes(DUT, "no-pacing") == {DUT.dut_node: "no-pacing"}
    assert profile_nodes(DUT, "starves-han") == {DUT.chf.name: "starves-han"}
    assert profile_nodes(DUT, None) == {}
    with pytest.raises(ValueError, match="unknown fault profile"):
        profile_nodes(DUT, "nonsense")


def test_delivered_images_per_exchange():
    assert [i.name for i in delivered_images(DUT, "upgrade")] == ["ppmid"]
    assert [i.name for i in delivered_images(DUT, "two-devices")] == ["ppmid", "hcalcs"]
    assert delivered_images(DUT, "ihd-refused") == []
    mismatch = delivered_images(DUT, "upgrade-hw-mismatch")[0]
    assert DUT.nodes["ppmid"].hardware_version < mismatch.min_hardware_version
