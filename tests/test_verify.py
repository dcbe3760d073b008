"""The verifier on hand-made traces: the assertion API, verdict honesty, PICS gates.

Frames are built as ``hanota.layers.model`` objects with the addresses of the default DUT
description, so no codec or emulator is involved: these tests pin the verify/ logic.
"""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime

import pytest
from handmade import (
    DUT,
    IMAGE,
    PPMID,
    SUCCESS_ROW,
    T0,
    block_pair,
    ccs08,
    download,
    link_status,
    record,
    trace_of,
    with_period,
)
from hanota.emulators.wan import chf_certificate, chf_signing_key
from hanota.layers import ota
from hanota.layers.gbcs import build_ccs08_alert
from hanota.layers.model import FrameRecord
from hanota.verify.api import Match, Verifier
from hanota.verify.checks import (
    activation,
    block_transfer,
    concurrency,
    local_upgrade_ban,
    notification,
    scope,
    version_report,
)
from hanota.verify.trace import EVIDENCED, Trace
from hanota.verify.verdicts import Evidence, Inconclusive, NotApplicable, Violation
from judge_all import NODE_CHECKS, TRACE_CHECKS

# ---- the assertion API -------------------------------------------------------------------


def test_next_finds_the_matching_frame_after_the_cursor():
    trace = trace_of(download())
    verifier = Verifier(trace)
    query = verifier.next(Match(command="query_next_image_request", src="ppmid", dst="chf"))
    assert query is not None and query.number == 2
    block = verifier.next(Match(command="image_block_request", fields={"file_offset": 128}),
                          after=query)
    assert block is not None and block.get("file_offset") == 128
    assert verifier.next(Match(command="image_notify"), after=query) is None


def test_failed_field_check_shows_frame_number_and_decoded_frame():
    trace = trace_of(download())
    verifier = Verifier(trace)
    response = verifier.next(Match(command="image_block_response"))
    with pytest.raises(Violation) as failure:
        verifier.check_field(response, "file_offset", 64, rule="FRAG-1: exact offset")
    text = str(failure.value)
    assert f"frame {response.number}:" in text
    assert "image_block_response" in text and "file_offset=0" in text
    assert "chf(0x0000)→ppmid(0x4A31)" in text


def test_must_next_fails_only_when_the_window_closed():
    frames = download()
    verifier = Verifier(trace_of(frames))
    notify = verifier.next(Match(command="image_notify"))
    absent = Match(command="query_next_image_request", src="ppmid", dst="cad")
    with pytest.raises(Violation, match="no query_next_image_request from ppmid to cad"):
        verifier.must_next(absent, notify, within=1.5, rule="rule")
    with pytest.raises(Inconclusive, match="trace ends before"):
        verifier.must_next(absent, notify, within=600, rule="rule")


def test_must_not_next_fails_with_the_offending_frame():
    verifier = Verifier(trace_of(download()))
    with pytest.raises(Violation) as failure:
        verifier.must_not_next(Match(command="upgrade_end_request"), rule="no end")
    assert failure.value.frames[0].command == "upgrade_end_request"


def test_growing_trace_pulls_more_frames_when_the_search_runs_past_its_end():
    pending = download()
    trace = trace_of(pending[:3], more=lambda t: t.extend([pending.pop(3)]) > 0
                     if len(pending) > 3 else False)
    end = Verifier(trace).next(Match(command="upgrade_end_response"))
    assert end is not None and end.number == len(download())


def test_empty_evidence_never_passes():
    with pytest.raises(Inconclusive):
        Evidence("FRAG-1").conclude()


# ---- verdict honesty ---------------------------------------------------------------------

@pytest.mark.parametrize("check", NODE_CHECKS + TRACE_CHECKS, ids=lambda c: c.__name__)
def test_a_trace_without_the_exchange_is_inconclusive_never_pass(check):
    """An empty capture proves nothing: every check says INCONCLUSIVE (or N/A by PICS)."""
    trace = Trace(DUT, [], held_images=[DUT.images["ppmid"]])
    args = (trace, "ppmid") if check in NODE_CHECKS else (trace,)
    with pytest.raises((Inconclusive, NotApplicable)):
        check(*args)


