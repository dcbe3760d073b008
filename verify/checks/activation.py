"""ACT: activation on download, the new version running, refusals (ACT-1..4)."""

from __future__ import annotations

from hanota.layers import ota
from hanota.layers.model import DecodeError
from hanota.layers.otafile import check_integrity
from hanota.verify.api import Match, Verifier
from hanota.verify.checks.common import (
    ANSWER_WINDOW_S,
    attribute_values,
    blind_reason,
    ccs08_about,
    chf,
    device,
    missing_wan,
    timed_wan,
    upgrade_now,
    version_answers,
    version_read,
    version_reads,
)
from hanota.verify.ota_view import Session, downloads
from hanota.verify.trace import Frame, Trace
from hanota.verify.verdicts import Evidence, Inconclusive, Violation

DOWNLOAD_WINDOW_S = ANSWER_WINDOW_S * 3
"""ACT-4: a device that takes an offered image asks for its first block within this."""


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
    """The last successful end request of ``name`` and its "upgrade now" response; when
    there is none, the reason names the last end request and why it is no activation."""
    verifier = Verifier(trace)
    answered = [(end, verifier.next(Match(command="upgrade_end_response", src=chf(trace),
                                          dst=name), end, ANSWER_WINDOW_S))
                for end in _successful_ends(trace, name)]
    for end, answer in reversed(answered):
        if answer is not None and upgrade_now(answer):
            return end, answer
    why = _no_activation(trace, verifier, *answered[-1]) if answered else ""
    raise Inconclusive(f"the trace holds no activation of {name} (Upgrade End Request "
                       f"SUCCESS answered 'upgrade now'){why}")


def _no_activation(trace: Trace, verifier: Verifier, end: Frame, answer: Frame | None) -> str:
    """Why the last successful end request is no activation: its answer not captured
    (the blind stretch named) or not "upgrade now" (ACT-1's to judge)."""
    if answer is not None:
        return f": frame {answer.number} answers frame {end.number} with upgrade_time " \
               f"{answer.get('upgrade_time')} (ACT-1 judges it)"
    blind = blind_reason(trace, end.index, verifier.window_end(end, ANSWER_WINDOW_S),
                         (chf(trace),))
    if blind:
        return f": the answer to frame {end.number} was not captured: {blind}"
    return f": frame {end.number} is not answered (ACT-1 judges it)"


def announced_version(frame: Frame) -> int | None:
    """CurrentFileVersion from a ZCL Report Attributes the device sends itself."""
    value = attribute_values(frame, "report_attributes").get(ota.CURRENT_FILE_VERSION)
    return value if isinstance(value, int) else None


def announcements(trace: Trace, name: str, after: Frame | None = None) -> list[Frame]:
    return Verifier(trace).all(Match(src=name, cluster=ota.CLUSTER_ID,
                                     where=lambda f: announced_version(f) is not None),
                               after=after)


def check_new_version_running(trace: Trace, name: str) -> Evidence:
    """ACT-2: after activation the device runs the image's version and stays on the HAN:
    it answers the CHF's read of CurrentFileVersion with that version. An announcement
    alone does not show that it answers the CHF (when the PICS claims version_event,
    VER-5 judges the answer)."""
    device(trace, name)
    verifier = Verifier(trace)
    end, answer = activation_of(trace, name)
    new_version = end.get("file_version")
    evidence = Evidence("ACT-2")
    server = chf(trace)
    reply = verifier.next(version_answers(name, server), answer)
    if reply is not None:
        running = version_read(reply)
        if running != new_version:
            raise Violation(f"ACT-2: after activating 0x{new_version:X}, {name} reports "
                            f"CurrentFileVersion 0x{running:X}", [end, answer, reply])
        read = verifier.last(version_reads(server, name), before=reply)
        evidence.frame(end, answer, read if read and read.index > answer.index else None,
                       reply, note=f"{name} runs 0x{running:X} and answers the CHF")
        return evidence
    events = announcements(trace, name, answer)
    for event in events:
        if announced_version(event) != new_version:
            raise Violation(f"ACT-2: {name} announces 0x{announced_version(event):X}, not "
                            f"0x{new_version:X}", [end, answer, event])
    read = verifier.next(version_reads(server, name), answer)
    if read is None:
        shown = f"it announces 0x{new_version:X}, but " if events else ""
        raise Inconclusive(f"ACT-2: {shown}the CHF never reads {name}'s version after its "
                           "activation, so that it runs the image and answers the CHF is "
                           "not shown")
    if events and trace.dut.pics.version_event:
        raise Inconclusive(f"ACT-2: {name} announces its version itself; whether it still "
                           "answers the CHF's read is VER-5's (PICS version_event)")
    raise verifier.absence(version_answers(name, server), read, ANSWER_WINDOW_S,
                           rule=f"ACT-2: {name} stays on the HAN and answers the CHF",
                           shown=[end, answer])


