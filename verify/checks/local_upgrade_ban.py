"""BAN: firmware only from the CHF; rogue servers are ignored (BAN-1..4)."""

from __future__ import annotations

from hanota.dut.description import Dut
from hanota.layers import ota
from hanota.verify.api import Match, Verifier
from hanota.verify.checks.common import (
    ANSWER_WINDOW_S,
    blind_reason,
    chf,
    device,
    upgrade_now,
    version_answers,
    version_read,
)
from hanota.verify.trace import Frame, Trace
from hanota.verify.verdicts import Evidence, Inconclusive, NotApplicable, Violation

SERVER_COMMANDS = ("query_next_image_response", "image_block_response", "upgrade_end_response")
DOWNLOAD_COMMANDS = ("image_block_request", "image_page_request", "upgrade_end_request")
"""What a device sends when it downloads from a node (its query is BAN-1's business)."""


def _rogue(trace: Trace, name: str, commands: tuple[str, ...]) -> list[Frame]:
    """OTA server commands reaching ``name`` from any node other than the CHF (named by
    its originator: a node spoofing the CHF's short address stays a rogue)."""
    server = chf(trace)
    return Verifier(trace).all(Match(command=commands, cluster=ota.CLUSTER_ID,
                                     where=lambda f: f.src != server
                                     and (f.dst == name or f.broadcast)))


def _ignored_window(trace: Trace) -> float:
    return trace.dut.pixit.query_jitter + ANSWER_WINDOW_S


def _seen_ignoring(trace: Trace, verifier: Verifier, name: str, cause: Frame) -> bool:
    """Whether the device's silence towards the rogue after ``cause`` is proven: the
    window closed inside the trace with nothing blind for the device (an ignored offer
    is an absence, and an absence needs a seen stretch of air)."""
    window = _ignored_window(trace)
    if not verifier.window_closed(cause.time, window):
        return False
    last = verifier.window_end(cause, window)
    return blind_reason(trace, cause.index, last, (name,)) is None


def _spoofed(trace: Trace, rogue: Frame) -> bool:
    """The rogue uses a short address another node (the CHF) answers at too: a frame to
    that address cannot be told apart by its address."""
    return trace.names.ambiguous(rogue.src16)


def check_rogue_notify_ignored(trace: Trace, name: str) -> Evidence:
    """BAN-1: an Image Notify from a node other than the CHF gets no query."""
    device(trace, name)
    verifier = Verifier(trace)
    notifies = _rogue(trace, name, ("image_notify",))
    if not notifies:
        raise Inconclusive(f"no node other than the CHF sends {name} an Image Notify here")
    evidence = Evidence("BAN-1")
    unjudged: list[str] = []
    for notify in notifies:
        sender = notify.src or hex(notify.src16 or 0)
        verifier.must_not_next(Match(command="query_next_image_request", src=name,
                                     dst=notify.src), notify, cause=notify,
                               rule=f"BAN-1: {name} answers an Image Notify from {sender}")
        if _spoofed(trace, notify):
            query = verifier.next(Match(command="query_next_image_request", src=name,
                                        where=lambda f, n=notify: f.dst16 == n.src16),
                                  notify, _ignored_window(trace))
            if query is not None:
                unjudged.append(f"{sender} uses the short address 0x{notify.src16:04X} of "
                                f"another node, and {name}'s query to it (frame "
                                f"{query.number}) may answer either")
                continue
        if _seen_ignoring(trace, verifier, name, notify):
            evidence.frame(notify, note=f"Image Notify from {sender} ignored")
        else:
            unjudged.append(f"the answer window after frame {notify.number} is not seen "
                            "whole")
    if evidence.empty:
        raise Inconclusive(f"BAN-1: the rogue Image Notify is not answered as far as the "
                           f"trace shows, but: {'; '.join(unjudged[:3])}")
    return evidence