def test_every_check_of_the_areas_is_exercised_above():
    checks = set(NODE_CHECKS + TRACE_CHECKS) | {concurrency.check_alerts_to_requester,
                                                 local_upgrade_ban.check_cad_update_path,
                                                 version_report.check_ccs08_alert}
    for module in (scope, notification, block_transfer, activation, version_report,
                   local_upgrade_ban, concurrency):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and function.__module__ == module.__name__:
                assert function in checks, name


@pytest.mark.parametrize("check", [activation.check_upgrade_now,
                                   activation.check_new_version_running,
                                   version_report.check_readback,
                                   version_report.check_cs08_alert])
def test_a_trace_cut_before_activation_is_inconclusive(check):
    frames = download(end=False)
    with pytest.raises(Inconclusive):
        check(trace_of(frames[:-2]), "ppmid")


@pytest.mark.parametrize("outcome", list(version_report.OUTCOMES))
def test_every_ccs08_row_is_inconclusive_on_an_empty_or_cut_trace(outcome):
    with pytest.raises(Inconclusive):
        version_report.check_ccs08_alert(Trace(DUT, [], held_images=[DUT.images["ppmid"]]),
                                         "ppmid", outcome)
    with pytest.raises(Inconclusive):
        version_report.check_ccs08_alert(trace_of(download(end=False)[:-2]), "ppmid", outcome)


def test_no_alerts_given_makes_alert_checks_inconclusive_not_failed():
    with pytest.raises(Inconclusive, match="GBCS"):
        version_report.check_ccs08_alert(trace_of(download()), "ppmid", SUCCESS_ROW)


def test_conformant_handmade_download_passes_with_evidence():
    trace = trace_of(download())
    evidence = notification.check_device_queries(trace, "ppmid")
    assert evidence.frames == [1, 2]
    assert block_transfer.check_block_requests(trace, "ppmid").frames
    assert block_transfer.check_pacing(trace_of(with_period(download())), "ppmid").frames
    assert activation.check_upgrade_now(trace, "ppmid").frames


def test_requests_faster_than_the_block_period_fail_frag3():
    with pytest.raises(Violation, match="minimum block period of 250 ms") as failure:
        block_transfer.check_pacing(trace_of(with_period(download(period=0.1))), "ppmid")
    assert len(failure.value.frames) == 2


def test_frag3_judges_only_periods_the_chf_gave_on_the_air():
    """Issue 9 #9: without a WAIT_FOR_DATA or a MinimumBlockPeriod written by the CHF the
    PIXIT value is not a period the device was given: INCONCLUSIVE, not FAIL."""
    with pytest.raises(Inconclusive, match="gave it a minimum block period on the air"):
        block_transfer.check_pacing(trace_of(download(period=0.1)), "ppmid")


def test_a_gap_in_the_offsets_fails_frag1():
    frames = download()
    gap = record(6, frames[5].time - T0, "ppmid", "chf", "image_block_request",
                 {"field_control": 0, **IMAGE, "file_offset": 192, "maximum_data_size": 64})
    frames[5] = gap
    with pytest.raises(Violation, match="asks for offset 192"):
        block_transfer.check_block_requests(trace_of(frames), "ppmid")


# ---- PICS and roles ----------------------------------------------------------------------


def _with_pics(**claims) -> Trace:
    dut = dataclasses.replace(DUT, pics=dataclasses.replace(DUT.pics, **claims))
    return Trace(dut, download(), held_images=[DUT.images["ppmid-large"]])


