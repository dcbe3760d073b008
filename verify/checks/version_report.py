"""VER: the CHF reads the version back and tells the supplier (VER-1..6)."""

from __future__ import annotations

from layers import ota
from layers.gbcs import MESSAGE_CODE_CS08
from layers.gbcs_payloads import (
    ALERT_FIRMWARE_TRANSFER_FAIL,
    ALERT_FIRMWARE_TRANSFER_SUCCESS,
)
from verify.api import Verifier, check_wan_field
from verify.checks.activation import activation_of, announcements
from verify.checks.common import (
    ANSWER_WINDOW_S,
    TIME_TOLERANCE_S,
    ccs08_for,
    chf,
    device,
    held_images,
    is_cs08_alert,
    missing_wan,
    require_pics,
    version_answers,
    version_read,
    version_reads,
)
from verify.ota_view import sessions
from verify.trace import Frame, Trace
from verify.verdicts import Evidence, Inconclusive, Violation

READ_GRACE_S = 60.0
"""VER-1: after the read-back time-out the CHF reads within this (retries included)."""


def check_readback(trace: Trace, name: str) -> Evidence:
    """VER-1 (CHF side): after activation the CHF waits the read-back time-out, then reads
    CurrentFileVersion itself."""
    device(trace, name)
    verifier = Verifier(trace)
    end, answer = activation_of(trace, name)
    timeout = trace.dut.pixit.readback_timeout_s
    read = verifier.next(version_reads(chf(trace), name), answer)
    if read is None:
        eui = trace.dut.nodes[name].eui64
        alerts = verifier.wan(is_cs08_alert, after_time=answer.time) + ccs08_for(
            verifier, eui, after_time=answer.time)
        if alerts:
            raise Violation("VER-1: the CHF reports the version without reading it back",
                            [end, answer], alerts[:1])
        verifier.must_next(version_reads(chf(trace), name), answer, timeout + READ_GRACE_S,
                           rule="VER-1: the CHF reads the version back after activation")
    assert read is not None
    waited = read.time - answer.time
    if waited + 1.0 < timeout:
        raise Violation(f"VER-1: the CHF reads {waited:.1f} s after activation, before the "
                        f"read-back time-out ({timeout:g} s)", [answer, read])
    evidence = Evidence("VER-1")
    evidence.frame(answer, read, note=f"read back {waited:.1f} s after activation")
    return evidence


def check_version_answered(trace: Trace, name: str) -> Evidence:
    """VER-1 (device side): after its activation the device answers the CHF's read with
    its running version (a device switched off for VER-4 is not judged here)."""
    device(trace, name)
    verifier = Verifier(trace)
    _, answer = activation_of(trace, name)
    if announcements(trace, name, answer):
        raise Inconclusive(f"{name} announces its version itself: whether it still answers "
                           "the read is judged by VER-5")
    reads = verifier.all(version_reads(chf(trace), name), after=answer)
    if not reads:
        raise Inconclusive(f"the CHF never reads CurrentFileVersion of {name} after its "
                           "activation in this trace")
    evidence = Evidence("VER-1")
    for read in reads:
        reply = verifier.must_next(version_answers(name, chf(trace)), read, ANSWER_WINDOW_S,
                                   rule=f"VER-1: {name} answers the read of CurrentFileVersion")
        evidence.frame(read, reply, note=f"{name} answers 0x{version_read(reply):X}")
    return evidence


