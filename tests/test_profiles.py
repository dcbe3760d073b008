"""Every fault profile breaks its one requirement visibly: checked on the decoded capture
and the GBCS messages of a run with that profile, never on the emulator's state."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from functools import cache
from importlib import resources

import pytest
from air_trace import Trace, read_trace, received_files
from hanota.dut.description import Dut, load_dut, parse_dut
from hanota.dut.images import ota_files, part_of
from hanota.emulators import PROFILES, EmulationResult, emulate
from hanota.emulators.wan import chf_certificate
from hanota.layers import ota
from hanota.layers.gbcs import decode_gbcs, verify_apdu
from hanota.layers.gbcs_payloads import Ccs08Alert, Cs08Alert, Cs08Response
from hanota.layers.otafile import parse_ota_file

DUT = load_dut()
PIXIT = DUT.pixit
PPMID = DUT.nodes["ppmid"]
PERIOD_S = PIXIT.minimum_block_period_ms / 1000
SMALL_STORE_LIMIT = 40960


def _small_large_image_dut() -> Dut:
    """Images above a 40 KiB store (ppmid-large cut to 96 KiB): several parts, fast to run."""
    text = resources.files("hanota.dut").joinpath("default_dut.toml").read_text()
    text = text.replace("size = 1048576", "size = 98304")
    text = text.replace("image_store_limit = 786432", f"image_store_limit = {SMALL_STORE_LIMIT}")
    return parse_dut(text)


DUTS = {"default": DUT, "small-store": _small_large_image_dut()}


@cache
def run(scenario: str, node: str, profile: str | None, dut: str = "default",
        ) -> tuple[EmulationResult, Trace]:
    capture = io.BytesIO()
    profiles = {node: profile} if profile is not None else {}
    result = emulate(DUTS[dut], scenario, capture, profiles=profiles)
    return result, read_trace(capture.getvalue(), DUTS[dut])


def payloads(result: EmulationResult, kind: type) -> list:
    return [p for p in (decode_gbcs(m.data).payload for m in result.wan) if isinstance(p, kind)]


def versions_read(trace: Trace, device: str = "ppmid") -> list[int]:
    return [r["value"] for e in trace.of("read_attributes_response", src=device,
                                         cluster=ota.CLUSTER_ID)
            for r in e.fields["records"] if r["attribute"] == ota.CURRENT_FILE_VERSION]


def block_requests(trace: Trace, device: str = "ppmid"):
    return trace.of("image_block_request", src=device, dst="chf")


# ---- device side ----------------------------------------------------------------------


def ignores_notify(result: EmulationResult, trace: Trace) -> None:
    assert trace.of("image_notify", dst="ppmid")
    assert not trace.of("query_next_image_request", src="ppmid")
    assert [(p.alert_code, p.response_code) for p in payloads(result, Ccs08Alert)] == [
        (0x8F89, 3)]


def skips_offset(result: EmulationResult, trace: Trace) -> None:
    offsets = sorted({e.fields["file_offset"] for e in block_requests(trace)})
    steps = {b - a for a, b in itertools.pairwise(offsets)}
    assert max(steps) > PIXIT.maximum_data_size  # a gap: some bytes never asked for


def overlap(result: EmulationResult, trace: Trace) -> None:
    """A request starting inside the range the previous one got, not at its start."""
    served = {e.seq: len(e.fields["data"]) for e in trace.of("image_block_response",
                                                               dst="ppmid")
              if e.fields["status"] == ota.SUCCESS}
    requests = block_requests(trace)
    overlapping = [b for a, b in itertools.pairwise(requests)
                   if a.fields["file_offset"] < b.fields["file_offset"]
                   < a.fields["file_offset"] + served.get(a.seq, 0)]
    assert len(overlapping) == 1
    assert received_files(trace, "ppmid") == [ota_files(DUT, "ppmid")[0]]  # no gap


def ignores_wait_for_data(result: EmulationResult, trace: Trace) -> None:
    wait = next(e for e in trace.of("image_block_response", dst="ppmid")
                if e.fields["status"] == ota.WAIT_FOR_DATA)
    allowed = wait.time + wait.fields["request_time"] - wait.fields["current_time"] - 1
    early = [e for e in block_requests(trace) if wait.time < e.time < allowed]
    assert early


def no_pacing(result: EmulationResult, trace: Trace) -> None:
    times = [e.time for e in block_requests(trace)]
    assert min(b - a for a, b in itertools.pairwise(times)) < PERIOD_S / 2


def restarts_from_zero(result: EmulationResult, trace: Trace) -> None:
    offsets = [e.fields["file_offset"] for e in block_requests(trace)]
    first_progress = next(i for i, offset in enumerate(offsets) if offset > 0)
    assert 0 in offsets[first_progress:]


def single_part_end(result: EmulationResult, trace: Trace) -> None:
    ends = trace.of("upgrade_end_request", src="ppmid")
    first_file = received_files(trace, "ppmid")[0]
    index, count = part_of(parse_ota_file(first_file))
    assert index == 0 and count > 1
    assert ends[0].fields["status"] == ota.SUCCESS  # should be REQUIRE_MORE_IMAGE


def reports_old_version(result: EmulationResult, trace: Trace) -> None:
    assert [e.fields["status"] for e in trace.of("upgrade_end_request", src="ppmid")] == [0]
    assert trace.of("upgrade_end_response", dst="ppmid")[0].fields["upgrade_time"] == 0
    assert versions_read(trace) == [PPMID.current_version]
    assert [p.activate_image for p in payloads(result, Cs08Alert)] == [1]


def accepts_invalid_image(result: EmulationResult, trace: Trace) -> None:
    assert [e.fields["status"] for e in trace.of("upgrade_end_request", src="ppmid")] == [0]
    assert versions_read(trace) == [DUT.images["ppmid-corrupt"].file_version]


def accepts_downgrade(result: EmulationResult, trace: Trace) -> None:
    assert not DUT.pics.downgrade_accepted
    assert block_requests(trace)
    assert versions_read(trace) == [DUT.images["ppmid-old"].file_version]


def downgrade_at_readback(result: EmulationResult, trace: Trace) -> None:
    old = DUT.images["ppmid-old"].file_version
    assert not DUT.pics.downgrade_accepted
    assert not block_requests(trace)
    assert [e.fields["status"] for e in trace.of("upgrade_end_request", src="ppmid")] == [
        ota.ABORT]
    assert versions_read(trace) == [old]  # refused in words, running it in fact


def silent_after_event(result: EmulationResult, trace: Trace) -> None:
    report = trace.of("report_attributes", src="ppmid")
    assert report
    assert trace.of("read_attributes", src="chf", dst="ppmid", cluster=ota.CLUSTER_ID)
    assert not [e for e in trace.of("read_attributes_response", src="ppmid",
                                    cluster=ota.CLUSTER_ID) if e.time > report[0].time]


def answers_cad_notify(result: EmulationResult, trace: Trace) -> None:
    assert trace.of("query_next_image_request", src="ppmid", dst="cad")
    assert not trace.of("image_block_request", dst="cad")


def obeys_cad_responses(result: EmulationResult, trace: Trace) -> None:
    assert trace.of("image_block_request", src="ppmid", dst="cad")
    assert not trace.of("query_next_image_request", src="ppmid", dst="cad")


# ---- CHF side -------------------------------------------------------------------------


def never_notifies(result: EmulationResult, trace: Trace) -> None:
    assert not trace.of("image_notify")
    assert [p.response_code for p in payloads(result, Ccs08Alert)] == [3]


def serves_wrong_version(result: EmulationResult, trace: Trace) -> None:
    answer = trace.of("query_next_image_response", dst="ppmid")[0].fields
    assert answer["status"] == ota.SUCCESS
    assert answer["file_version"] != DUT.images["ppmid"].file_version


def serves_non_target(result: EmulationResult, trace: Trace) -> None:
    assert [e.fields["status"] for e in trace.of("query_next_image_response", dst="hcalcs")] == [
        ota.SUCCESS]


def notify_non_target(result: EmulationResult, trace: Trace) -> None:
    image = DUT.images["ppmid"]
    notifies = trace.of("image_notify", dst="hcalcs")
    assert len(notifies) == 1
    notify = notifies[0]
    assert notify.fields["image_type"] == PPMID.image_type != DUT.nodes["hcalcs"].image_type
    assert notify.fields["file_version"] == image.file_version


def ignores_hw_version(result: EmulationResult, trace: Trace) -> None:
    image = DUT.images["ppmid-hw-mismatch"]
    query = trace.of("query_next_image_request", src="ppmid")[0].fields
    assert not image.min_hardware_version <= query["hardware_version"]  # type: ignore[operator]
    assert trace.of("query_next_image_response", dst="ppmid")[0].fields["status"] == ota.SUCCESS
    assert block_requests(trace)


def requires_hw_version(result: EmulationResult, trace: Trace) -> None:
    assert "hardware_version" not in trace.of("query_next_image_request", src="ppmid")[0].fields
    answers = [e.fields["status"] for e in trace.of("query_next_image_response", dst="ppmid")]
    assert answers and set(answers) == {ota.NO_IMAGE_AVAILABLE}


def wrong_offset(result: EmulationResult, trace: Trace) -> None:
    asked: dict[int, int] = {}
    mismatched = 0
    for event in trace.events:
        if event.command == "image_block_request" and event.src == "ppmid":
            asked[event.seq] = event.fields["file_offset"]
        elif event.command == "image_block_response" and event.fields["status"] == 0:
            mismatched += event.fields["file_offset"] != asked[event.seq]
    assert mismatched >= 1


def bad_wait_for_data(result: EmulationResult, trace: Trace) -> None:
    waits = [e.fields for e in trace.of("image_block_response", dst="ppmid")
             if e.fields["status"] == ota.WAIT_FOR_DATA]
    assert waits
    assert all(w["request_time"] < w["current_time"] or w["minimum_block_period"] == 0
               for w in waits)


def starves_han(result: EmulationResult, trace: Trace) -> None:
    requests = block_requests(trace)
    reads = [e for e in trace.of("read_attributes", src="ppmid", cluster=0x0702)
             if requests[0].time < e.time < requests[-1].time]
    answered = [e for e in trace.of("read_attributes_response", src="chf", cluster=0x0702)
                if requests[0].time < e.time < requests[-1].time]
    assert reads and not answered


def no_large_image_split(result: EmulationResult, trace: Trace) -> None:
    answers = [e.fields for e in trace.of("query_next_image_response", dst="ppmid")]
    assert answers[0]["image_size"] > SMALL_STORE_LIMIT
    assert len(received_files(trace, "ppmid")) == 1


def delayed_activation(result: EmulationResult, trace: Trace) -> None:
    response = trace.of("upgrade_end_response", dst="ppmid")[0].fields
    assert response["upgrade_time"] > response["current_time"]


def never_reads_back(result: EmulationResult, trace: Trace) -> None:
    assert trace.of("upgrade_end_response", dst="ppmid")
    assert not trace.of("read_attributes", src="chf", cluster=ota.CLUSTER_ID)
    assert not payloads(result, Cs08Alert)


def success_on_mismatch(result: EmulationResult, trace: Trace) -> None:
    (alert,) = payloads(result, Cs08Alert)
    assert alert.activate_image == 0
    assert int.from_bytes(alert.firmware_version, "big") not in versions_read(trace)


def wrong_alert_code(result: EmulationResult, trace: Trace) -> None:
    assert versions_read(trace) == [DUT.images["ppmid"].file_version]
    (alert,) = payloads(result, Ccs08Alert)
    assert (alert.alert_code, alert.response_code) != (0x8F8A, 0)


def sr112_from_cache(result: EmulationResult, trace: Trace) -> None:
    responses = payloads(result, Cs08Response)
    assert [r.response_code for r in responses] == [0, 0]  # the second PPMID was off
    assert not trace.of("read_attributes", src="chf", cluster=ota.CLUSTER_ID)


def unsigned_alert(result: EmulationResult, trace: Trace) -> None:
    alerts = [m for m in result.wan if m.kind == "alert"]
    assert alerts
    assert all(decode_gbcs(m.data).apdu.signature is None for m in alerts)
    assert not any(verify_apdu(m.data, chf_certificate()) for m in alerts)


def serves_ihd(result: EmulationResult, trace: Trace) -> None:
    assert trace.of("image_notify", dst="ihd")
    assert ota.SUCCESS in [e.fields["status"] for e in trace.of("query_next_image_response",
                                                                 dst="ihd")]


def mixes_images(result: EmulationResult, trace: Trace) -> None:
    offered = [e.fields for e in trace.of("query_next_image_response", dst="hcalcs")
               if e.fields["status"] == ota.SUCCESS]
    assert offered and offered[0]["image_type"] == PPMID.image_type


def alerts_wrong_supplier(result: EmulationResult, trace: Trace) -> None:
    hcalcs = DUT.nodes["hcalcs"].eui64
    to = [m.recipient for m in result.wan
          if getattr(decode_gbcs(m.data).payload, "entity_id", None) == hcalcs]
    assert to == [PIXIT.supplier_id]  # the HCALCS image was asked by the second supplier


# profile -> (exchange, node, DUT variant, check on the run's capture and WAN messages)
CHECKS: dict[str, tuple[str, str, str, Callable[[EmulationResult, Trace], None]]] = {
    "ignores-notify": ("upgrade", "ppmid", "default", ignores_notify),
    "skips-offset": ("upgrade", "ppmid", "default", skips_offset),
    "overlap": ("upgrade", "ppmid", "default", overlap),
    "ignores-wait-for-data": ("upgrade", "ppmid", "default", ignores_wait_for_data),
    "no-pacing": ("upgrade", "ppmid", "default", no_pacing),
    "restarts-from-zero": ("upgrade-lossy", "ppmid", "default", restarts_from_zero),
    "single-part-end": ("upgrade-large", "ppmid", "small-store", single_part_end),
    "reports-old-version": ("upgrade", "ppmid", "default", reports_old_version),
    "accepts-invalid-image": ("upgrade-invalid-image", "ppmid", "default", accepts_invalid_image),
    "accepts-downgrade": ("downgrade", "ppmid", "default", accepts_downgrade),
    "downgrade-at-readback": ("downgrade", "ppmid", "default", downgrade_at_readback),
    "silent-after-event": ("version-event", "ppmid", "default", silent_after_event),
    "answers-cad-notify": ("rogue-cad", "ppmid", "default", answers_cad_notify),
    "obeys-cad-responses": ("rogue-cad", "ppmid", "default", obeys_cad_responses),
    "never-notifies": ("upgrade", "chf", "default", never_notifies),
    "serves-wrong-version": ("upgrade", "chf", "default", serves_wrong_version),
    "serves-non-target": ("upgrade", "chf", "default", serves_non_target),
    "notify-non-target": ("upgrade", "chf", "default", notify_non_target),
    "ignores-hw-version": ("upgrade-hw-mismatch", "chf", "default", ignores_hw_version),
    "requires-hw-version": ("upgrade-no-hw-version", "chf", "default", requires_hw_version),
    "wrong-offset": ("upgrade", "chf", "default", wrong_offset),
    "bad-wait-for-data": ("upgrade", "chf", "default", bad_wait_for_data),
    "starves-han": ("upgrade", "chf", "default", starves_han),
    "no-large-image-split": ("upgrade-large", "chf", "small-store", no_large_image_split),
    "delayed-activation": ("upgrade", "chf", "default", delayed_activation),
    "never-reads-back": ("upgrade", "chf", "default", never_reads_back),
    "success-on-mismatch": ("upgrade", "chf", "default", success_on_mismatch),
    "wrong-alert-code": ("upgrade", "chf", "default", wrong_alert_code),
    "sr112-from-cache": ("read-version", "chf", "default", sr112_from_cache),
    "unsigned-alert": ("upgrade", "chf", "default", unsigned_alert),
    "serves-ihd": ("ihd-refused", "chf", "default", serves_ihd),
    "mixes-images": ("two-devices", "chf", "default", mixes_images),
    "alerts-wrong-supplier": ("two-devices", "chf", "default", alerts_wrong_supplier),
}


def test_every_profile_has_a_check() -> None:
    assert set(CHECKS) == set(PROFILES)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_breaks_its_requirement_visibly(name: str) -> None:
    scenario, node, dut, check = CHECKS[name]
    assert PROFILES[name].side == ("chf" if node == "chf" else "device")
    check(*run(scenario, node, name, dut))


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_check_does_not_fire_on_the_conformant_run(name: str) -> None:
    """The same check on the same exchange without the profile must fail: it proves the
    check sees the fault, not something every run has."""
    scenario, node, dut, check = CHECKS[name]
    with pytest.raises(AssertionError):
        check(*run(scenario, node, None, dut))