def test_pics_off_gives_not_applicable():
    trace = _with_pics(large_image_process=False, version_event=False)
    with pytest.raises(NotApplicable, match="large_image_process"):
        block_transfer.check_large_image_device(trace, "ppmid")
    with pytest.raises(NotApplicable, match="large_image_process"):
        block_transfer.check_large_image_chf(trace, "ppmid")
    with pytest.raises(NotApplicable, match="version_event"):
        version_report.check_event_then_read_device(trace, "ppmid")


def test_ban4_is_reported_outside_the_suite_never_passed():
    claimed = dataclasses.replace(DUT, pics=dataclasses.replace(DUT.pics, cad_update_path=True))
    with pytest.raises(NotApplicable, match="OUTSIDE THIS SUITE"):
        local_upgrade_ban.check_cad_update_path(claimed)
    with pytest.raises(NotApplicable, match="claims no"):
        local_upgrade_ban.check_cad_update_path(DUT)


def test_a_node_that_is_not_a_device_is_not_applicable():
    with pytest.raises(NotApplicable, match="not a PPMID or HCALCS"):
        notification.check_device_queries(trace_of(download()), "ihd")


# ---- the WAN side ------------------------------------------------------------------------


def _alert(signed: bool) -> bytes:
    return build_ccs08_alert(
        originator=DUT.chf.eui64, recipient=DUT.pixit.supplier_id, counter=1,
        time=datetime(2026, 1, 1, tzinfo=UTC),
        alert_code=0x8F8A, entity_id=PPMID.eui64, firmware_version=0x01020400,
        response_code=0, private_key=chf_signing_key() if signed else None)


def test_gbcs_alert_decoded_and_signature_checked():
    trace = trace_of(download())
    message = trace.add_wan(_alert(signed=True), T0 + 40, chf_certificate())
    assert message.kind == "alert" and message.sender == DUT.chf.eui64
    assert message.fields["entity_id"] == PPMID.eui64
    assert message.fields["firmware_version"] == 0x01020400
    assert message.signature_valid is True
    assert version_report.check_alert_signatures(trace).wan == [0]
    evidence = version_report.check_ccs08_alert(trace, "ppmid", SUCCESS_ROW)
    assert evidence.wan == [0]


def test_unsigned_alert_fails_ver6_with_the_message():
    trace = trace_of(download())
    trace.add_wan(_alert(signed=False), T0 + 40, chf_certificate())
    with pytest.raises(Violation, match="not signed") as failure:
        version_report.check_alert_signatures(trace)
    assert "WAN message 0" in str(failure.value)


def test_malformed_gbcs_is_kept_with_its_error():
    trace = trace_of([])
    message = trace.add_wan(b"\xdf\x09\x01", None)
    assert message.error and "gbcs" in message.error


def test_replay_infers_the_held_images_from_the_trace():
    """Without a list of delivered images, only images the trace shows are held: an
    image the CHF never offered cannot make NOTIFY-1 fail in a replay."""
    trace = Trace(DUT, download(), held_images=EVIDENCED)
    assert [image.name for image in trace.held_images] == ["ppmid"]
    assert len(Trace(DUT, download()).held_images) == len(DUT.images)
    with pytest.raises(Inconclusive, match="no image for hcalcs"):
        notification.check_image_notify(trace, "hcalcs")


# ---- each scenario needs its own situation (INCONCLUSIVE without it) -------------------

def _with_alert(frames: list[FrameRecord], alert_code: int, response_code: int) -> Trace:
    trace = trace_of(frames)
    trace.add_wan(ccs08(alert_code, response_code), frames[-1].time + 5, chf_certificate())
    return trace


def _mismatch(hardware_version: int) -> list[FrameRecord]:
    """The PPMID queries with ``hardware_version``; the CHF has no image for it."""
    return [
        record(1, 0, "chf", "ppmid", "image_notify", {"payload_type": 0, "query_jitter": 50}),
        record(2, 1, "ppmid", "chf", "query_next_image_request",
               {"field_control": 1, **IMAGE, "file_version": PPMID.current_version,
                "hardware_version": hardware_version}),
        record(3, 1.1, "chf", "ppmid", "query_next_image_response",
               {"status": ota.NO_IMAGE_AVAILABLE}),
    ]


