"""FRAG: the image moves in blocks, paced, resumable, in parts when large (FRAG-1..6)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from hanota.dut import Image
from hanota.images import ota_files
from layers import ota
from verify.api import Match, Verifier
from verify.checks.common import (
    ANSWER_WINDOW_S,
    METER_READ_WINDOW_S,
    TIME_TOLERANCE_S,
    chf,
    device,
    held_images,
    image_size,
    require_pics,
)
from verify.ota_view import BlockExchange, Session, downloads, sessions
from verify.trace import Frame, Trace
from verify.verdicts import Evidence, Inconclusive, Violation

METERING_CLUSTER = 0x0702
DEVICE_SILENCE_S = 5.0
"""FRAG-4: a device that got a block SUCCESS and asks nothing for this long (and longer
than its block period) mid-download was interrupted: reset, power or radio off. Our
reading: far beyond the millisecond block periods a CHF sets and the MAC/APS retries."""
IMAGE_ID = ("manufacturer_code", "image_type", "file_version")


def _need_downloads(trace: Trace, name: str) -> list[Session]:
    found = downloads(trace, name)
    if not found:
        raise Inconclusive(f"the trace holds no block transfer to {name}")
    return found


def reference_files(trace: Trace, images: list[Image]) -> list[bytes]:
    """The OTA file(s) the supplier delivered for ``images`` (the file given in the DUT
    description, or the synthetic file it describes), parts included."""
    dut = dataclasses.replace(trace.dut, images={image.name: image for image in images})
    return [data for image in images for data in ota_files(dut, image.name)]


def _first_difference(received: bytes, expected: bytes) -> int:
    return next((i for i, (a, b) in enumerate(zip(received, expected, strict=False)) if a != b),
                min(len(received), len(expected)))


def _block_carrying(session: Session, offset: int) -> Frame | None:
    for block in session.blocks:
        response = block.response
        if response is None or response.get("status") != ota.SUCCESS:
            continue
        start = response.get("file_offset")
        if start <= offset < start + len(response.get("data", b"")):
            return response
    return None


def check_block_responses(trace: Trace, name: str) -> Evidence:
    """FRAG-1 (CHF side): each block response echoes the image, serves exactly the
    requested offset, no more than asked; the bytes add up to the delivered OTA file."""
    device(trace, name)
    verifier = Verifier(trace)
    evidence = Evidence("FRAG-1")
    files = reference_files(trace, held_images(trace, name))
    for session in _need_downloads(trace, name):
        for block in session.blocks:
            response = block.response
            if response is None or response.get("status") != ota.SUCCESS:
                continue
            request = block.request
            for field in IMAGE_ID:
                verifier.check_field(response, field, request.get(field),
                                     rule=f"FRAG-1: the block response echoes {field}")
            verifier.check_field(response, "file_offset", request.get("file_offset"),
                                 rule="FRAG-1: data from exactly the requested offset")
            verifier.check_field(response, "data_size",
                                 lambda v, r=request: v is not None
                                 and v <= r.get("maximum_data_size"),
                                 rule="FRAG-1: no more than the requested maximum data size")
            verifier.check_field(response, "data_size",
                                 lambda v, r=response: v == len(r.get("data", b"")),
                                 rule="FRAG-1: data_size is the length of the data")
            evidence.frame(response)
        received = session.assembled()
        size = session.image_size
        if received is None or size is None:
            continue
        candidates = [f for f in files if len(f) == size]
        if not candidates:
            evidence.notes.append(f"no reference file of {size} bytes to compare with")
            continue
        if received[:size] not in candidates:
            expected = candidates[0]
            at = _first_difference(received, expected)
            shown = _block_carrying(session, at)
            raise Violation(f"FRAG-1: the bytes received differ from the OTA file at offset "
                            f"{at}", [shown] if shown else [])
        evidence.notes.append(f"{size} bytes received equal the OTA file byte for byte")
    return evidence.conclude()


def multi_part(sessions_: list[Session]) -> list[Frame]:
    """The evidence of an image sent in parts: the Upgrade End Requests of more than one
    finished OTA file, or any REQUIRE_MORE_IMAGE (empty when the trace shows neither)."""
    ends = [s.end_request for s in sessions_ if s.end_request is not None]
    more = [end for end in ends if end.get("status") == ota.REQUIRE_MORE_IMAGE]
    return ends if len(ends) > 1 or more else []


def _progress(session: Session) -> Iterator[tuple[BlockExchange, int, int]]:
    """Each block exchange with the device's last good offset before and after it.

    Why contiguous bytes: responses may be retried or arrive out of order; only data from
    offset 0 without a hole is what the device can resume from (FRAG-1 and FRAG-4 judge
    requests against it).
    """
    good = 0
    received: dict[int, int] = {}
    for block in session.blocks:
        before = good
        response = block.response
        if response is not None and response.get("status") == ota.SUCCESS \
                and response.get("file_offset") == block.offset:
            received[block.offset] = len(response.get("data", b""))
            while received.get(good):
                good += received[good]
        yield block, before, good


def check_block_requests(trace: Trace, name: str, in_parts: bool = False) -> Evidence:
    """FRAG-1 (device side): requests cover the file from 0 to the image size with no
    gap (retries and resumes at or before the last good offset are not gaps).

    ``in_parts``: the scenario is about an image that goes as several OTA files; a trace
    of a single-file download does not show that situation (INCONCLUSIVE)."""
    device(trace, name)
    evidence = Evidence("FRAG-1")
    found = _need_downloads(trace, name)
    if in_parts:
        parts = multi_part(found)
        if not parts:
            raise Inconclusive(f"FRAG-1: the scenario needs an image in parts but the "
                               f"trace shows {name} downloading a single OTA file")
        evidence.frame(*parts, note=f"the image goes in {len(parts)} parts")
    for session in found:
        expected = 0
        for block, good, after in _progress(session):
            if block.offset > good:
                raise Violation(f"FRAG-1: {name} asks for offset {block.offset} but has "
                                f"only received up to {good}: a gap", [block.request])
            evidence.frame(block.request)
            expected = after
        end = session.end_request
        size = session.image_size
        if end is not None and end.get("status") == ota.SUCCESS and size is not None \
                and expected < size:
            raise Violation(f"FRAG-1: {name} ends with SUCCESS after {expected} of {size} "
                            "bytes", [end])
        if size is not None and expected >= size:
            evidence.notes.append(f"offsets 0..{size} covered without gaps")
    return evidence.conclude()


def _wait_episodes(trace: Trace, name: str) -> list[tuple[BlockExchange, Session]]:
    return [(block, session) for session in downloads(trace, name) for block in session.blocks
            if block.status == ota.WAIT_FOR_DATA]


def check_wait_for_data_sent(trace: Trace, name: str) -> Evidence:
    """FRAG-2 (CHF side): WAIT_FOR_DATA carries current time, a request time not before
    it, and a minimum block period."""
    device(trace, name)
    verifier = Verifier(trace)
    episodes = _wait_episodes(trace, name)
    if not episodes:
        raise Inconclusive(f"the CHF never answered {name} with WAIT_FOR_DATA in this trace")
    evidence = Evidence("FRAG-2")
    for block, _ in episodes:
        response = block.response
        assert response is not None
        for field in ("current_time", "request_time", "minimum_block_period"):
            verifier.check_field(response, field, lambda v: v is not None,
                                 rule=f"FRAG-2: WAIT_FOR_DATA carries {field}")
        verifier.check_field(response, "request_time",
                             lambda v, r=response: v >= r.get("current_time"),
                             rule="FRAG-2: the request time is not before the current time")
        evidence.frame(block.request, response)
    return evidence


def check_wait_for_data_honoured(trace: Trace, name: str) -> Evidence:
    """FRAG-2 (device side): after WAIT_FOR_DATA the device waits until the request time
    and asks again for the same offset."""
    device(trace, name)
    verifier = Verifier(trace)
    episodes = _wait_episodes(trace, name)
    if not episodes:
        raise Inconclusive(f"the CHF never answered {name} with WAIT_FOR_DATA in this trace")
    evidence = Evidence("FRAG-2")
    server = chf(trace)
    for block, _ in episodes:
        response = block.response
        assert response is not None
        delay = max(response.get("request_time", 0) - response.get("current_time", 0), 0)
        resumed = verifier.must_next(
            Match(command=("image_block_request", "image_page_request"), src=name, dst=server),
            response, delay + ANSWER_WINDOW_S + trace.dut.pixit.query_jitter,
            rule=f"FRAG-2: {name} resumes after WAIT_FOR_DATA")
        waited = resumed.time - response.time
        if waited + TIME_TOLERANCE_S < delay:
            raise Violation(f"FRAG-2: {name} asks again {waited:.2f} s after WAIT_FOR_DATA, "
                            f"before the request time ({delay} s)", [response, resumed])
        verifier.check_field(resumed, "file_offset", block.offset,
                             rule="FRAG-2: the device resumes at the same offset")
        evidence.frame(response, resumed, note=f"waited {waited:.2f} s of {delay} s")
    return evidence


def _period_s(trace: Trace, name: str, before: Frame) -> float:
    """The minimum block period the CHF gave ``name`` before ``before`` (ms → s): the last
    WAIT_FOR_DATA's, else the PIXIT value the CHF is configured with."""
    verifier = Verifier(trace)
    waits = verifier.all(Match(command="image_block_response", dst=name,
                               fields={"status": ota.WAIT_FOR_DATA}), before=before)
    period = waits[-1].get("minimum_block_period") if waits else None
    if period is None:
        period = trace.dut.pixit.minimum_block_period_ms
    return period / 1000.0


