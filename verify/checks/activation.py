"""ACT: activation on download, the new version running, refusals (ACT-1..4)."""

from __future__ import annotations

from layers import ota
from layers.model import DecodeError
from layers.otafile import integrity_ok
from layers.zcl import decode_value
from verify.api import Match, Verifier
from verify.checks.common import (
    ANSWER_WINDOW_S,
    ccs08_for,
    chf,
    device,
    missing_wan,
    upgrade_now,
    version_answers,
    version_read,
    version_reads,
)
from verify.ota_view import Session, downloads
from verify.trace import Frame, Trace
from verify.verdicts import Evidence, Inconclusive, Violation


def _successful_ends(trace: Trace, name: str) -> list[Frame]:
    return Verifier(trace).all(Match(command="upgrade_end_request", src=name, dst=chf(trace),
                                     fields={"status": ota.SUCCESS}))


def check_upgrade_now(trace: Trace, name: str) -> Evidence:
    """ACT-1: Upgrade End Request SUCCESS is answered "upgrade now"."""
    device(trace, name)
    verifier = Verifier(trace)
    ends = _successful_ends(trace, name)
    if not ends:
        raise Inconclusive(f"the trace holds no Upgrade End Request SUCCESS from {name}")
    evidence = Evidence("ACT-1")
    for end in ends:
        answer = verifier.must_next(
            Match(command="upgrade_end_response", src=chf(trace), dst=name), end,
            ANSWER_WINDOW_S, rule="ACT-1: the CHF answers the Upgrade End Request")
        if not upgrade_now(answer):
            raise Violation("ACT-1: upgrade_time must be 0 or the current time (upgrade now), "
                            f"got {answer.get('upgrade_time')} with current time "
                            f"{answer.get('current_time')}", [end, answer])
        verifier.check_field(answer, "file_version",
                             lambda v, e=end: v in (e.get("file_version"), 0xFFFFFFFF),
                             rule="ACT-1: the response names the downloaded file version")
        evidence.frame(end, answer, note="activation on download: upgrade now")
    return evidence


def activation_of(trace: Trace, name: str) -> tuple[Frame, Frame]:
    """The last successful end request of ``name`` and its "upgrade now" response."""
    verifier = Verifier(trace)
    for end in reversed(_successful_ends(trace, name)):
        answer = verifier.next(Match(command="upgrade_end_response", src=chf(trace), dst=name),
                               end, ANSWER_WINDOW_S)
        if answer is not None and upgrade_now(answer):
            return end, answer
    raise Inconclusive(f"the trace holds no activation of {name} (Upgrade End Request "
                       "SUCCESS answered 'upgrade now')")


def _announced(frame: Frame) -> int | None:
    """CurrentFileVersion from a ZCL Report Attributes (0x0A) the device sends itself."""
    if frame.command not in ("report_attributes", "unknown_0x0A"):
        return None
    if "records" in frame.fields:
        return version_read(frame)
    payload = frame.fields.get("payload", b"")
    position = 0
    try:
        while position + 3 <= len(payload):
            attribute = int.from_bytes(payload[position:position + 2], "little")
            value, position = decode_value(payload[position + 2], payload, position + 3)
            if attribute == ota.CURRENT_FILE_VERSION:
                return value
    except (DecodeError, ValueError):
        return None
    return None


def announcements(trace: Trace, name: str, after: Frame | None = None) -> list[Frame]:
    return Verifier(trace).all(Match(src=name, cluster=ota.CLUSTER_ID,
                                     where=lambda f: _announced(f) is not None), after=after)


def check_new_version_running(trace: Trace, name: str) -> Evidence:
    """ACT-2: after activation the device runs the image's version and answers the CHF."""
    device(trace, name)
    verifier = Verifier(trace)
    end, answer = activation_of(trace, name)
    new_version = end.get("file_version")
    evidence = Evidence("ACT-2")
    read = verifier.next(version_reads(chf(trace), name), answer)
    reply = verifier.next(version_answers(name, chf(trace)), answer)
    if reply is not None:
        running = version_read(reply)
        if running != new_version:
            raise Violation(f"ACT-2: after activating 0x{new_version:X}, {name} reports "
                            f"CurrentFileVersion 0x{running:X}", [end, answer, reply])
        evidence.frame(end, answer, read, reply, note=f"{name} runs 0x{running:X}")
        return evidence
    events = announcements(trace, name, answer)
    if events:
        running = _announced(events[0])
        if running != new_version:
            raise Violation(f"ACT-2: {name} announces 0x{running:X}, not 0x{new_version:X}",
                            [end, answer, events[0]])
        evidence.frame(end, answer, events[0], note=f"{name} announces 0x{running:X}")
        return evidence
    if read is not None:
        verifier.must_next(version_answers(name, chf(trace)), read, ANSWER_WINDOW_S,
                           rule=f"ACT-2: {name} stays on the HAN and answers the CHF")
    raise Inconclusive(f"the trace holds no version report from {name} after its activation")