def _ended_with(status: int) -> list[FrameRecord]:
    frames = download(end=False)
    frames.append(record(len(frames) + 1, frames[-1].time - T0 + 0.3, "ppmid", "chf",
                         "upgrade_end_request", {"status": status, **IMAGE}))
    return frames


FAIL_CODE, SUCCESS_CODE = 0x8F89, 0x8F8A


def test_ver3_rows_need_their_own_outcome_not_anyccs08():
    """A success-only capture passes the success row and is INCONCLUSIVE for the others."""
    success = _with_alert(download(), SUCCESS_CODE, 0)
    assert version_report.check_ccs08_alert(success, "ppmid", SUCCESS_ROW).wan == [0]
    for row in ("a hardware version mismatch", "a refused corrupt image",
                "an abandoned transfer"):
        with pytest.raises(Inconclusive, match="VER-3: the trace holds no"):
            version_report.check_ccs08_alert(success, "ppmid", row)


def test_ver3_mismatch_row_judges_the_alert_of_a_real_mismatch():
    row = "a hardware version mismatch"
    assert version_report.check_ccs08_alert(
        _with_alert(_mismatch(7), FAIL_CODE, 2), "ppmid", row).frames == [2, 3]
    with pytest.raises(Violation, match="alert code"):
        version_report.check_ccs08_alert(_with_alert(_mismatch(7), SUCCESS_CODE, 0),
                                         "ppmid", row)
    with pytest.raises(Inconclusive, match="hardware version outside"):  # 2 is in range 1..4
        version_report.check_ccs08_alert(_with_alert(_mismatch(2), FAIL_CODE, 2), "ppmid", row)


def test_ver3_invalid_image_and_abandoned_rows():
    invalid = _with_alert(_ended_with(ota.INVALID_IMAGE), FAIL_CODE, 3)
    assert version_report.check_ccs08_alert(invalid, "ppmid", "a refused corrupt image").wan
    with pytest.raises(Inconclusive):
        version_report.check_ccs08_alert(invalid, "ppmid", SUCCESS_ROW)
    with pytest.raises(Violation, match="response code must be 1/3"):
        version_report.check_ccs08_alert(_with_alert(_ended_with(ota.INVALID_IMAGE),
                                                     FAIL_CODE, 2),
                                         "ppmid", "a refused corrupt image")
    aborted = _with_alert(_ended_with(ota.ABORT), FAIL_CODE, 3)
    assert version_report.check_ccs08_alert(aborted, "ppmid", "an abandoned transfer").wan
    silent = download(end=False)[:-1]  # the last block request is never answered...
    silent.append(link_status(99, silent[-1].time + 30, "chf"))  # ...while the CHF talks
    assert version_report.check_ccs08_alert(_with_alert(silent, FAIL_CODE, 3), "ppmid",
                                            "an abandoned transfer").wan
    with pytest.raises(Violation, match="alert code"):
        version_report.check_ccs08_alert(_with_alert(silent, SUCCESS_CODE, 0), "ppmid",
                                         "an abandoned transfer")


REQUESTERS = {"ppmid": DUT.pixit.supplier_id, "hcalcs": DUT.pixit.second_supplier_id}


def _alerts_to(*recipients: tuple[str, str]) -> Trace:
    trace = trace_of(download())
    for entity, recipient in recipients:
        trace.add_wan(ccs08(SUCCESS_CODE, 0, entity, recipient), T0 + 40, chf_certificate())
    return trace


