"""VER: the CHF reads the version back and tells the supplier (VER-1..6)."""

from __future__ import annotations

from collections.abc import Callable

from hanota.layers import ota
from hanota.layers.gbcs import MESSAGE_CODE_CS08
from hanota.layers.gbcs_payloads import (
    ALERT_FIRMWARE_TRANSFER_FAIL,
    ALERT_FIRMWARE_TRANSFER_SUCCESS,
)
from hanota.verify.api import Verifier, check_wan_field
from hanota.verify.checks.activation import activation_of, announcements
from hanota.verify.checks.common import (
    ANSWER_WINDOW_S,
    TIME_TOLERANCE_S,
    blind_reason,
    ccs08_about,
    chf,
    device,
    held_at,
    held_images,
    holding_spans,
    is_cs08_alert,
    missing_wan,
    require_pics,
    timed_wan,
    version_answers,
    version_read,
    version_reads,
)
from hanota.verify.ota_view import sessions
from hanota.verify.trace import Frame, Trace, WanRecord
from hanota.verify.verdicts import Evidence, Inconclusive, Violation

ACTIVATE_IMAGE = (0, 1)
"""CS08 alert activateImage: Success, Failure."""
READ_SUCCESS, READ_FAILURE = 0, 1
READ_GRACE_S = 60.0
"""VER-1: after the read-back time-out the CHF reads within this (retries included)."""


def check_readback(trace: Trace, name: str, grace: float = READ_GRACE_S) -> Evidence:
    """VER-1 (CHF side): after activation the CHF waits the read-back time-out, then reads
    CurrentFileVersion itself, within ``READ_GRACE_S`` of the time-out. A CCS08 transfer
    alert is no version report: only the CS08 alert 0x8F8B reporting a version the CHF
    never read is a FAIL (where the sniffer saw the CHF all along)."""
    device(trace, name)
    verifier = Verifier(trace)
    end, answer = activation_of(trace, name)
    timeout = trace.dut.pixit.readback_timeout_s
    server = chf(trace)
    latest = timeout + grace
    read = verifier.next(version_reads(server, name), answer)
    if read is None:
        read = _read_shown_by_answer(trace, verifier, name, answer)
    if read is None:
        reports = timed_wan(verifier, is_cs08_alert, what="VER-1: the CS08 version report",
                            after_time=answer.time)
        if reports:
            until = verifier.window_end(answer, reports[0].time - answer.time)
            missed = blind_reason(trace, answer.index, until, (server, name))
            if missed:
                raise Inconclusive(f"VER-1: no read-back seen before the CHF reports the "
                                   f"version, but the sniffer may have missed it: {missed}")
            raise Violation("VER-1: the CHF reports the version (CS08 alert) without "
                            "reading it back", [end, answer], reports[:1])
        raise verifier.absence(version_reads(server, name), answer, latest,
                               rule="VER-1: the CHF reads the version back after activation",
                               shown=[end])
    waited = read.time - answer.time
    if waited + 1.0 < timeout:
        raise Violation(f"VER-1: the CHF reads {waited:.1f} s after activation, before the "
                        f"read-back time-out ({timeout:g} s)", [answer, read])
    if waited > latest:
        missed = blind_reason(trace, answer.index, read.index, (server,))
        if missed:
            raise Inconclusive(f"VER-1: the first read seen comes {waited:.0f} s after "
                               f"activation, but an earlier one may have been missed: {missed}")
        raise Violation(f"VER-1: the CHF reads {waited:.0f} s after activation, more than "
                        f"{grace:g} s after the read-back time-out ({timeout:g} s)",
                        [answer, read])
    evidence = Evidence("VER-1")
    evidence.frame(answer, read, note=f"read back {waited:.1f} s after activation")
    return evidence


def _read_shown_by_answer(trace: Trace, verifier: Verifier, name: str,
                          after: Frame) -> Frame | None:
    """The device's answer to a read the sniffer missed: an answer proves its read, and
    stands for its time (README rule 1: proof comes from the peer)."""
    return verifier.next(version_answers(name, chf(trace)), after)


