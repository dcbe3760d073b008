"""NOTIFY: the CHF tells the device, the device asks, the CHF answers (NOTIFY-1..5)."""

from __future__ import annotations

from hanota.dut.description import Image
from hanota.layers import ota
from hanota.verify.api import Match, Verifier
from hanota.verify.checks.common import (
    ANSWER_WINDOW_S,
    blind_reason,
    ccs08_about,
    ccs08_for,
    chf,
    device,
    header_of,
    held_at,
    held_from,
    held_images,
    holding_spans,
    image_size,
    missing_wan,
    need_image,
    newer_than_query,
    timed_wan,
)
from hanota.verify.identity import is_known
from hanota.verify.ota_view import ota_frames, sessions
from hanota.verify.trace import Frame, Trace
from hanota.verify.verdicts import Evidence, Inconclusive, Violation

QUERY_JITTER = (1, 100)
"""The ZCL OTA cluster's range for Image Notify's query jitter."""
NOT_AUTHORIZED = 0x7E
QUERY = "query_next_image_request"
ANSWER = "query_next_image_response"


def _query_window(trace: Trace, answer_s: float = ANSWER_WINDOW_S) -> float:
    """NOTIFY-2: the device answers within the query jitter (read as seconds, our
    reading of "after at most the query jitter it was given") plus an answer window."""
    return trace.dut.pixit.query_jitter + answer_s


def _first_activity(trace: Trace, name: str) -> Frame | None:
    """The first OTA frame between the device and the CHF (retries left out)."""
    server = chf(trace)
    return next((f for f in ota_frames(trace, name) if server in (f.src, f.dst)), None)