def test_conc2_needs_alerts_for_both_requesters():
    single = _alerts_to(("ppmid", DUT.pixit.supplier_id))
    with pytest.raises(Inconclusive, match="no alert for hcalcs"):
        concurrency.check_alerts_to_requester(single, REQUESTERS)
    with pytest.raises(Inconclusive, match="fewer than two requesting suppliers"):
        concurrency.check_alerts_to_requester(single, {"ppmid": DUT.pixit.supplier_id})
    both = _alerts_to(("ppmid", DUT.pixit.supplier_id),
                      ("hcalcs", DUT.pixit.second_supplier_id))
    assert concurrency.check_alerts_to_requester(both, REQUESTERS).wan == [0, 1]
    crossed = _alerts_to(("ppmid", DUT.pixit.supplier_id), ("hcalcs", DUT.pixit.supplier_id))
    with pytest.raises(Violation, match="hcalcs's update was requested by"):
        concurrency.check_alerts_to_requester(crossed, REQUESTERS)


def _two_parts(gap: bool = False) -> list[FrameRecord]:
    """A first part ending REQUIRE_MORE_IMAGE, then a second OTA file downloaded."""
    first = _ended_with(ota.REQUIRE_MORE_IMAGE)
    first.append(record(len(first) + 1, first[-1].time - T0 + 0.05, "chf", "ppmid",
                        "upgrade_end_response",
                        {**IMAGE, "current_time": 820_000_000, "upgrade_time": 0}))
    second = download(start=first[-1].time - T0 + 1)[1:]
    if gap:
        del second[4:6]  # the second block pair: the device asks for 128 after 64
    return [dataclasses.replace(frame, number=n) for n, frame in
            enumerate(first + second, start=1)]


def test_frag1_in_parts_needs_a_download_in_parts():
    with pytest.raises(Inconclusive, match="single OTA file"):
        block_transfer.check_block_requests(trace_of(download()), "ppmid", True)
    assert block_transfer.check_block_requests(trace_of(download()), "ppmid").frames
    evidence = block_transfer.check_block_requests(trace_of(_two_parts()), "ppmid", True)
    assert "the image goes in 2 parts" in evidence.notes
    with pytest.raises(Violation, match="a gap"):
        block_transfer.check_block_requests(trace_of(_two_parts(gap=True)), "ppmid", True)


def _interrupted(kind: str, resume_at: int = 128) -> Trace:
    """Blocks 0 and 64 answered, then ``kind`` at 128, then the device asks ``resume_at``."""
    frames = download(blocks=0, end=False)
    frames += block_pair(4, 2.0, 0) + block_pair(6, 2.3, 64)
    if kind == "wait":
        frames += block_pair(8, 2.6, 128, ota.WAIT_FOR_DATA)
        frames += block_pair(10, 4.7, resume_at)
    elif kind == "loss":
        frames += block_pair(8, 2.6, 128, None)
        frames += block_pair(9, 7.6, resume_at)
    else:  # a reset: the device falls silent for 8 s after block 64's answer
        frames += block_pair(8, 10.6, resume_at)
    return trace_of(frames)


def test_frag4_a_wait_for_data_is_not_an_interruption():
    with pytest.raises(Inconclusive, match="no interruption"):
        block_transfer.check_resume(_interrupted("wait"), "ppmid")
    with pytest.raises(Inconclusive, match="no interruption"):
        block_transfer.check_resume(trace_of(download()), "ppmid")


def test_frag4_resumption_after_a_loss_or_a_reset_passes_and_from_zero_fails():
    loss = block_transfer.check_resume(_interrupted("loss"), "ppmid")
    assert loss.frames == [8, 9, 10] and "unanswered request retried" in loss.notes[0]
    with pytest.raises(Violation, match="goes back to offset 0"):
        block_transfer.check_resume(_interrupted("reset", resume_at=0), "ppmid")


def test_frag4_a_plain_pause_is_no_interruption():
    """Issue 9 #17: 8 s of silence and the next block in order is no reset (it passed
    FRAG-4 before); a reset is a restart seen on the air."""
    with pytest.raises(Inconclusive, match="no interruption"):
        block_transfer.check_resume(_interrupted("reset"), "ppmid")
