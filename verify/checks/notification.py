"""NOTIFY: the CHF tells the device, the device asks, the CHF answers (NOTIFY-1..5)."""

from __future__ import annotations

from layers import ota
from verify.api import Match, Verifier
from verify.checks.common import (
    ANSWER_WINDOW_S,
    ccs08_for,
    chf,
    device,
    header_of,
    held_images,
    image_size,
    missing_wan,
    need_image,
)
from verify.ota_view import sessions
from verify.trace import Frame, Trace
from verify.verdicts import Evidence, Inconclusive, Violation


def _query_window(trace: Trace) -> float:
    """NOTIFY-2: the device answers within the query jitter (read as seconds, our
    reading of "after at most the query jitter it was given") plus an answer window."""
    return trace.dut.pixit.query_jitter + ANSWER_WINDOW_S


def check_image_notify(trace: Trace, name: str) -> Evidence:
    """NOTIFY-1: the CHF holding an image for the device sends it a unicast Image Notify."""
    device(trace, name)
    image = need_image(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    notify = verifier.next(Match(command="image_notify", src=server,
                                 where=lambda f: f.dst == name or f.broadcast))
    rule = f"NOTIFY-1: the CHF holds image {image.name} for {name}"
    if notify is None:
        eui = trace.dut.nodes[name].eui64
        alerts = ccs08_for(verifier, eui)
        if alerts:
            raise Violation(f"{rule} but reports on it without ever sending an Image Notify",
                            wan=alerts[:1])
        window = trace.dut.pixit.evidence_timeout_s
        if verifier.window_closed(trace.start_time, window):
            raise Violation(f"{rule} but sends no Image Notify within {window:g} s")
        raise Inconclusive(f"the trace holds no Image Notify to {name} (and is shorter "
                           f"than the {window:g} s evidence time-out)")
    if notify.broadcast:
        raise Violation(f"{rule}: the Image Notify must be unicast to it", [notify])
    verifier.check_field(notify, "query_jitter", lambda v: v is not None and 1 <= v <= 100,
                         rule="NOTIFY-1: query jitter 1..100")
    if notify.direction != ota.SERVER_TO_CLIENT:
        raise Violation("NOTIFY-1: Image Notify must go server to client", [notify])
    evidence = Evidence("NOTIFY-1")
    evidence.frame(notify, note=f"unicast Image Notify to {name}")
    return evidence


def check_device_queries(trace: Trace, name: str) -> Evidence:
    """NOTIFY-2 (device side): on Image Notify the device sends Query Next Image Request."""
    node = device(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    notify = verifier.need(Match(command="image_notify", src=server, dst=name),
                           what=f"Image Notify from the CHF to {name}")
    query = verifier.must_next(Match(command="query_next_image_request", src=name, dst=server),
                               notify, _query_window(trace),
                               rule=f"NOTIFY-2: {name} answers the Image Notify")
    verifier.check_field(query, "manufacturer_code", node.manufacturer_code,
                         rule="NOTIFY-2: the query carries the device's manufacturer code")
    verifier.check_field(query, "image_type", node.image_type,
                         rule="NOTIFY-2: the query carries the device's image type")
    evidence = Evidence("NOTIFY-2")
    evidence.frame(notify, query, note=f"{name} queried {query.time - notify.time:.2f} s "
                   "after the Image Notify")
    return evidence


def _in_range(hardware: int | None, low: int | None, high: int | None) -> bool:
    if hardware is None:
        return True
    return (low is None or hardware >= low) and (high is None or hardware <= high)


def check_query_answered(trace: Trace, name: str) -> Evidence:
    """NOTIFY-2 (CHF side): the query gets SUCCESS with the held image's identity."""
    device(trace, name)
    images = held_images(trace, name)
    if not images:
        raise Inconclusive(f"the CHF holds no image for {name} in this trace")
    verifier = Verifier(trace)
    server = chf(trace)
    evidence = Evidence("NOTIFY-2")
    for query in verifier.all(Match(command="query_next_image_request", src=name, dst=server)):
        hardware = query.get("hardware_version")
        eligible = [i for i in images if _in_range(hardware, i.min_hardware_version,
                                                   i.max_hardware_version)]
        if not eligible:
            continue
        answer = verifier.must_next(
            Match(command="query_next_image_response", src=server, dst=name), query,
            ANSWER_WINDOW_S, rule=f"NOTIFY-2: the CHF answers {name}'s query")
        if hardware is None and answer.get("status") != ota.SUCCESS:
            continue  # a query without hardware version refused: NOTIFY-5 judges that
        verifier.check_field(answer, "status", ota.SUCCESS,
                             rule=f"NOTIFY-2: the CHF holds an image for {name}")
        _check_identity(trace, verifier, query, answer, eligible)
        evidence.frame(query, answer, note=f"offered 0x{answer.get('file_version'):X}")
    if evidence.empty:
        raise Inconclusive(f"the trace holds no query from {name} for a held image")
    return evidence


def _check_identity(trace: Trace, verifier: Verifier, query: Frame, answer: Frame,
                    eligible: list) -> None:
    """The answer names a held image: its manufacturer code, image type, file version and
    size (which device gets which image is CONC-1's and NOTIFY-3's business)."""
    candidates = eligible + [i for i in trace.held_images if i not in eligible]
    for image in candidates:
        target = trace.dut.nodes[image.target]
        if (answer.get("manufacturer_code"), answer.get("image_type"),
                answer.get("file_version")) == (target.manufacturer_code, target.image_type,
                                                image.file_version):
            size = image_size(image)
            split = (size is not None and size > trace.dut.pixit.image_store_limit
                     and trace.dut.pics.large_image_process)
            if size is not None and not split:
                verifier.check_field(answer, "image_size", size,
                                     rule=f"NOTIFY-2: image size of the held image "
                                     f"{image.name}")
            return
    held = ", ".join(f"{i.name} 0x{i.file_version:X}" for i in eligible)
    raise Violation(f"NOTIFY-2: the answer names no held image (held for the device: {held})",
                    [query, answer])


def check_non_target_refused(trace: Trace) -> Evidence:
    """NOTIFY-3: a device the held image is not for gets NO_IMAGE_AVAILABLE."""
    verifier = Verifier(trace)
    server = chf(trace)
    targets = {image.target for image in trace.held_images}
    evidence = Evidence("NOTIFY-3")
    for query in verifier.all(Match(command="query_next_image_request", dst=server)):
        if query.src is None or query.src in targets:
            continue
        answer = verifier.must_next(
            Match(command="query_next_image_response", src=server, dst=query.src), query,
            ANSWER_WINDOW_S, rule=f"NOTIFY-3: the CHF answers {query.src}'s query")
        verifier.check_field(answer, "status", ota.NO_IMAGE_AVAILABLE,
                             rule=f"NOTIFY-3: no image is held for {query.src}")
        evidence.frame(query, answer, note=f"{query.src} (not a target) got no image")
    if evidence.empty:
        raise Inconclusive("the trace holds no query from a device that is not the target "
                           "of a held image")
    return evidence


def _first_header(trace: Trace, name: str, after: Frame) -> dict | None:
    for session in sessions(trace, name):
        if session.blocks and session.blocks[0].request.index > after.index:
            data = session.received().get(0)
            return header_of(data) if data else None
    return None


def check_hardware_mismatch(trace: Trace, name: str) -> Evidence:
    """NOTIFY-4: a query whose hardware version is outside the image's range gets
    NO_IMAGE_AVAILABLE and the CHF reports CCS08 response code 2."""
    node = device(trace, name)
    images = held_images(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    evidence = Evidence("NOTIFY-4")
    for query in verifier.all(Match(command="query_next_image_request", src=name, dst=server,
                                    fields={"hardware_version": lambda v: v is not None})):
        hardware = query.get("hardware_version")
        answer = verifier.must_next(
            Match(command="query_next_image_response", src=server, dst=name), query,
            ANSWER_WINDOW_S, rule=f"NOTIFY-4: the CHF answers {name}'s query")
        if answer.get("status") == ota.SUCCESS:
            header = _first_header(trace, name, answer)
            low = header and header.get("minimum_hardware_version")
            high = header and header.get("maximum_hardware_version")
            if header is not None and not _in_range(hardware, low, high):
                raise Violation(f"NOTIFY-4: hardware version {hardware} is outside the "
                                f"image's range {low}..{high}, yet the CHF offers it",
                                [query, answer])
            known = [i for i in images if not _in_range(
                hardware, i.min_hardware_version, i.max_hardware_version)]
            if known and answer.get("file_version") in {i.file_version for i in known}:
                raise Violation(f"NOTIFY-4: hardware version {hardware} is outside the range "
                                f"of image {known[0].name}, yet the CHF offers it",
                                [query, answer])
            continue
        if answer.get("status") != ota.NO_IMAGE_AVAILABLE or not images:
            continue
        alerts = ccs08_for(verifier, node.eui64, after_time=query.time)
        if not alerts:
            raise missing_wan(verifier, f"CCS08 alert for {name} after the refused query",
                              query.time, "NOTIFY-4: the mismatch must be reported")
        evidence.frame(query, answer, note=f"hardware version {hardware} refused")
        evidence.message(alerts[0], note="reported in a CCS08 alert (its codes are judged "
                         "by VER-3)")
    if evidence.empty:
        raise Inconclusive(f"the trace holds no query from {name} with a hardware version "
                           "outside the held image's range")
    return evidence


def check_hardware_optional(trace: Trace, name: str) -> Evidence:
    """NOTIFY-5: a query without hardware version still gets the held image."""
    device(trace, name)
    need_image(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    query = verifier.need(Match(command="query_next_image_request", src=name, dst=server,
                                fields={"hardware_version": None}),
                          what=f"query from {name} without a hardware version")
    answer = verifier.must_next(
        Match(command="query_next_image_response", src=server, dst=name), query,
        ANSWER_WINDOW_S, rule=f"NOTIFY-5: the CHF answers {name}'s query")
    verifier.check_field(answer, "status", ota.SUCCESS,
                         rule="NOTIFY-5: a query without hardware version still gets the image")
    evidence = Evidence("NOTIFY-5")
    evidence.frame(query, answer, note="query without hardware version answered SUCCESS")
    return evidence