def check_version_answered(trace: Trace, name: str,
                           within: float = ANSWER_WINDOW_S) -> Evidence:
    """VER-1 (device side): after its activation the device answers the CHF's read with
    its running version (a device switched off for VER-4 is not judged here)."""
    device(trace, name)
    verifier = Verifier(trace)
    _, answer = activation_of(trace, name)
    if announcements(trace, name, answer) and trace.dut.pics.version_event:
        raise Inconclusive(f"{name} announces its version itself: whether it still answers "
                           "the read is judged by VER-5")
    reads = verifier.all(version_reads(chf(trace), name), after=answer)
    if not reads:
        raise Inconclusive(f"the CHF never reads CurrentFileVersion of {name} after its "
                           "activation in this trace")
    evidence = Evidence("VER-1")
    for read in reads:
        reply = verifier.must_next(version_answers(name, chf(trace)), read, within,
                                   rule=f"VER-1: {name} answers the read of CurrentFileVersion")
        evidence.frame(read, reply, note=f"{name} answers 0x{version_read(reply):X}")
    return evidence


def check_cs08_alert(trace: Trace, name: str,
                     activate: tuple[int, int] = ACTIVATE_IMAGE) -> Evidence:
    """VER-2: the CS08 alert 0x8F8B carries the version read, and Success exactly when it
    equals the image's file version."""
    device(trace, name)
    verifier = Verifier(trace)
    end, answer = activation_of(trace, name)
    expected = end.get("file_version")
    reply = verifier.next(version_answers(name, chf(trace)), answer)
    if reply is None:
        raise Inconclusive(f"the trace holds no version read back from {name} after "
                           "activation (VER-1 evidence missing)")
    read = version_read(reply)
    alerts = timed_wan(verifier, is_cs08_alert, what="VER-2: the CS08 alert",
                       after_time=reply.time - TIME_TOLERANCE_S)
    others = [n for n, node in trace.dut.nodes.items() if n != name and node.kind in
              ("ppmid", "hcalcs")]
    if others:  # several devices: the alert carrying this device's image or its read
        mine = [m for m in alerts if m.get("firmware_version") in (read, expected)]
        alerts = mine or alerts
    if not alerts:
        raise missing_wan(verifier, "CS08 alert 0x8F8B after the read-back", reply.time,
                          "VER-2: the CHF reports the version read", [end, reply])
    alert = alerts[0]
    check_wan_field(alert, "firmware_version", read, frames=[reply],
                    rule="VER-2: the CS08 alert carries the version read")
    success = activate[0] if read == expected else activate[1]
    word = "Success" if read == expected else "Failure"
    check_wan_field(alert, "activate_image", success, frames=[end, reply],
                    rule=f"VER-2: activateImage must be {success} ({word}: read 0x{read:X}, "
                    f"image 0x{expected:X})")
    evidence = Evidence("VER-2")
    evidence.frame(end, reply)
    evidence.message(alert, note=f"CS08 alert: version 0x{read:X}, activateImage {success}")
    return evidence


SUCCESS = "success"
HARDWARE_MISMATCH = "hardware-mismatch"
INVALID_IMAGE = "invalid-image"
ABANDONED = "abandoned"

OUTCOMES: dict[str, str] = {
    "a successful transfer": SUCCESS,
    "a hardware version mismatch": HARDWARE_MISMATCH,
    "a refused corrupt image": INVALID_IMAGE,
    "an abandoned transfer": ABANDONED,
}
"""VER-3 Examples rows (the outcome as a supplier's test manager words it) -> outcome."""


def _outside_range(trace: Trace, name: str, hardware: int | None) -> bool:
    """Whether ``hardware`` is outside the range of every image the CHF holds for ``name``."""
    if hardware is None:
        return False
    ranges = [(image.min_hardware_version, image.max_hardware_version)
              for image in held_images(trace, name)]
    return bool(ranges) and all(
        (low is not None and hardware < low) or (high is not None and hardware > high)
        for low, high in ranges)


def _mismatch(trace: Trace, name: str) -> list[Frame] | None:
    """A query whose hardware version is outside the held image's range, answered
    NO_IMAGE_AVAILABLE while the CHF shows it holds the image (or, where it never shows
    it, anywhere): a refusal before or after that is routine (README rule 3)."""
    spans = holding_spans(trace, name)
    for session in sessions(trace, name):
        for query, response in session.queries:
            if response is not None and response.get("status") == ota.NO_IMAGE_AVAILABLE \
                    and (not spans or held_at(trace, spans, query.index)) \
                    and _outside_range(trace, name, query.get("hardware_version")):
                return [query, response]
    return None