def check_cs08_alert(trace: Trace, name: str) -> Evidence:
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
    alerts = verifier.wan(lambda m: is_cs08_alert(m), after_time=reply.time - TIME_TOLERANCE_S)
    others = [n for n, node in trace.dut.nodes.items() if n != name and node.kind in
              ("ppmid", "hcalcs")]
    if others:  # several devices: the alert carrying this device's image or its read
        mine = [m for m in alerts if m.get("firmware_version") in (read, expected)]
        alerts = mine or alerts
    if not alerts:
        raise missing_wan(verifier, "CS08 alert 0x8F8B after the read-back", reply.time,
                          "VER-2: the CHF reports the version read")
    alert = alerts[0]
    check_wan_field(alert, "firmware_version", read, frames=[reply],
                    rule="VER-2: the CS08 alert carries the version read")
    success = 0 if read == expected else 1
    check_wan_field(alert, "activate_image", success, frames=[end, reply],
                    rule=f"VER-2: activateImage must be {'Success' if success == 0 else 'Failure'}"
                    f" (read 0x{read:X}, image 0x{expected:X})")
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
    NO_IMAGE_AVAILABLE."""
    for session in sessions(trace, name):
        for query, response in session.queries:
            if response is not None and response.get("status") == ota.NO_IMAGE_AVAILABLE \
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
    its last block request goes unanswered (the CHF fell silent)."""
    for session in sessions(trace, name):
        if not session.blocks:
            continue
        end = session.end_request
        if end is not None and end.get("status") == ota.ABORT:
            return [session.blocks[-1].request, end]
        if end is None and session.blocks[-1].response is None:
            return [session.blocks[-1].request]
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


def check_ccs08_alert(trace: Trace, name: str, outcome: str) -> Evidence:
    """VER-3: the CCS08 alert for the named outcome (``OUTCOMES``) reports it: the alert
    code and response code of what happened on the HAN."""
    node = device(trace, name)
    verifier = Verifier(trace)
    alert_code, codes, frames = expected_outcome(trace, name, OUTCOMES.get(outcome, outcome))
    after = frames[0].time
    alerts = ccs08_for(verifier, node.eui64, after_time=after - TIME_TOLERANCE_S)
    if not alerts:
        raise missing_wan(verifier, f"CCS08 alert for {name}", after,
                          "VER-3: the CHF reports the transfer")
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


def check_sr112(trace: Trace, name: str) -> Evidence:
    """VER-4: on a CS08 command the CHF reads the device and answers Read Success with the
    version, or Read Failure when the device does not answer."""
    node = device(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    commands = verifier.wan(lambda m: m.message_code == MESSAGE_CODE_CS08
                            and m.kind == "command")
    if not commands:
        raise Inconclusive("the trace holds no CS08 command (SR 11.2)")
    responses = verifier.wan(lambda m: m.message_code == MESSAGE_CODE_CS08
                             and m.kind == "response")
    evidence = Evidence("VER-4")
    for position, command in enumerate(commands):
        if command.time is None:
            raise Inconclusive("the CS08 command has no time: it cannot be placed against "
                               "the HAN frames")
        following = commands[position + 1].time if position + 1 < len(commands) else None
        answer = next((r for r in responses if r.time is not None and r.time >= command.time
                       and (following is None or r.time <= following)), None)
        if answer is None:
            raise missing_wan(verifier, "CS08 response to the command", command.time,
                              "VER-4: the CHF answers SR 11.2")
        start = next((f for f in trace.frames if f.time >= command.time), None)
        reads = [f for f in verifier.all(version_reads(server, node.name))
                 if command.time <= f.time <= answer.time]
        if not reads:
            raise Violation("VER-4: the CHF answers SR 11.2 without reading the device",
                            [start] if start else [], [command, answer])
        replies = [f for f in verifier.all(version_answers(node.name, server))
                   if reads[0].time <= f.time <= answer.time]
        if replies:
            version = version_read(replies[0])
            check_wan_field(answer, "response_code", 0, frames=[reads[0], replies[0]],
                            rule="VER-4: the device answered: Read Success")
            check_wan_field(answer, "firmware_version", version, frames=[replies[0]],
                            rule="VER-4: the response carries the version read")
            evidence.frame(reads[0], replies[0])
        else:
            check_wan_field(answer, "response_code", 1, frames=reads,
                            rule="VER-4: the device did not answer: Read Failure")
            evidence.frame(*reads)
        evidence.message(command, answer)
    return evidence


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
    read = verifier.next(version_reads(chf(trace), name), events[0])
    if read is None:
        reported = verifier.wan(is_cs08_alert, after_time=events[0].time)
        if reported:
            raise Violation("VER-5: the CHF reports the version after the device's "
                            "announcement without reading it", [events[0]], reported[:1])
        raise Inconclusive("the CHF neither reads nor reports the version after the "
                           "announcement (whether it reads back at all is VER-1's)")
    early = verifier.wan(is_cs08_alert, after_time=events[0].time, before_time=read.time)
    if early:
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