def _corrupt_session(trace: Trace, name: str) -> tuple[Session, bytes]:
    for session in downloads(trace, name):
        data = session.assembled()
        if data is None or session.image_size is None:
            continue
        try:
            ok = integrity_ok(data[:session.image_size])
        except DecodeError:
            ok = False
        if ok is False:
            return session, data
    raise Inconclusive(f"the trace holds no complete download of a corrupt image by {name}")


def check_invalid_image_refused(trace: Trace, name: str) -> Evidence:
    """ACT-3 (device side): a corrupt image is refused with INVALID_IMAGE and the old
    version keeps running."""
    device(trace, name)
    verifier = Verifier(trace)
    session, _ = _corrupt_session(trace, name)
    end = session.end_request
    last = session.blocks[-1].response or session.blocks[-1].request
    if end is None:
        end = verifier.must_next(Match(command="upgrade_end_request", src=name), last,
                                 ANSWER_WINDOW_S * 3,
                                 rule=f"ACT-3: {name} ends the corrupt download")
    verifier.check_field(end, "status", ota.INVALID_IMAGE,
                         rule="ACT-3: a corrupt image (integrity code does not match) is "
                         "refused with INVALID_IMAGE")
    evidence = Evidence("ACT-3")
    evidence.frame(end, note="the integrity code of the received file does not match; "
                   "the device answered INVALID_IMAGE")
    old = session.queries[0][0].get("file_version") if session.queries else None
    reply = verifier.next(version_answers(name, chf(trace)), end)
    if reply is not None and old is not None:
        if version_read(reply) != old:
            raise Violation(f"ACT-3: {name} no longer runs its old version 0x{old:X}",
                            [end, reply])
        evidence.frame(reply, note=f"{name} still runs 0x{old:X}")
    return evidence


def check_invalid_image_reported(trace: Trace, name: str) -> Evidence:
    """ACT-3 (CHF side): the CHF reports the refused image as a failure (CCS08 0x8F89)."""
    node = device(trace, name)
    verifier = Verifier(trace)
    refusal = verifier.need(Match(command="upgrade_end_request", src=name, dst=chf(trace),
                                  fields={"status": ota.INVALID_IMAGE}),
                            what=f"Upgrade End Request INVALID_IMAGE from {name}")
    alerts = ccs08_for(verifier, node.eui64, after_time=refusal.time)
    if not alerts:
        raise missing_wan(verifier, f"CCS08 alert for {name}", refusal.time,
                          "ACT-3: the CHF reports the failure")
    alert = alerts[0]
    evidence = Evidence("ACT-3")
    evidence.frame(refusal)
    evidence.message(alert, note="the CHF reports the refused image in a CCS08 alert "
                     "(its alert and response codes are judged by VER-3)")
    return evidence


def check_downgrade(trace: Trace, name: str) -> Evidence:
    """ACT-4: an image with a lower file version is accepted or refused as the PICS
    declares (downgrade_accepted)."""
    device(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    accepted = trace.dut.pics.downgrade_accepted
    evidence = Evidence("ACT-4")
    for query in verifier.all(Match(command="query_next_image_request", src=name, dst=server)):
        answer = verifier.next(Match(command="query_next_image_response", src=server, dst=name,
                                     fields={"status": ota.SUCCESS}), query, ANSWER_WINDOW_S)
        if answer is None or answer.get("file_version") >= query.get("file_version"):
            continue
        old, lower = query.get("file_version"), answer.get("file_version")
        end = verifier.next(Match(command="upgrade_end_request", src=name, dst=server,
                                  where=lambda f, v=lower: f.get("file_version") == v), answer)
        took = end is not None and end.get("status") == ota.SUCCESS
        if accepted and not took:
            if end is not None or verifier.window_closed(answer.time,
                                                         trace.dut.pixit.evidence_timeout_s):
                raise Violation(f"ACT-4: the PICS declares downgrades accepted but {name} "
                                f"refuses 0x{lower:X}", [f for f in (answer, end) if f])
            continue
        if not accepted and took:
            raise Violation(f"ACT-4: the PICS declares downgrades refused but {name} accepts "
                            f"0x{lower:X} (running 0x{old:X})", [answer, end])
        if not accepted and end is None:
            blocks = verifier.next(Match(command="image_block_request", src=name,
                                         fields={"file_version": lower}), answer)
            if blocks is not None or not verifier.window_closed(answer.time,
                                                                ANSWER_WINDOW_S * 3):
                continue
            evidence.frame(query, answer, note=f"downgrade to 0x{lower:X} refused: no "
                           "download followed the offer")
            continue
        state = "accepted" if took else f"refused ({ota.STATUS.get(end.get('status'))})"
        evidence.frame(query, answer, end, note=f"downgrade to 0x{lower:X} {state} as "
                       "the PICS declares")
    if evidence.empty:
        raise Inconclusive(f"the trace holds no downgrade offer to {name} with its outcome")
    return evidence
