"""The emulated HAN, judged by its capture and its WAN messages (never its state).

Each exchange of the contract runs on the default DUT description (64 KiB PPMID image);
the capture is decoded with the suite's own reader and codec (tests/air_trace.py), the
GBCS messages with hanota.layers.gbcs, signatures checked with the certificate in
emulators/keys.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from functools import cache
from importlib import resources

import pytest
from air_trace import Trace, read_trace, received_files
from hanota.dut.description import Dut, load_dut, parse_dut
from hanota.dut.images import ota_files
from hanota.emulators import PROFILES, SCENARIOS, EmulationResult, emulate
from hanota.emulators.clock import EPOCH_UNIX
from hanota.emulators.wan import chf_certificate
from hanota.layers import ota
from hanota.layers.gbcs import decode_gbcs, verify_apdu
from hanota.layers.gbcs_payloads import Ccs08Alert, Cs08Alert, Cs08Response
from hanota.targets.pcap import capture_records, decode_records

DUT = load_dut()
PIXIT = DUT.pixit
PPMID = DUT.nodes["ppmid"]
IMAGE = DUT.images["ppmid"]


def _variant(old: str, new: str) -> Dut:
    text = resources.files("hanota.dut").joinpath("default_dut.toml").read_text()
    assert old in text
    return parse_dut(text.replace(old, new))


VARIANTS = {
    "default": DUT,
    "downgrade-accepted": _variant("downgrade_accepted = false", "downgrade_accepted = true"),
}


@cache
def run(scenario: str, seed: int = 0, loss: float | None = None,
        variant: str = "default") -> tuple[EmulationResult, Trace, bytes]:
    dut = VARIANTS[variant]
    capture = io.BytesIO()
    result = emulate(dut, scenario, capture, seed=seed, loss=loss)
    return result, read_trace(capture.getvalue(), dut), capture.getvalue()


def payloads(result: EmulationResult, kind: type) -> list:
    found = []
    for message in result.wan:
        payload = decode_gbcs(message.data).payload
        if isinstance(payload, kind):
            found.append(payload)
    return found


def offsets(trace: Trace, device: str = "ppmid") -> list[int]:
    return [e.fields["file_offset"] for e in trace.of("image_block_request", src=device)]


def read_versions(trace: Trace, device: str = "ppmid") -> list[int]:
    return [record["value"] for e in trace.of("read_attributes_response", src=device,
                                              cluster=ota.CLUSTER_ID)
            for record in e.fields["records"] if record["attribute"] == ota.CURRENT_FILE_VERSION]


def test_catalogues_name_every_exchange_and_profile_of_the_contract() -> None:
    assert set(SCENARIOS) == {
        "upgrade", "upgrade-large", "upgrade-hw-mismatch", "upgrade-no-hw-version",
        "upgrade-invalid-image", "upgrade-lossy", "upgrade-abandoned", "downgrade",
        "read-version", "rogue-cad", "ihd-refused", "two-devices", "version-event",
    }
    assert len(PROFILES) == 33
    assert {p.side for p in PROFILES.values()} == {"chf", "device"}
    assert all(p.requirement and p.description for p in PROFILES.values())


def test_upgrade_notify_query_and_response_carry_the_held_image() -> None:
    _, trace, _ = run("upgrade")
    notify = trace.of("image_notify", src="chf", dst="ppmid")
    query = trace.of("query_next_image_request", src="ppmid", dst="chf")
    answer = trace.of("query_next_image_response", src="chf", dst="ppmid")
    assert notify and query and answer
    assert notify[0].time < query[0].time <= notify[0].time + PIXIT.query_jitter / 1000 + 0.1
    assert query[0].fields["hardware_version"] == PPMID.hardware_version
    assert answer[0].fields == {
        "status": ota.SUCCESS, "manufacturer_code": PPMID.manufacturer_code,
        "image_type": PPMID.image_type, "file_version": IMAGE.file_version,
        "image_size": IMAGE.size,
    }


def test_upgrade_blocks_are_contiguous_exact_and_reassemble_to_the_ota_file() -> None:
    _, trace, _ = run("upgrade")
    requested = offsets(trace)
    distinct = list(dict.fromkeys(requested))
    assert distinct == list(range(0, IMAGE.size, PIXIT.maximum_data_size))
    pending: dict[int, dict] = {}
    for event in trace.events:
        if event.command == "image_block_request" and event.src == "ppmid":
            pending[event.seq] = event.fields
        elif event.command == "image_block_response" and event.fields["status"] == 0:
            asked = pending[event.seq]
            assert event.fields["file_offset"] == asked["file_offset"]
            assert len(event.fields["data"]) <= asked["maximum_data_size"]
            assert event.fields["file_version"] == asked["file_version"]
    assert received_files(trace, "ppmid") == ota_files(DUT, "ppmid")


def test_upgrade_paces_blocks_and_resumes_after_wait_for_data() -> None:
    _, trace, _ = run("upgrade")
    requests = trace.of("image_block_request", src="ppmid")
    gaps = [b.time - a.time for a, b in itertools.pairwise(requests)]
    assert min(gaps) >= PIXIT.minimum_block_period_ms / 1000 - 1e-6
    waits = [e for e in trace.of("image_block_response", dst="ppmid")
             if e.fields["status"] == ota.WAIT_FOR_DATA]
    assert len(waits) == 1
    wait = waits[0]
    assert wait.fields["request_time"] > wait.fields["current_time"]
    assert wait.fields["minimum_block_period"] == PIXIT.minimum_block_period_ms
    asked = [e for e in requests if e.seq == wait.seq and e.time < wait.time][-1]
    after = next(e for e in requests if e.time > wait.time)
    assert after.fields["file_offset"] == asked.fields["file_offset"]
    waited = wait.fields["request_time"] - wait.fields["current_time"]
    assert after.time - wait.time >= waited - 1


def test_upgrade_meter_read_answered_during_download_and_hcalcs_gets_no_image() -> None:
    _, trace, _ = run("upgrade")
    requests = trace.of("image_block_request", src="ppmid")
    start, end = requests[0].time, requests[-1].time
    reads = [e for e in trace.of("read_attributes", src="ppmid", cluster=0x0702)
             if start < e.time < end]
    answered = {e.seq for e in trace.of("read_attributes_response", src="chf", cluster=0x0702)}
    assert reads and all(read.seq in answered for read in reads)
    hcalcs_query = trace.of("query_next_image_request", src="hcalcs")
    assert hcalcs_query and "hardware_version" not in hcalcs_query[0].fields
    assert [e.fields["status"] for e in trace.of("query_next_image_response", dst="hcalcs")] == [
        ota.NO_IMAGE_AVAILABLE]


def test_upgrade_ends_now_then_reads_back_the_new_version() -> None:
    _, trace, _ = run("upgrade")
    end = trace.of("upgrade_end_request", src="ppmid")
    assert [e.fields["status"] for e in end] == [ota.SUCCESS]
    response = trace.of("upgrade_end_response", src="chf", dst="ppmid")
    assert len(response) == 1 and response[0].fields["upgrade_time"] == 0
    read = trace.of("read_attributes", src="chf", dst="ppmid", cluster=ota.CLUSTER_ID)
    assert read[0].fields["attributes"] == [ota.CURRENT_FILE_VERSION]
    assert read[0].time - response[0].time >= PIXIT.readback_timeout_s
    assert read_versions(trace) == [IMAGE.file_version]


def test_upgrade_alerts_are_signed_and_report_success() -> None:
    result, trace, _ = run("upgrade")
    certificate = chf_certificate()
    assert [m.kind for m in result.wan] == ["alert", "alert"]
    assert all(verify_apdu(m.data, certificate) for m in result.wan)
    assert all(m.recipient == PIXIT.supplier_id for m in result.wan)
    assert all(decode_gbcs(m.data).apdu.recipient == PIXIT.supplier_id for m in result.wan)
    (ccs08,) = payloads(result, Ccs08Alert)
    assert (ccs08.alert_code, ccs08.response_code) == (0x8F8A, 0)
    assert ccs08.entity_id == PPMID.eui64
    assert ccs08.firmware_version == IMAGE.file_version.to_bytes(4, "big")
    (cs08,) = payloads(result, Cs08Alert)
    assert (cs08.alert_code, cs08.activate_image) == (0x8F8B, 0)
    assert cs08.firmware_version == IMAGE.file_version.to_bytes(4, "big")
    last_read = trace.of("read_attributes_response", src="ppmid")[-1]
    assert result.wan[0].time >= last_read.time


def test_capture_times_start_on_the_virtual_epoch() -> None:
    _, trace, _ = run("upgrade")
    assert EPOCH_UNIX <= trace.events[0].time < EPOCH_UNIX + 60
    assert not trace.errors
    assert trace.acks >= len(trace.events)


def test_same_seed_gives_the_same_capture_bytes() -> None:
    first = hashlib.sha256(run("upgrade-lossy", seed=4)[2]).hexdigest()
    capture = io.BytesIO()
    emulate(DUT, "upgrade-lossy", capture, seed=4)
    assert hashlib.sha256(capture.getvalue()).hexdigest() == first
    assert hashlib.sha256(run("upgrade-lossy", seed=5)[2]).hexdigest() != first


def test_ten_percent_loss_still_delivers_the_same_file() -> None:
    result, trace, _ = run("upgrade", seed=2, loss=0.10)
    assert received_files(trace, "ppmid") == ota_files(DUT, "ppmid")
    assert read_versions(trace)[-1] == IMAGE.file_version
    assert [p.response_code for p in payloads(result, Ccs08Alert)] == [0]


def test_lossy_upgrade_resumes_from_file_offset_after_the_reset() -> None:
    _, trace, _ = run("upgrade-lossy")
    requests = trace.of("image_block_request", src="ppmid")
    waits = [e.time for e in trace.of("image_block_response", dst="ppmid")
             if e.fields["status"] == ota.WAIT_FOR_DATA]
    # The reset: the device silent longer than any response time-out (5 s), and not
    # because the CHF told it to wait.
    silences = [(b.fields["file_offset"], a.fields["file_offset"])
                for a, b in itertools.pairwise(requests)
                if b.time - a.time > 7 and not any(a.time < w < b.time for w in waits)]
    assert len(silences) == 1
    resumed, before = silences[0]
    assert resumed >= before > 0  # it came back where it was, not at 0
    seen = offsets(trace)
    assert all(b >= a for a, b in itertools.pairwise(seen))
    assert received_files(trace, "ppmid")[-1] == ota_files(DUT, "ppmid")[0]
    assert read_versions(trace)[-1] == IMAGE.file_version


def test_hw_mismatch_gets_no_image_no_blocks_and_response_code_2() -> None:
    result, trace, _ = run("upgrade-hw-mismatch")
    assert [e.fields["status"] for e in trace.of("query_next_image_response", dst="ppmid")] == [
        ota.NO_IMAGE_AVAILABLE]
    assert not trace.of("image_block_request")
    (ccs08,) = payloads(result, Ccs08Alert)
    assert (ccs08.alert_code, ccs08.response_code) == (0x8F89, 2)


def test_query_without_hardware_version_still_gets_the_image() -> None:
    _, trace, _ = run("upgrade-no-hw-version")
    query = trace.of("query_next_image_request", src="ppmid")[0]
    assert "hardware_version" not in query.fields
    assert trace.of("query_next_image_response", dst="ppmid")[0].fields["status"] == ota.SUCCESS
    assert read_versions(trace) == [IMAGE.file_version]


def test_invalid_image_is_refused_and_the_old_version_kept() -> None:
    result, trace, _ = run("upgrade-invalid-image")
    assert [e.fields["status"] for e in trace.of("upgrade_end_request", src="ppmid")] == [
        ota.INVALID_IMAGE]
    assert not trace.of("upgrade_end_response")
    assert read_versions(trace) == [PPMID.current_version]
    (ccs08,) = payloads(result, Ccs08Alert)
    assert (ccs08.alert_code, ccs08.response_code) == (0x8F89, 3)
    assert not payloads(result, Cs08Alert)


def test_abandoned_download_ends_in_abort_without_activation() -> None:
    result, trace, _ = run("upgrade-abandoned")
    assert [e.fields["status"] for e in trace.of("upgrade_end_request", src="ppmid")] == [
        ota.ABORT]
    assert not trace.of("upgrade_end_response")
    assert read_versions(trace) == [PPMID.current_version]
    (ccs08,) = payloads(result, Ccs08Alert)
    assert (ccs08.alert_code, ccs08.response_code) == (0x8F89, 3)


def test_downgrade_refused_per_pics_without_download() -> None:
    _result, trace, _ = run("downgrade")
    assert not DUT.pics.downgrade_accepted
    assert trace.of("query_next_image_response", dst="ppmid")[0].fields["status"] == ota.SUCCESS
    assert not trace.of("image_block_request")
    assert [e.fields["status"] for e in trace.of("upgrade_end_request", src="ppmid")] == [
        ota.ABORT]
    assert read_versions(trace) == [PPMID.current_version]


def test_downgrade_accepted_when_the_pics_says_so() -> None:
    accepting = VARIANTS["downgrade-accepted"]
    _, trace, _ = run("downgrade", variant="downgrade-accepted")
    old = accepting.images["ppmid-old"]
    assert received_files(trace, "ppmid") == ota_files(accepting, "ppmid-old")
    assert read_versions(trace) == [old.file_version]


def test_read_version_answers_success_then_failure_when_switched_off() -> None:
    result, trace, _ = run("read-version")
    kinds = [m.kind for m in result.wan]
    assert kinds == ["command", "response", "command", "response"]
    first, second = payloads(result, Cs08Response)
    assert (first.firmware_version, first.response_code) == (
        PPMID.current_version.to_bytes(4, "big"), 0)
    assert second.response_code == 1
    reads = trace.of("read_attributes", src="chf", dst="ppmid")
    answers = trace.of("read_attributes_response", src="ppmid")
    assert len(answers) == 1 and len(reads) > 1
    assert reads[0].time > result.wan[0].time and answers[0].time < result.wan[1].time


def test_rogue_cad_is_ignored_and_a_genuine_upgrade_still_works() -> None:
    _, trace, _ = run("rogue-cad")
    from_cad = [e.command for e in trace.events if e.src == "cad"]
    assert from_cad == ["image_notify", "query_next_image_response", "image_block_response",
                        "upgrade_end_response"]
    assert not [e for e in trace.events if e.dst == "cad"]
    assert read_versions(trace) == [IMAGE.file_version]


def test_ihd_is_refused_and_gets_no_image() -> None:
    result, trace, _ = run("ihd-refused")
    assert not trace.of("image_notify", dst="ihd")
    assert [e.fields["status"] for e in trace.of("query_next_image_response", dst="ihd")] == [
        ota.NO_IMAGE_AVAILABLE]
    assert not result.wan


def test_two_devices_interleave_and_each_gets_its_own_image_and_alerts() -> None:
    result, trace, _ = run("two-devices")
    ppmid_times = [e.time for e in trace.of("image_block_request", src="ppmid")]
    hcalcs_times = [e.time for e in trace.of("image_block_request", src="hcalcs")]
    assert ppmid_times[0] < hcalcs_times[-1] and hcalcs_times[0] < ppmid_times[-1]
    assert received_files(trace, "ppmid") == ota_files(DUT, "ppmid")
    assert received_files(trace, "hcalcs") == ota_files(DUT, "hcalcs")
    by_entity = {p.entity_id: p for p in payloads(result, Ccs08Alert)}
    assert set(by_entity) == {PPMID.eui64, DUT.nodes["hcalcs"].eui64}
    recipients = {decode_gbcs(m.data).payload.entity_id: m.recipient for m in result.wan
                  if isinstance(decode_gbcs(m.data).payload, Ccs08Alert)}
    assert recipients == {PPMID.eui64: PIXIT.supplier_id,
                          DUT.nodes["hcalcs"].eui64: PIXIT.second_supplier_id}


def test_version_event_is_reported_and_still_read() -> None:
    _, trace, _ = run("version-event")
    reports = trace.of("report_attributes", src="ppmid")
    read = trace.of("read_attributes", src="chf", dst="ppmid", cluster=ota.CLUSTER_ID)
    assert reports and read and reports[0].time < read[0].time
    assert reports[0].fields["records"] == [
        {"attribute": 0x0002, "data_type": 0x23, "value": IMAGE.file_version}]
    assert read_versions(trace) == [IMAGE.file_version]


def test_unknown_exchange_and_profile_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown exchange"):
        emulate(DUT, "nope", io.BytesIO())
    with pytest.raises(ValueError, match="unknown fault profile"):
        emulate(DUT, "upgrade", io.BytesIO(), profiles={"ppmid": "nope"})
    with pytest.raises(ValueError, match="chf side"):
        emulate(DUT, "upgrade", io.BytesIO(), profiles={"ppmid": "never-notifies"})


def test_on_frame_sees_every_frame_in_unix_time() -> None:
    seen: list[tuple[float, bytes]] = []
    capture = io.BytesIO()
    result = emulate(DUT, "ihd-refused", capture, on_frame=lambda t, f: seen.append((t, f)))
    assert len(seen) == result.frames > 0
    assert all(EPOCH_UNIX <= time < EPOCH_UNIX + result.virtual_seconds for time, _ in seen)
    written = list(decode_records(capture_records(io.BytesIO(capture.getvalue()))))
    assert [(r.time, r.raw) for r in written] == [(round(t, 6), f) for t, f in seen]
