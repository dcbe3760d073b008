"""CONC: two devices at once, two suppliers (CONC-1, CONC-2)."""

from __future__ import annotations

from itertools import pairwise

from hanota.dut.description import DEVICE_KINDS
from hanota.layers import ota
from hanota.verify.api import Match, Verifier
from hanota.verify.checks.common import (
    ccs08_for,
    device,
    header_of,
    held_images,
    is_ccs08,
    is_cs08_alert,
    missing_wan,
)
from hanota.verify.ota_view import downloads
from hanota.verify.trace import Trace
from hanota.verify.verdicts import Evidence, Inconclusive, Violation


def _targets(trace: Trace) -> list[str]:
    names = {image.target for image in trace.held_images
             if trace.dut.nodes[image.target].kind in DEVICE_KINDS}
    found = [name for name in trace.dut.nodes if name in names and downloads(trace, name)]
    if len(found) < 2:
        raise Inconclusive("the trace does not show two devices downloading their images")
    return found


def _identities(trace: Trace, name: str) -> set[tuple[int, int, int]]:
    """(manufacturer code, image type, file version) of the images held for ``name``."""
    node = trace.dut.nodes[name]
    return {(node.manufacturer_code, node.image_type, image.file_version)
            for image in held_images(trace, name)}


def _own_offers(trace: Trace, verifier: Verifier, name: str, evidence: Evidence,
                others: set[tuple[int, int, int]]) -> None:
    """Nothing offered or served to ``name`` is another device's image: an identity
    (manufacturer code, image type, file version) that is not one of its own images and
    carries another device's file version, or another device's manufacturer code and
    image type. An image that is nobody's is NOTIFY-2's or FRAG-1's business; a mix-up
    between the devices is CONC-1's."""
    own = _identities(trace, name)
    own_kinds = {ident[:2] for ident in own}
    other_versions = {ident[2] for ident in others}
    other_kinds = {ident[:2] for ident in others} - own_kinds

    def mixed(ident: tuple | None) -> bool:
        return ident is not None and ident not in own and (
            ident[2] in other_versions or ident[:2] in other_kinds)

    for frame in verifier.all(Match(command=("query_next_image_response",
                                             "image_block_response"), dst=name,
                                    src=trace.dut.chf.name, fields={"status": ota.SUCCESS})):
        ident = (frame.get("manufacturer_code"), frame.get("image_type"),
                 frame.get("file_version"))
        if mixed(ident):
            raise Violation(f"CONC-1: {name} is offered another device's image "
                            f"(0x{ident[0]:04X}/0x{ident[1]:04X}/0x{ident[2]:X})", [frame])
    for session in downloads(trace, name):
        first = session.received().get(0)
        header = header_of(first) if first else None
        ident = header and (header["manufacturer_code"], header["image_type"],
                            header["file_version"])
        if mixed(ident):
            raise Violation(f"CONC-1: the file {name} receives is another device's image "
                            f"(0x{ident[0]:04X}/0x{ident[1]:04X}/0x{ident[2]:X})",
                            [r for r in session.responses if r.get("file_offset") == 0][:1])
        evidence.frame(session.offer, session.blocks[0].request, session.blocks[-1].request)


def check_own_images(trace: Trace) -> Evidence:
    """CONC-1: two devices upgraded at once each get their own image and own alerts."""
    verifier = Verifier(trace)
    evidence = Evidence("CONC-1")
    names = [image.target for image in trace.held_images
             if trace.dut.nodes[image.target].kind in DEVICE_KINDS]
    if len(set(names)) < 2:
        raise Inconclusive("the CHF does not hold images for two devices in this trace")
    for name in dict.fromkeys(names):
        others = {ident for other in dict.fromkeys(names) if other != name
                  for ident in _identities(trace, other)}
        _own_offers(trace, verifier, name, evidence, others)
    spans = []
    for name in _targets(trace):
        for session in downloads(trace, name):
            spans.append((session.blocks[0].request.time, session.blocks[-1].request.time))
        alerts = ccs08_for(verifier, trace.dut.nodes[name].eui64)
        if not alerts:
            raise missing_wan(verifier, f"CCS08 alert for {name}", None,
                              f"CONC-1: {name} gets its own alert")
        evidence.message(alerts[0], note=f"CCS08 for {name}")
    spans.sort()
    if not any(later[0] < earlier[1] for earlier, later in pairwise(spans)):
        raise Inconclusive("the two downloads do not overlap in time: not a concurrent upgrade")
    evidence.notes.append("the downloads interleave; each device got its own image and alert")
    return evidence


def check_alerts_to_requester(trace: Trace, requesters: dict[str, str]) -> Evidence:
    """CONC-2: each device's alerts go to the supplier that requested its update.

    ``requesters`` maps a device node to the requesting supplier's identifier. Why two:
    the rule is about a dual-supplier premises; alerts to one supplier only show that the
    CHF addresses one supplier, which a single-supplier trace shows too. So the scenario
    needs two devices requested by two different suppliers, and alerts for each.
    """
    verifier = Verifier(trace)
    evidence = Evidence("CONC-2")
    if len(set(requesters.values())) < 2:
        raise Inconclusive("CONC-2: the scenario names fewer than two requesting suppliers "
                           f"({', '.join(sorted(set(requesters.values()))) or 'none'})")
    alerted = []
    for name, supplier in requesters.items():
        node = device(trace, name)
        alerts = ccs08_for(verifier, node.eui64)
        versions = {image.file_version for image in held_images(trace, name)}
        alerts += [alert for alert in verifier.wan(is_cs08_alert)
                   if alert.get("firmware_version") in versions]
        for alert in alerts:
            if alert.recipient != supplier:
                raise Violation(f"CONC-2: {name}'s update was requested by {supplier} but "
                                f"its {'CCS08' if is_ccs08(alert) else 'CS08'} alert goes "
                                f"to {alert.recipient}", wan=[alert])
            evidence.message(alert, note=f"alert for {name} to {supplier}")
        if alerts:
            alerted.append(name)
    missing = [name for name in requesters if name not in alerted]
    if missing:
        raise Inconclusive(f"CONC-2: the trace holds no alert for {', '.join(missing)}: "
                           "alerts to both requesters are needed")
    return evidence