def check_pacing(trace: Trace, name: str) -> Evidence:
    """FRAG-3: the device asks for blocks no faster than the minimum block period."""
    device(trace, name)
    evidence = Evidence("FRAG-3")
    intervals = 0
    for session in _need_downloads(trace, name):
        previous: BlockExchange | None = None
        for block in session.blocks:
            if previous is not None and previous.status != ota.WAIT_FOR_DATA:
                period = _period_s(trace, name, block.request)
                gap = block.request.time - previous.request.time
                if gap + TIME_TOLERANCE_S < period:
                    raise Violation(f"FRAG-3: {name} asks {gap * 1000:.0f} ms after its "
                                    f"previous request; the minimum block period is "
                                    f"{period * 1000:.0f} ms", [previous.request, block.request])
                intervals += 1
            previous = block
        evidence.frame(*(b.request for b in session.blocks[:2]), session.blocks[-1].request)
    if intervals == 0:
        raise Inconclusive(f"the trace holds fewer than two block requests from {name}")
    evidence.notes.append(f"{intervals} request intervals at or above the minimum block period")
    return evidence


def _interruptions(trace: Trace, name: str, session: Session) -> list[tuple[Frame, str]]:
    """The interruptions of a download: a block request left unanswered and asked again
    (a loss); a new Query Next Image Request once blocks have flowed (a restart of the
    session); or the device falling silent mid-download (a reset: the CHF answered
    SUCCESS, told it no wait, and the device asks nothing for ``DEVICE_SILENCE_S`` and
    more than its block period). A request asked again after WAIT_FOR_DATA is not one:
    the server answered it and said when to come back. Each is given with the frame
    after which the device must resume."""
    found: list[tuple[Frame, str]] = []
    first_block = session.blocks[0].request.index if session.blocks else None
    for query, _ in session.queries:
        if first_block is not None and query.index > first_block:
            found.append((query, "a new query mid-download (restart)"))
    for position, block in enumerate(session.blocks):
        later = session.blocks[position + 1:]
        if block.response is None and any(b.offset == block.offset for b in later):
            found.append((block.request, "an unanswered request retried"))
        response = block.response
        if response is not None and block.status == ota.SUCCESS and later:
            quiet = later[0].request.time - response.time
            if quiet > max(DEVICE_SILENCE_S, _period_s(trace, name, response)):
                found.append((response, f"the device silent for {quiet:.1f} s (reset)"))
    return sorted(found, key=lambda item: item[0].index)


