"""SCOPE: which devices the CHF upgrades, and with what (SCOPE-1..3)."""

from __future__ import annotations

from hanota.layers import ota
from hanota.verify.api import Match, Verifier
from hanota.verify.checks.common import ANSWER_WINDOW_S, chf, device, held_images, is_ccs08, node
from hanota.verify.ota_view import Session, sessions
from hanota.verify.trace import Trace
from hanota.verify.verdicts import Evidence, Inconclusive, Violation


def complete_session(trace: Trace, name: str) -> Session | None:
    """The first session of ``name`` that went from offer to an answered SUCCESS end."""
    for session in sessions(trace, name):
        end = session.end_request
        if (session.offer is not None and session.blocks and end is not None
                and end.fields.get("status") == ota.SUCCESS and session.end_response is not None):
            return session
    return None


REFUSAL = 0x7E
"""NOT_AUTHORIZED: the CHF refusing the OTA route itself to the device (a NO_IMAGE_AVAILABLE
is NOTIFY-2/3/4's business, an ABORT of the transfer FRAG-4's)."""


def check_type1_upgrade(trace: Trace, name: str) -> Evidence:
    """SCOPE-1: a PPMID/HCALCS holding an image gets it through the CHF, end to end; the
    CHF never refuses the OTA route to it (NOT_AUTHORIZED to its OTA commands)."""
    device(trace, name)
    evidence = Evidence("SCOPE-1")
    server = chf(trace)
    for frame in trace.ota_frames(name):
        if frame.src == server and frame.dst == name and frame.get("status") == REFUSAL:
            raise Violation(f"SCOPE-1: the CHF refuses the OTA route to {name}, a "
                            f"{trace.dut.nodes[name].kind.upper()} (NOT_AUTHORIZED)", [frame])
    if not held_images(trace, name):
        raise Inconclusive(f"the CHF holds no image for {name} in this trace")
    session = complete_session(trace, name)
    if session is None:
        raise Inconclusive(f"the trace holds no complete OTA upgrade of {name}")
    evidence.frame(session.offer, session.blocks[0].request, session.blocks[-1].response,
                   session.end_request, session.end_response,
                   note=f"{name} downloaded {len(session.blocks)} blocks from the CHF")
    return evidence.conclude()


def check_ihd_excluded(trace: Trace) -> Evidence:
    """SCOPE-2: no image for a device registered as an IHD; its query gets no image."""
    verifier = Verifier(trace)
    evidence = Evidence("SCOPE-2")
    ihds = [n.name for n in trace.dut.nodes.values() if n.kind == "ihd"]
    if not ihds:
        raise Inconclusive("the DUT description has no IHD node")
    server = chf(trace)
    for ihd in ihds:
        rule = f"SCOPE-2: the CHF offers an image to the IHD {ihd}"
        verifier.must_not_next(Match(command="image_notify", src=server, dst=ihd), rule=rule)
        verifier.must_not_next(Match(command="query_next_image_response", src=server, dst=ihd,
                                     fields={"status": ota.SUCCESS}), rule=rule)
        verifier.must_not_next(Match(command="image_block_response", src=server, dst=ihd,
                                     fields={"status": ota.SUCCESS}), rule=rule)
        eui = node(trace, ihd).eui64
        for alert in verifier.wan(lambda m, eui=eui: is_ccs08(m) and m.get("entity_id") == eui):
            if alert.get("response_code") == 0:
                raise Violation(f"SCOPE-2: the CHF reports a successful transfer to IHD {ihd}",
                                wan=[alert])
        for query in verifier.all(Match(command="query_next_image_request", src=ihd,
                                        dst=server)):
            answer = verifier.must_next(
                Match(command="query_next_image_response", src=server, dst=ihd), query,
                within=ANSWER_WINDOW_S, rule="SCOPE-2: the CHF answers the IHD's query")
            verifier.check_field(answer, "status", ota.NO_IMAGE_AVAILABLE,
                                 rule=f"SCOPE-2: the IHD {ihd} must get NO_IMAGE_AVAILABLE")
            evidence.frame(query, answer, note=f"IHD {ihd} refused an image")
    if evidence.empty:
        raise Inconclusive("no IHD asked the CHF for an image in this trace: an absence "
                           "of Image Notify alone proves nothing")
    return evidence


def check_standard_cluster_only(trace: Trace, name: str) -> Evidence:
    """SCOPE-3: the CHF upgrades the device with standard ZCL OTA commands only."""
    device(trace, name)
    session = complete_session(trace, name)
    if session is None:
        raise Inconclusive(f"the trace holds no complete OTA upgrade of {name}")
    server = chf(trace)
    start, end = session.frames[0], session.end_response
    for frame in trace.frames[start.index:end.index + 1]:
        if frame.src != server or frame.dst != name or frame.cluster != ota.CLUSTER_ID:
            continue
        if frame.manufacturer_specific or (frame.command or "").startswith("unknown_"):
            raise Violation("SCOPE-3: the CHF uses a command outside the ZCL OTA cluster "
                            "during the upgrade", [frame])
        if frame.profile not in (0x0109, 0x0104):
            raise Violation("SCOPE-3: OTA frame outside the Smart Energy profile", [frame])
    evidence = Evidence("SCOPE-3")
    evidence.frame(*session.frames[:3], session.end_request, session.end_response,
                   note=f"{len(session.frames)} OTA frames, all standard ZCL OTA commands")
    return evidence.conclude()