def _corrupt_session(trace: Trace, name: str) -> tuple[Session, str]:
    """A download whose received file fails its integrity code, or whose integrity code
    is missing or damaged, with the reason."""
    unreadable = []
    for session in downloads(trace, name):
        data = session.assembled()
        if session.image_size is None:
            continue
        if data is None:
            unreadable.append(session)
            continue
        try:
            found = check_integrity(data[:session.image_size])
        except DecodeError as error:
            return session, f"the received file does not decode ({error})"
        if found.ok is False:
            return session, f"its integrity code: {found.reason}"
    if unreadable:
        raise Inconclusive(f"ACT-3: the file {name} received is not whole in the capture "
                           f"(frames from {unreadable[0].blocks[0].request.number} on): "
                           "whether it was corrupt cannot be judged")
    raise Inconclusive(f"the trace holds no complete download of a corrupt image by {name}")


def check_invalid_image_refused(trace: Trace, name: str) -> Evidence:
    """ACT-3 (device side): a corrupt image is refused with INVALID_IMAGE and the old
    version keeps running, as the CHF's read afterwards shows (without a read the
    second half is INCONCLUSIVE)."""
    device(trace, name)
    verifier = Verifier(trace)
    session, why = _corrupt_session(trace, name)
    end = session.end_request
    last = session.blocks[-1].response or session.blocks[-1].request
    if end is None:
        end = verifier.must_next(Match(command="upgrade_end_request", src=name), last,
                                 ANSWER_WINDOW_S * 3,
                                 rule=f"ACT-3: {name} ends the corrupt download")
    verifier.check_field(end, "status", ota.INVALID_IMAGE,
                         rule="ACT-3: a corrupt image (integrity code does not match) is "
                         "refused with INVALID_IMAGE")
    old = session.queries[0][0].get("file_version") if session.queries else None
    reply = verifier.next(version_answers(name, chf(trace)), end)
    if reply is None or old is None:
        why = "its running version before the download is not in the capture" if old is None \
            else "the CHF never reads its version afterwards"
        raise Inconclusive(f"ACT-3: {name} refused the corrupt image with INVALID_IMAGE "
                           f"(frame {end.number}), but {why}: that it keeps its old "
                           "version is not shown")
    if version_read(reply) != old:
        raise Violation(f"ACT-3: {name} no longer runs its old version 0x{old:X}",
                        [end, reply])
    evidence = Evidence("ACT-3")
    evidence.frame(end, reply, note=f"the received file is corrupt ({why}); {name} "
                   f"answered INVALID_IMAGE and still runs 0x{old:X}")
    return evidence