def _resumption(session: Session, after: Frame, good: int) -> BlockExchange | None:
    """The first block request after ``after``, when it asks for the last good offset
    (``good``) and is answered SUCCESS: the download resumed where it stopped."""
    for block in session.blocks:
        if block.request.index > after.index:
            if block.offset == good and block.status == ota.SUCCESS:
                return block
            return None
    return None


def check_resume(trace: Trace, name: str) -> Evidence:
    """FRAG-4: after an interruption (a loss, a reset) the device resumes from its last
    good offset, never from 0 once it has made progress.

    Evidence is a resumption after an interruption; a trace without an interruption (a
    WAIT_FOR_DATA is not one) is INCONCLUSIVE."""
    device(trace, name)
    evidence = Evidence("FRAG-4")
    for session in _need_downloads(trace, name):
        last_offset: int | None = None
        good_after: list[tuple[int, int]] = []  # (request index, good offset after it)
        for block, good, after in _progress(session):
            offset = block.offset
            if offset < good and offset != last_offset:
                raise Violation(f"FRAG-4: {name} goes back to offset {offset} although it "
                                f"has received everything up to {good}", [block.request])
            last_offset = offset
            good_after.append((block.request.index, after))
        for frame, kind in _interruptions(trace, name, session):
            good = max((done for index, done in good_after if index < frame.index),
                       default=0)
            resumed = _resumption(session, frame, good)
            if resumed is not None:
                evidence.frame(frame, resumed.request, resumed.response,
                               note=f"{kind} (frame {frame.number}); resumed at offset "
                               f"{good} (frame {resumed.request.number})")
    if evidence.empty:
        raise Inconclusive(f"FRAG-4: the trace shows no interruption of {name}'s download "
                           "(an unanswered request retried, or a reset) followed by a "
                           "resumption")
    return evidence