def check_image_notify(trace: Trace, name: str,
                       jitter: tuple[int, int] = QUERY_JITTER) -> Evidence:
    """NOTIFY-1: the CHF holding an image for the device sends it a unicast Image Notify.

    An absent notify is a FAIL only where the capture shows the stretch it belongs in:
    from the capture's start to the first sign that the CHF holds the image (its offer,
    a block, its CCS08 alert), starting at least a query window before the device's
    first request, with nothing blind for the CHF (README rules 1 and 4)."""
    device(trace, name)
    image = need_image(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    notify = verifier.next(Match(command="image_notify", src=server,
                                 where=lambda f: f.dst == name or f.broadcast))
    rule = f"NOTIFY-1: the CHF holds image {image.name} for {name}"
    if notify is None:
        raise _no_notify(trace, verifier, name, rule)
    if notify.broadcast:
        raise Violation(f"{rule}: the Image Notify must be unicast to it", [notify])
    low, high = jitter
    verifier.check_field(notify, "query_jitter",
                         lambda v: v is not None and low <= v <= high,
                         rule=f"NOTIFY-1: query jitter {low}..{high}")
    if notify.direction != ota.SERVER_TO_CLIENT:
        raise Violation("NOTIFY-1: Image Notify must go server to client", [notify])
    evidence = Evidence("NOTIFY-1")
    evidence.frame(notify, note=f"unicast Image Notify to {name}")
    return evidence


def _no_notify(trace: Trace, verifier: Verifier, name: str, rule: str) -> Exception:
    server = chf(trace)
    first = _first_activity(trace, name)
    if first is not None and first.command != QUERY:
        return Inconclusive(f"NOTIFY-1: the capture starts inside {name}'s OTA exchange "
                            f"(frame {first.number}: {first.command}): its Image Notify "
                            "would lie before the first frame")
    if not trace.shows_han:
        return Inconclusive("NOTIFY-1: no frame of the trace decodes beyond its MAC "
                            "header: the capture does not show the HAN")
    held = held_from(trace, name)
    eui = trace.dut.nodes[name].eui64
    alerts = ccs08_for(verifier, eui, after_time=trace.start_time)  # timed ones only
    anchor = trace.coverage.first_heard(server)
    if anchor is None:
        return Inconclusive(f"{rule}, but no frame of the CHF is in the capture: whether it "
                            "sent an Image Notify cannot be told")
    start = trace.frames[anchor]  # silence of the CHF is provable from its first frame on
    if held is None and not alerts:
        window = trace.dut.pixit.evidence_timeout_s
        if not verifier.window_closed(start.time, window):
            return Inconclusive(f"the trace holds no Image Notify to {name} (and is shorter "
                                f"than the {window:g} s evidence time-out)")
        end = verifier.window_end(start, window)
        blind = blind_reason(trace, anchor, end, (server,))
        if blind:
            return Inconclusive(f"{rule} and the trace shows no Image Notify within "
                                f"{window:g} s, but the sniffer may have missed it: {blind}")
        return Violation(f"{rule} but sends no Image Notify within {window:g} s",
                         [start, *trace.frames[end:end + 1]])
    until = held.index if held is not None else verifier.position_at(alerts[0].time)
    lead = (first.time if first is not None else (held.time if held else alerts[0].time)) \
        - start.time
    if lead < _query_window(trace):
        return Inconclusive(f"NOTIFY-1: the capture shows the CHF only {lead:.1f} s before "
                            f"{name}'s first OTA frame: an Image Notify before that would "
                            "not be seen")
    blind = blind_reason(trace, anchor, until, (server,))
    if blind:
        return Inconclusive(f"{rule} and no Image Notify is seen before it serves the image, "
                            f"but the sniffer may have missed it: {blind}")
    shown = [f for f in (first, held) if f is not None]
    if held is not None:
        return Violation(f"{rule} and serves it without ever sending an Image Notify", shown)
    return Violation(f"{rule} but reports on it without ever sending an Image Notify",
                     shown, alerts[:1])


def check_device_queries(trace: Trace, name: str,
                         answer_s: float = ANSWER_WINDOW_S) -> Evidence:
    """NOTIFY-2 (device side): on Image Notify the device sends Query Next Image Request.

    A unicast notify obliges the device; a broadcast one only when its query jitter is
    100 and the fields it carries name the device's manufacturer and image type (the ZCL
    OTA cluster lets a client ignore a broadcast when its draw 1..100 exceeds the
    jitter). Notifies that reach the device while it downloads are not judged (it is
    already in the exchange). One notify answered is the evidence; unanswered ones are
    FAIL only where the sniffer saw the device all through the query window."""
    node = device(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    heard = [n for n in verifier.all(Match(command="image_notify", src=server,
                                           where=lambda f: f.dst == name or f.broadcast))
             if not _downloading(trace, name, n)]
    notifies = [n for n in heard if not n.broadcast or _obliges(n, node.manufacturer_code,
                                                                   node.image_type)]
    if not notifies:
        ignorable = f" (only broadcasts it may ignore: frames " \
            f"{', '.join(str(n.number) for n in heard[:5])})" if heard else ""
        raise Inconclusive(f"the trace holds no Image Notify from the CHF to {name} outside "
                           f"a download{ignorable}")
    query_match = Match(command=QUERY, src=name, dst=server)
    verdicts: list[Exception] = []
    window = _query_window(trace, answer_s)
    for notify in notifies:
        query = verifier.next(query_match, notify, window)
        if query is None:
            verdicts.append(verifier.absence(query_match, notify, window,
                                             rule=f"NOTIFY-2: {name} answers the Image Notify"))
            continue
        verifier.check_field(query, "manufacturer_code", node.manufacturer_code,
                             rule="NOTIFY-2: the query carries the device's manufacturer code")
        verifier.check_field(query, "image_type", node.image_type,
                             rule="NOTIFY-2: the query carries the device's image type")
        evidence = Evidence("NOTIFY-2")
        evidence.frame(notify, query, note=f"{name} queried {query.time - notify.time:.2f} s "
                       "after the Image Notify")
        return evidence
    raise next((v for v in verdicts if isinstance(v, Violation)), verdicts[0])


def _obliges(notify: Frame, manufacturer_code: int, image_type: int) -> bool:
    """Whether a broadcast Image Notify obliges every client it names to query."""
    if notify.get("query_jitter") != QUERY_JITTER[1]:
        return False
    carried = notify.get("manufacturer_code"), notify.get("image_type")
    return carried[0] in (None, manufacturer_code, ota.WILDCARD_MANUFACTURER) and \
        carried[1] in (None, image_type, ota.WILDCARD_IMAGE_TYPE)


def _downloading(trace: Trace, name: str, frame: Frame) -> bool:
    """Whether ``frame`` falls inside one of the device's downloads (first block request
    to Upgrade End Request)."""
    for session in sessions(trace, name):
        if session.blocks:
            last = session.end_request or session.blocks[-1].request
            if session.blocks[0].request.index < frame.index <= last.index:
                return True
    return False


def _in_range(hardware: int | None, low: int | None, high: int | None) -> bool:
    if hardware is None:
        return True
    return (low is None or hardware >= low) and (high is None or hardware <= high)


def _eligible(query: Frame, images: list[Image]) -> list[Image]:
    hardware = query.get("hardware_version")
    return [i for i in newer_than_query(query, images)
            if _in_range(hardware, i.min_hardware_version, i.max_hardware_version)]


def counted_queries(trace: Trace, name: str) -> list[tuple[Frame, list[Image]]]:
    """The device's queries the CHF must serve (README rule 3): while the CHF shows it
    holds an image for the device (from its notify or offer to its read-back after the
    device's Upgrade End Request), asking for a version below a held image's, with a
    hardware version in its range; each with the held images it may be offered."""
    images = held_images(trace, name)
    spans = holding_spans(trace, name)
    if not images or not spans:
        return []
    starts = {span.start for span in spans}
    verifier = Verifier(trace)
    found = []
    for query in verifier.all(Match(command=QUERY, src=name, dst=chf(trace))):
        answer = verifier.next(Match(command=ANSWER, src=chf(trace), dst=name), query,
                               ANSWER_WINDOW_S)
        shown_start = answer is not None and answer.index in starts
        if not shown_start and not held_at(trace, spans, query.index):
            continue
        eligible = _eligible(query, images)
        if eligible:
            found.append((query, eligible))
    return found


def check_query_answered(trace: Trace, name: str) -> Evidence:
    """NOTIFY-2 (CHF side): a query it must serve gets SUCCESS with the held image's
    identity."""
    device(trace, name)
    if not held_images(trace, name):
        raise Inconclusive(f"the CHF holds no image for {name} in this trace")
    verifier = Verifier(trace)
    server = chf(trace)
    evidence = Evidence("NOTIFY-2")
    for query, eligible in counted_queries(trace, name):
        answer = verifier.must_next(
            Match(command=ANSWER, src=server, dst=name), query,
            ANSWER_WINDOW_S, rule=f"NOTIFY-2: the CHF answers {name}'s query")
        if query.get("hardware_version") is None and answer.get("status") != ota.SUCCESS:
            continue  # a query without hardware version refused: NOTIFY-5 judges that
        if answer.get("status") == NOT_AUTHORIZED:
            continue  # the route itself refused to the device: SCOPE-1 judges that
        verifier.check_field(answer, "status", ota.SUCCESS,
                             rule=f"NOTIFY-2: the CHF holds an image for {name}")
        _check_identity(trace, verifier, query, answer, eligible)
        evidence.frame(query, answer, note=f"offered 0x{answer.get('file_version'):X}")
    if evidence.empty:
        raise Inconclusive(f"the trace holds no query from {name} for a held image after "
                           "the CHF showed it holds one")
    return evidence


def _check_identity(trace: Trace, verifier: Verifier, query: Frame, answer: Frame,
                    eligible: list[Image]) -> None:
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
    """NOTIFY-3: a device the held image is not for gets NO_IMAGE_AVAILABLE; and
    (interpretation, PIXIT notify_non_target_fails) it gets no unicast Image Notify."""
    verifier = Verifier(trace)
    server = chf(trace)
    targets = {image.target for image in trace.held_images}
    evidence = Evidence("NOTIFY-3")
    if trace.dut.pixit.notify_non_target_fails:
        for notify in verifier.all(Match(command="image_notify", src=server)):
            if is_known(notify.dst) and notify.dst not in targets \
                    and trace.dut.nodes[notify.dst].kind in ("ppmid", "hcalcs"):
                raise Violation(f"NOTIFY-3: the CHF sends {notify.dst} a unicast Image "
                                "Notify although it holds no image for it (interpretation: "
                                "PIXIT notify_non_target_fails)", [notify])
    for query in verifier.all(Match(command=QUERY, dst=server)):
        if not is_known(query.src) or query.src in targets:
            continue
        if trace.dut.nodes[query.src].kind not in ("ppmid", "hcalcs"):
            continue  # an IHD's query is SCOPE-2's
        answer = verifier.must_next(
            Match(command=ANSWER, src=server, dst=query.src), query,
            ANSWER_WINDOW_S, rule=f"NOTIFY-3: the CHF answers {query.src}'s query")
        verifier.check_field(answer, "status", ota.NO_IMAGE_AVAILABLE,
                             rule=f"NOTIFY-3: no image is held for {query.src}")
        evidence.frame(query, answer, note=f"{query.src} (not a target) got no image")
    if evidence.empty:
        raise Inconclusive("the trace holds no query from a device that is not the target "
                           "of a held image")
    return evidence


def _served_header(trace: Trace, name: str, after: Frame) -> dict | None:
    """The OTA header of the first file served to ``name`` after ``after``."""
    for session in sessions(trace, name):
        if session.blocks and session.blocks[0].request.index > after.index:
            data = session.received().get(0)
            return header_of(data) if data else None
    return None


def check_hardware_mismatch(trace: Trace, name: str) -> Evidence:
    """NOTIFY-4: a query whose hardware version is outside the held image's range gets
    NO_IMAGE_AVAILABLE and the CHF reports it in a CCS08 alert (code 2, judged by VER-3).
    Only queries outside the range of every held image the device asks for count. The
    alert is owed once, after the first such query the CHF answers while it shows it
    holds the image (its notify or offer); a device querying again on its own schedule,
    before or after, is refused without a second alert."""
    node = device(trace, name)
    images = held_images(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    spans = holding_spans(trace, name)
    refused: list[tuple[Frame, Frame]] = []
    for query in verifier.all(Match(command=QUERY, src=name, dst=server,
                                    fields={"hardware_version": lambda v: v is not None})):
        hardware = query.get("hardware_version")
        wanted = newer_than_query(query, images)
        outside = [i for i in wanted if not _in_range(
            hardware, i.min_hardware_version, i.max_hardware_version)]
        answer = verifier.next(Match(command=ANSWER, src=server, dst=name), query,
                               ANSWER_WINDOW_S)
        if answer is not None and answer.get("status") == ota.SUCCESS:
            header = _served_header(trace, name, answer)
            low = header and header.get("minimum_hardware_version")
            high = header and header.get("maximum_hardware_version")
            if header is not None and not _in_range(hardware, low, high):
                raise Violation(f"NOTIFY-4: hardware version {hardware} is outside the "
                                f"image's range {low}..{high}, yet the CHF offers it",
                                [query, answer])
            if outside and answer.get("file_version") in {i.file_version for i in outside}:
                raise Violation(f"NOTIFY-4: hardware version {hardware} is outside the range "
                                f"of image {outside[0].name}, yet the CHF offers it",
                                [query, answer])
            continue
        if not outside or len(outside) < len(wanted):
            continue  # in range of some image it asks for: not a mismatch
        if answer is None:
            answer = verifier.must_next(Match(command=ANSWER, src=server, dst=name), query,
                                        ANSWER_WINDOW_S,
                                        rule=f"NOTIFY-4: the CHF answers {name}'s query")
        if answer.get("status") != ota.NO_IMAGE_AVAILABLE:
            raise Violation(f"NOTIFY-4: hardware version {hardware} is outside the image's "
                            "range: the answer must be NO_IMAGE_AVAILABLE", [query, answer])
        refused.append((query, answer))
    if not refused:
        raise Inconclusive(f"the trace holds no query from {name} with a hardware version "
                           "outside the held image's range")
    owed = [pair for pair in refused if not spans or held_at(trace, spans, pair[0].index)]
    if not owed:
        raise Inconclusive(f"NOTIFY-4: {name}'s out-of-range queries (frames "
                           f"{', '.join(str(q.number) for q, _ in refused[:5])}) all come "
                           "while the CHF shows no image held for it (before its notify or "
                           "offer, or after its read-back)")
    query, answer = owed[0]
    alerts = timed_wan(verifier, ccs08_about(node.eui64),
                       what=f"NOTIFY-4: the CCS08 alert for {name}", after_time=query.time)
    if not alerts:
        raise missing_wan(verifier, f"CCS08 alert for {name} after the refused query",
                          query.time, "NOTIFY-4: the mismatch must be reported",
                          [query, answer])
    evidence = Evidence("NOTIFY-4")
    for query, answer in refused[:3]:
        evidence.frame(query, answer, note=f"hardware version "
                       f"{query.get('hardware_version')} refused")
    evidence.message(alerts[0], note="reported in a CCS08 alert (its codes are judged "
                     "by VER-3)")
    return evidence


def check_hardware_optional(trace: Trace, name: str) -> Evidence:
    """NOTIFY-5: a query without hardware version still gets the held image."""
    device(trace, name)
    need_image(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    queries = [q for q, _ in counted_queries(trace, name) if q.get("hardware_version") is None]
    if not queries:
        raise Inconclusive(f"the trace holds no query from {name} without a hardware "
                           "version for a held image")
    evidence = Evidence("NOTIFY-5")
    for query in queries:
        answer = verifier.must_next(
            Match(command=ANSWER, src=server, dst=name), query,
            ANSWER_WINDOW_S, rule=f"NOTIFY-5: the CHF answers {name}'s query")
        verifier.check_field(answer, "status", ota.SUCCESS,
                             rule="NOTIFY-5: a query without hardware version still gets "
                             "the image")
        evidence.frame(query, answer, note="query without hardware version answered SUCCESS")
    return evidence