def check_invalid_image_reported(trace: Trace, name: str) -> Evidence:
    """ACT-3 (CHF side): the CHF reports the refused image as a failure (CCS08 0x8F89)."""
    node = device(trace, name)
    verifier = Verifier(trace)
    refusal = verifier.need(Match(command="upgrade_end_request", src=name, dst=chf(trace),
                                  fields={"status": ota.INVALID_IMAGE}),
                            what=f"Upgrade End Request INVALID_IMAGE from {name}")
    alerts = timed_wan(verifier, ccs08_about(node.eui64),
                       what=f"ACT-3: the CCS08 alert for {name}", after_time=refusal.time)
    if not alerts:
        raise missing_wan(verifier, f"CCS08 alert for {name}", refusal.time,
                          "ACT-3: the CHF reports the failure", [refusal])
    evidence = Evidence("ACT-3")
    evidence.frame(refusal)
    evidence.message(alerts[0], note="the CHF reports the refused image in a CCS08 alert "
                     "(its alert and response codes are judged by VER-3)")
    return evidence


def check_downgrade(trace: Trace, name: str) -> Evidence:
    """ACT-4: an image with a lower file version is accepted or refused as the PICS
    declares (downgrade_accepted), judged on the Upgrade End Request AND on the version
    the device runs afterwards when the CHF reads it."""
    device(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    accepted = trace.dut.pics.downgrade_accepted
    evidence = Evidence("ACT-4")
    unjudged: list[str] = []
    for query in verifier.all(Match(command="query_next_image_request", src=name, dst=server)):
        answer = verifier.next(Match(command="query_next_image_response", src=server, dst=name,
                                     fields={"status": ota.SUCCESS}), query, ANSWER_WINDOW_S)
        if answer is None or answer.get("file_version") >= query.get("file_version"):
            continue
        old, lower = query.get("file_version"), answer.get("file_version")
        end = verifier.next(Match(command="upgrade_end_request", src=name, dst=server,
                                  where=lambda f, v=lower: f.get("file_version") == v), answer)
        took = end is not None and end.get("status") == ota.SUCCESS
        reply = verifier.next(version_answers(name, server), end or answer)
        running = version_read(reply) if reply is not None else None
        shown = [f for f in (answer, end, reply) if f is not None]
        if accepted:
            if end is None:
                raise verifier.absence(
                    Match(command="upgrade_end_request", src=name, dst=server), answer,
                    trace.dut.pixit.evidence_timeout_s, shown=[query],
                    rule=f"ACT-4: the PICS declares downgrades accepted but {name} never "
                    f"ends the download of 0x{lower:X}")
            if not took:
                raise Violation(f"ACT-4: the PICS declares downgrades accepted but {name} "
                                f"refuses 0x{lower:X}", shown)
            if running is not None and running != lower:
                raise Violation(f"ACT-4: {name} accepted 0x{lower:X} but runs "
                                f"0x{running:X} afterwards", shown)
        else:
            if took:
                raise Violation(f"ACT-4: the PICS declares downgrades refused but {name} "
                                f"accepts 0x{lower:X} (running 0x{old:X})", shown)
            if running == lower:
                raise Violation(f"ACT-4: {name} refuses 0x{lower:X} by its Upgrade End "
                                "Request, yet the CHF reads that version running afterwards",
                                shown)
            if end is None:
                blocks = Match(command=("image_block_request", "image_page_request"), src=name,
                               fields={"file_version": lower})
                if verifier.next(blocks, answer) is not None:
                    continue  # downloading: its end request decides
                # Here an absence proven (the verdict a FAIL would be) is the evidence
                # of the refusal; an absence the sniffer may have missed is not.
                verdict = verifier.absence(blocks, answer, DOWNLOAD_WINDOW_S,
                                           rule="ACT-4: the downgrade is refused")
                if isinstance(verdict, Inconclusive):
                    unjudged.append(verdict.reason)
                    continue
        state = "accepted" if took else "refused"
        if end is not None and not took:
            state += f" ({ota.STATUS.get(end.get('status'))})"
        if running is not None:
            state += f", running 0x{running:X} afterwards"
        evidence.frame(query, *shown, note=f"downgrade to 0x{lower:X} {state} as the PICS "
                       "declares")
    if evidence.empty:
        why = f": {unjudged[0]}" if unjudged else ""
        raise Inconclusive(f"the trace holds no downgrade offer to {name} with its "
                           f"outcome{why}")
    return evidence