def _ended(trace: Trace, name: str, status: int) -> list[Frame] | None:
    """The device's Upgrade End Request with ``status`` (and the answer, when SUCCESS)."""
    for session in sessions(trace, name):
        end = session.end_request
        if end is None or end.get("status") != status:
            continue
        if status != ota.SUCCESS:
            return [end]
        if session.end_response is not None:
            return [end, session.end_response]
    return None


def _abandoned(trace: Trace, name: str) -> list[Frame] | None:
    """A download that stops without Upgrade End Request SUCCESS: it ends in ABORT, or
    its last block request goes unanswered for the answer window where the sniffer saw
    the CHF (an answer it missed is no silence)."""
    server = chf(trace)
    verifier = Verifier(trace)
    for session in sessions(trace, name):
        if not session.blocks:
            continue
        end = session.end_request
        if end is not None and end.get("status") == ota.ABORT:
            return [session.blocks[-1].request, end]
        last = session.blocks[-1].request
        if end is None and not session.blocks[-1].responses \
                and verifier.window_closed(last.time, ANSWER_WINDOW_S) and not blind_reason(
                    trace, last.index, verifier.window_end(last, ANSWER_WINDOW_S), (server,)):
            return [last]
    return None


# outcome -> (what the HAN must show, alert code, allowed response codes)
_EXPECTED: dict[str, tuple[str, int, set[int]]] = {
    SUCCESS: ("successful activation (Upgrade End Request SUCCESS answered)",
              ALERT_FIRMWARE_TRANSFER_SUCCESS, {0}),
    HARDWARE_MISMATCH: ("Query Next Image Request with a hardware version outside the held "
                        "image's range answered NO_IMAGE_AVAILABLE",
                        ALERT_FIRMWARE_TRANSFER_FAIL, {2}),
    INVALID_IMAGE: ("Upgrade End Request INVALID_IMAGE", ALERT_FIRMWARE_TRANSFER_FAIL, {1, 3}),
    ABANDONED: ("download that stops without Upgrade End Request SUCCESS (ABORT or silence)",
                ALERT_FIRMWARE_TRANSFER_FAIL, {3}),
}


def expected_outcome(trace: Trace, name: str, outcome: str,
                     ) -> tuple[int, set[int], list[Frame]]:
    """What the HAN must show for ``outcome`` of ``name``'s OTA: (alert code, allowed
    response codes, the frames showing it); INCONCLUSIVE when the trace lacks it.

    Why per outcome: a row about a hardware mismatch judged on a capture holding only a
    success would pass on evidence of something else. Success 0x8F8A/0; hardware mismatch
    0x8F89/2; INVALID_IMAGE 0x8F89/3 (or 1, Image Discarded); ABORT or a download the CHF
    left unfinished 0x8F89/3.
    """
    if outcome not in _EXPECTED:
        raise ValueError(f"unknown VER-3 outcome {outcome!r} (known: {sorted(_EXPECTED)})")
    what, alert_code, codes = _EXPECTED[outcome]
    if outcome == SUCCESS:
        frames = _ended(trace, name, ota.SUCCESS)
    elif outcome == HARDWARE_MISMATCH:
        frames = _mismatch(trace, name)
    elif outcome == INVALID_IMAGE:
        frames = _ended(trace, name, ota.INVALID_IMAGE)
    else:
        frames = _abandoned(trace, name)
    if frames is None:
        raise Inconclusive(f"VER-3: the trace holds no {what} for {name}")
    return alert_code, codes, frames