def check_unfinished_download(trace: Trace, name: str) -> Evidence:
    """FRAG-4: a download the device cannot finish ends with ABORT or a time-out, never
    with activation."""
    device(trace, name)
    verifier = Verifier(trace)
    evidence = Evidence("FRAG-4")
    for session in _need_downloads(trace, name):
        unanswered = [b for b in session.blocks if b.response is None]
        answered = [b for b in session.blocks if b.response is not None]
        if not unanswered or (
                answered and answered[-1].request.index > unanswered[-1].request.index):
            continue
        first_silence = next(b for b in unanswered
                             if not answered or b.request.index > answered[-1].request.index)
        end = session.end_request
        size = session.image_size
        got = sum(len(b.response.get("data", b"")) for b in answered
                  if b.response is not None and b.response.get("status") == ota.SUCCESS)
        if end is not None and end.get("status") == ota.SUCCESS and (size is None or got < size):
            raise Violation(f"FRAG-4: {name} claims SUCCESS on a download the CHF never "
                            "finished", [first_silence.request, end])
        if end is not None and end.get("status") == ota.ABORT:
            evidence.frame(first_silence.request, end, note="download ended with ABORT")
            continue
        last = unanswered[-1].request
        window = ANSWER_WINDOW_S * 3
        if verifier.window_closed(last.time, window):
            evidence.frame(first_silence.request, last,
                           note=f"{name} stopped asking after {len(unanswered)} unanswered "
                           "requests (time-out), without activating")
    if evidence.empty:
        raise Inconclusive(f"the trace holds no download of {name} that the CHF left "
                           "unfinished (or it stops before the device gives up)")
    return evidence