def check_rogue_responses_ignored(trace: Trace, name: str) -> Evidence:
    """BAN-2: unsolicited OTA responses from another node lead to no download and no
    activation. A version counts as the rogue's only when the CHF never offered it (a
    rogue offering the genuine version must not turn the genuine activation into a
    FAIL)."""
    device(trace, name)
    verifier = Verifier(trace)
    offers = _rogue(trace, name, SERVER_COMMANDS)
    if not offers:
        raise Inconclusive(f"no node other than the CHF sends {name} OTA responses here")
    evidence = Evidence("BAN-2")
    server = chf(trace)
    genuine = {f.get("file_version") for f in trace.ota_frames(name)
               if f.src == server and f.get("file_version") is not None}
    rogue_versions = {f.get("file_version") for f in offers
                      if f.get("file_version") is not None} - genuine
    for offer in offers:
        verifier.must_not_next(Match(command=DOWNLOAD_COMMANDS, src=name, dst=offer.src), offer,
                               rule=f"BAN-2: {name} follows an OTA response from "
                               f"{offer.src}", cause=offer)
        # To whatever address (a rogue spoofing the CHF's is answered at the CHF's): a
        # version only the rogue offered, asked for, is the rogue's offer followed.
        verifier.must_not_next(
            Match(command=DOWNLOAD_COMMANDS, src=name,
                  where=lambda f: f.get("file_version") in rogue_versions),
            offer, rule=f"BAN-2: {name} asks for the image only {offer.src} offered",
            cause=offer)
        verifier.must_not_next(
            Match(command="upgrade_end_request", src=name,
                  where=lambda f: f.get("file_version") in rogue_versions
                  and f.get("status") == ota.SUCCESS),
            offer, rule=f"BAN-2: {name} takes the image offered by {offer.src}", cause=offer)
    reply = verifier.next(version_answers(name, server), offers[0])
    if reply is not None and version_read(reply) in rogue_versions:
        raise Violation(f"BAN-2: {name} runs the version offered by a rogue node",
                        [offers[0], reply])
    seen = [offer for offer in offers if _seen_ignoring(trace, verifier, name, offer)]
    if seen:
        evidence.frame(*seen, note=f"{len(seen)} unsolicited OTA responses ignored")
    return evidence.conclude()


def check_genuine_after_rogue(trace: Trace, name: str) -> Evidence:
    """BAN-3: after a rogue attempt the version is unchanged and a genuine upgrade
    through the CHF still works."""
    node = device(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    rogue = _rogue(trace, name, ("image_notify", *SERVER_COMMANDS))
    if not rogue:
        raise Inconclusive(f"no rogue OTA attempt on {name} in this trace")
    last_rogue = rogue[-1]
    before = verifier.last(Match(command="query_next_image_request", src=name),
                           before=rogue[0])
    old = before.get("file_version") if before else node.current_version
    query = verifier.need(Match(command="query_next_image_request", src=name, dst=server),
                          last_rogue, what=f"query from {name} to the CHF after the rogue "
                          "attempt")
    verifier.check_field(query, "file_version", old,
                         rule=f"BAN-3: {name}'s CurrentFileVersion is unchanged after the "
                         "rogue attempt")
    end = verifier.need(Match(command="upgrade_end_request", src=name, dst=server,
                              fields={"status": ota.SUCCESS}), query,
                        what="genuine upgrade through the CHF after the rogue attempt")
    answer = verifier.need(Match(command="upgrade_end_response", src=server, dst=name,
                                 where=upgrade_now), end,
                           what="activation of the genuine image")
    evidence = Evidence("BAN-3")
    evidence.frame(last_rogue, query, end, answer,
                   note=f"version 0x{old:X} kept after the rogue attempt; the genuine image "
                   f"0x{end.get('file_version'):X} downloaded and activated through the CHF "
                   "(the version it then runs is judged by ACT-2)")
    return evidence


def check_cad_update_path(dut: Dut) -> Evidence:
    """BAN-4: a combined PPMID/CAD's internet update path is outside the HAN and outside
    this suite: always reported, never passed."""
    if dut.pics.cad_update_path:
        raise NotApplicable("BAN-4: OUTSIDE THIS SUITE - the DUT claims a combined "
                            "PPMID/CAD internet update path; it does not cross the HAN, so "
                            "no capture can judge it. Assess it separately.")
    raise NotApplicable("BAN-4: the PICS claims no combined PPMID/CAD internet update path "
                        "(an internet path would be outside the HAN and this suite)")