def check_ccs08_alert(trace: Trace, name: str, outcome: str, alert_code: int | None = None,
                      codes: set[int] | None = None) -> Evidence:
    """VER-3: the CCS08 alert for the named outcome (``OUTCOMES``) reports it: the alert
    code and response code of what happened on the HAN. The alert is the first TIMED
    CCS08 for the device after the outcome began (timeless ones take part in no
    time-bounded rule)."""
    node = device(trace, name)
    verifier = Verifier(trace)
    key = OUTCOMES.get(outcome, outcome)
    default_code, default_codes, frames = expected_outcome(trace, name, key)
    alert_code = default_code if alert_code is None else alert_code
    codes = set(trace.dut.pixit.ccs08_response_codes.get(key, codes or default_codes))
    after = frames[0].time
    alerts = timed_wan(verifier, ccs08_about(node.eui64), what=f"VER-3: the CCS08 alert for "
                       f"{name}", after_time=after - TIME_TOLERANCE_S)
    if not alerts:
        raise missing_wan(verifier, f"CCS08 alert for {name}", after,
                          "VER-3: the CHF reports the transfer", frames)
    alert = alerts[0]
    wanted = "/".join(str(c) for c in sorted(codes))
    check_wan_field(alert, "alert_code", alert_code, frames=frames,
                    rule="VER-3: the alert code matches what happened on the HAN")
    check_wan_field(alert, "response_code", lambda v: v in codes, frames=frames,
                    rule=f"VER-3: the response code must be {wanted}")
    versions = {image.file_version for image in held_images(trace, name)}
    versions |= {f.get("file_version") for f in frames if f.get("file_version") is not None}
    check_wan_field(alert, "firmware_version", lambda v: not versions or v in versions,
                    frames=frames, rule="VER-3: the firmware version is the image's")
    evidence = Evidence("VER-3")
    evidence.frame(*frames)
    evidence.message(alert, note=f"CCS08 0x{alert_code:X} response code "
                     f"{alert.get('response_code')}")
    return evidence


def _cs08(kind: str) -> Callable[[WanRecord], bool]:
    return lambda m: m.message_code == MESSAGE_CODE_CS08 and m.kind == kind