def _parts(trace: Trace, name: str) -> tuple[Image, list[Session]]:
    limit = trace.dut.pixit.image_store_limit
    large = [i for i in held_images(trace, name) if (image_size(i) or 0) > limit]
    if not large:
        raise Inconclusive(f"the CHF holds no image above the store limit ({limit} bytes) "
                           f"for {name}")
    image = large[0]
    parts = [s for s in sessions(trace, name) if s.blocks and s.end_request is not None
             and s.file_version == image.file_version]
    if not parts:
        raise Inconclusive(f"the trace holds no finished part of {image.name}")
    return image, parts


def check_large_image_device(trace: Trace, name: str) -> Evidence:
    """FRAG-5 (device side, interpretation): REQUIRE_MORE_IMAGE for every part but the
    last, SUCCESS for the last."""
    require_pics(trace, "large_image_process", "FRAG-5")
    device(trace, name)
    image, parts = _parts(trace, name)
    evidence = Evidence("FRAG-5")
    total = image_size(image) or 0
    served = 0
    for position, part in enumerate(parts):
        end = part.end_request
        assert end is not None
        served += part.image_size or 0
        later = position + 1 < len(parts)
        status = end.get("status")
        if status == ota.SUCCESS and (later or served < total):
            raise Violation(f"FRAG-5: {name} answers SUCCESS on part {position + 1}, "
                            "not the last part of the large image", [end])
        if later and status != ota.REQUIRE_MORE_IMAGE:
            raise Violation(f"FRAG-5: part {position + 1} must end REQUIRE_MORE_IMAGE", [end])
        evidence.frame(end, note=f"part {position + 1}: {ota.STATUS.get(status, status)}")
    if len(parts) < 2 or parts[-1].end_request.get("status") != ota.SUCCESS:
        raise Inconclusive(f"the trace does not show every part of {image.name} "
                           f"({len(parts)} part(s) finished)")
    return evidence


def check_large_image_chf(trace: Trace, name: str) -> Evidence:
    """FRAG-5 (CHF side, interpretation): an image above the store limit goes as more
    than one OTA file, each within the limit; the first part is "active now"."""
    require_pics(trace, "large_image_process", "FRAG-5")
    device(trace, name)
    verifier = Verifier(trace)
    limit = trace.dut.pixit.image_store_limit
    _, parts = _parts(trace, name)
    evidence = Evidence("FRAG-5")
    for part in parts:
        offer = part.offer
        if offer is None:
            continue
        verifier.check_field(offer, "image_size", lambda v: v is not None and v <= limit,
                             rule=f"FRAG-5: each part fits the image store limit ({limit})")
        evidence.frame(offer)
    first_end = parts[0].end_response
    if first_end is not None and parts[0].end_request.get("status") == ota.REQUIRE_MORE_IMAGE:
        verifier.check_field(first_end, "upgrade_time",
                             lambda v, f=first_end: v == 0 or v == f.get("current_time"),
                             rule="FRAG-5: the first part's activation time is zero")
        evidence.frame(first_end)
    if len(parts) < 2:
        raise Inconclusive("the trace shows only one part of the large image")
    return evidence


def check_han_served(trace: Trace, name: str) -> Evidence:
    """FRAG-6: during a download the CHF still answers a meter read in normal time."""
    device(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    evidence = Evidence("FRAG-6")
    for session in _need_downloads(trace, name):
        first = session.blocks[0].request
        last = session.end_request or session.blocks[-1].request
        reads = verifier.all(Match(command="read_attributes", cluster=METERING_CLUSTER,
                                   where=lambda f: {f.src, f.dst} == {name, server}),
                             after=first, before=last)
        for read in reads:
            answer = verifier.must_next(
                Match(command="read_attributes_response", cluster=METERING_CLUSTER,
                      src=read.dst, dst=read.src), read, METER_READ_WINDOW_S,
                rule="FRAG-6: a meter read during the download is answered in normal time")
            evidence.frame(read, answer, note=f"meter read answered in "
                           f"{answer.time - read.time:.2f} s during the download")
    if evidence.empty:
        raise Inconclusive(f"the trace holds no meter read between {name} and the CHF "
                           "during a download")
    return evidence