def check_sr112(trace: Trace, name: str,
                codes: tuple[int, int] = (READ_SUCCESS, READ_FAILURE)) -> Evidence:
    """VER-4: on a CS08 command for the device the CHF reads it and answers Read Success
    with the version, or Read Failure when the device does not answer. A command and its
    response are paired by transaction id (the response echoes the command's originator
    counter) and party (the response goes back to the command's sender)."""
    node = device(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    commands = [c for c in verifier.wan(_cs08("command")) if c.recipient == node.eui64]
    if not commands:
        raise Inconclusive(f"the trace holds no CS08 command (SR 11.2) for {name}")
    responses = verifier.wan(_cs08("response"))
    evidence = Evidence("VER-4")
    for command in commands:
        answer = next((r for r in responses if r.transaction_id == command.transaction_id
                       and r.recipient == command.sender), None)
        if answer is None:
            raise missing_wan(verifier, f"CS08 response to the command (transaction "
                              f"{command.transaction_id})", command.time,
                              "VER-4: the CHF answers SR 11.2")
        if command.time is None or answer.time is None:
            raise Inconclusive("VER-4: the CS08 command or its response has no time: the "
                               "CHF's read cannot be placed between them")
        _judge_sr112(trace, verifier, server, node.name, command, answer, evidence, codes)
    return evidence


def _judge_sr112(trace: Trace, verifier: Verifier, server: str, name: str,
                 command: WanRecord, answer: WanRecord, evidence: Evidence,
                 codes: tuple[int, int]) -> None:
    success, failure = codes
    assert command.time is not None and answer.time is not None
    first = verifier.position_at(command.time) + 1
    last = max(verifier.position_at(answer.time), first)
    between = trace.frames[first:last + 1]
    reads = [f for f in between if version_reads(server, name)(f)]
    replies = [f for f in between if version_answers(name, server)(f)]
    if not reads and not replies:
        if not verifier.covers(command.time, answer.time):
            raise Inconclusive("VER-4: no read seen, but the capture does not span the CS08 "
                               f"command and its response (WAN {command.index} and "
                               f"{answer.index}): a read between them would not be in it")
        missed = blind_reason(trace, first, last, (server,))
        if missed or not trace.shows_han:
            raise Inconclusive(f"VER-4: no read of {name} seen between the CS08 command and "
                               f"its response, but the sniffer may have missed it: "
                               f"{missed or 'no HAN frame decodes'}")
        raise Violation("VER-4: the CHF answers SR 11.2 without reading the device",
                        between[:1] or trace.frames[-1:], [command, answer])
    if replies:
        version = version_read(replies[0])
        check_wan_field(answer, "response_code", success, frames=reads[:1] + replies[:1],
                        rule=f"VER-4: the device answered: Read Success ({success})")
        check_wan_field(answer, "firmware_version", version, frames=[replies[0]],
                        rule="VER-4: the response carries the version read")
        evidence.frame(*reads[:1], replies[0])
    elif answer.get("response_code") == success:
        missed = blind_reason(trace, reads[0].index, last, (name,))
        if missed:
            raise Inconclusive(f"VER-4: the CHF reports Read Success but no answer of "
                               f"{name} is seen; the sniffer may have missed it: {missed}")
        raise Violation("VER-4: the device did not answer the read, yet the CHF reports "
                        "Read Success", reads, [command, answer])
    else:
        check_wan_field(answer, "response_code", failure, frames=reads,
                        rule=f"VER-4: the device did not answer: Read Failure ({failure})")
        evidence.frame(*reads)
    evidence.message(command, answer)


def check_event_then_read_device(trace: Trace, name: str) -> Evidence:
    """VER-5 (device side, PICS version_event): a device that announces its version still
    answers the CHF's read."""
    require_pics(trace, "version_event", "VER-5")
    device(trace, name)
    verifier = Verifier(trace)
    events = announcements(trace, name)
    if not events:
        raise Inconclusive(f"{name} never announces its version in this trace")
    read = verifier.need(version_reads(chf(trace), name), events[0],
                         what=f"read of CurrentFileVersion after {name}'s announcement")
    reply = verifier.must_next(version_answers(name, chf(trace)), read, ANSWER_WINDOW_S,
                               rule=f"VER-5: {name} still answers the CHF's read")
    evidence = Evidence("VER-5")
    evidence.frame(events[0], read, reply, note="announced, then answered the read")
    return evidence


def check_read_decides(trace: Trace, name: str) -> Evidence:
    """VER-5 (CHF side): when the device announces its version the CHF still reads it,
    and the read, not the event, goes in the CS08 alert."""
    device(trace, name)
    verifier = Verifier(trace)
    events = announcements(trace, name)
    if not events:
        raise Inconclusive(f"{name} never announces its version in this trace")
    server = chf(trace)
    read = verifier.next(version_reads(server, name), events[0]) or \
        _read_shown_by_answer(trace, verifier, name, events[0])
    if read is None:
        reported = timed_wan(verifier, is_cs08_alert, what="VER-5: the CS08 version report",
                             after_time=events[0].time)
        if not reported:
            raise Inconclusive("the CHF neither reads nor reports the version after the "
                               "announcement (whether it reads back at all is VER-1's)")
        until = verifier.window_end(events[0], reported[0].time - events[0].time)
        missed = blind_reason(trace, events[0].index, until, (server, name))
        if missed:
            raise Inconclusive(f"VER-5: no read seen before the CHF reports the version, "
                               f"but the sniffer may have missed it: {missed}")
        raise Violation("VER-5: the CHF reports the version after the device's "
                        "announcement without reading it", [events[0]], reported[:1])
    early = verifier.wan(is_cs08_alert, after_time=events[0].time, before_time=read.time)
    if early:
        missed = blind_reason(trace, events[0].index, read.index, (server, name))
        if missed:
            raise Inconclusive(f"VER-5: a CS08 alert comes before the first read seen, but an "
                               f"earlier read may have been missed: {missed}")
        raise Violation("VER-5: the CHF reports the announced version before reading it",
                        [events[0], read], early[:1])
    evidence = Evidence("VER-5")
    evidence.frame(events[0], read, note="the CHF read the version despite the event")
    return evidence


def check_alert_signatures(trace: Trace) -> Evidence:
    """VER-6: every GBCS alert from the CHF is signed and verifies with its certificate."""
    verifier = Verifier(trace)
    chf_eui = trace.dut.chf.eui64
    alerts = verifier.wan(lambda m: m.kind == "alert" and m.sender == chf_eui)
    if not alerts:
        raise Inconclusive("the trace holds no GBCS alert from the CHF")
    evidence = Evidence("VER-6")
    for alert in alerts:
        if not alert.signed:
            raise Violation("VER-6: the CHF's alert is not signed", wan=[alert])
        if alert.signature_valid is None:
            raise Inconclusive("no CHF certificate was given: the signatures cannot be "
                               "checked")
        if not alert.signature_valid:
            raise Violation("VER-6: the alert's signature does not verify with the CHF's "
                            "certificate", wan=[alert])
        evidence.message(alert)
    evidence.notes.append(f"{len(alerts)} alerts, all signed, all signatures valid")
    return evidence
