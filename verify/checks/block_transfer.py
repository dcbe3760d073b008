"""FRAG: the image moves in blocks, paced, resumable, in parts when large (FRAG-1..6)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from hanota.dut.description import Image
from hanota.dut.images import ota_files, part_of
from hanota.layers import ota
from hanota.layers.model import DecodeError
from hanota.layers.otafile import parse_ota_file
from hanota.verify.api import Match, Verifier
from hanota.verify.checks.common import (
    ANSWER_WINDOW_S,
    METER_READ_WINDOW_S,
    TIME_TOLERANCE_S,
    attribute_values,
    blind_reason,
    chf,
    device,
    header_of,
    held_images,
    image_size,
    require_pics,
)
from hanota.verify.ota_view import BlockExchange, Session, downloads, sessions
from hanota.verify.trace import Frame, Trace
from hanota.verify.verdicts import Evidence, Inconclusive, Violation

METERING_CLUSTER = 0x0702
MINIMUM_BLOCK_PERIOD = 0x0009
DEVICE_SILENCE_S = 5.0
"""FRAG-4: a device that returns to an earlier offset after asking nothing for this long
restarted (reset, power or radio off). Our reading: far beyond the millisecond block
periods a CHF sets and the MAC/APS retries. Silence alone is no interruption."""
IMAGE_ID = ("manufacturer_code", "image_type", "file_version")


def _need_downloads(trace: Trace, name: str) -> list[Session]:
    found = downloads(trace, name)
    if not found:
        raise Inconclusive(f"the trace holds no block transfer to {name}")
    return found


def reference_files(trace: Trace, images: list[Image], *, whole: bool = False) -> list[bytes]:
    """The OTA file(s) the supplier delivered for ``images``: the file given in the DUT
    description, or the synthetic file it describes, in parts where the large-image
    process splits it; ``whole``: unsplit (a CHF may serve either: whether it splits is
    FRAG-5's business)."""
    dut = dataclasses.replace(trace.dut, images={image.name: image for image in images})
    return [data for image in images
            for data in ota_files(dut, image.name, split=False if whole else None)]


def _candidates(files: list[bytes], session: Session) -> list[bytes]:
    """Reference files this session may be transferring: its size when the offer was
    seen, and, among those, its file version (a wrong version in the offer is NOTIFY-2's
    fault, not a reason to compare with nothing)."""
    version, size = session.file_version, session.image_size
    sized = [data for data in files if size is None or len(data) == size]
    versioned = [data for data in sized if (header_of(data[:64]) or {}).get("file_version")
                 == version]
    return versioned or sized


# ---- FRAG-1, CHF side ----------------------------------------------------------------------


def check_block_responses(trace: Trace, name: str) -> Evidence:
    """FRAG-1 (CHF side): each block response echoes the image, serves exactly the
    requested offset (within the page, for a page request), no more than asked, and its
    bytes equal the delivered OTA file at that offset. Each block is compared on its
    own, so blocks the sniffer missed leave the others judged; without a reference
    file to compare with, the verdict is INCONCLUSIVE."""
    device(trace, name)
    verifier = Verifier(trace)
    evidence = Evidence("FRAG-1")
    images = held_images(trace, name)
    files = reference_files(trace, images)
    unreferenced: list[Session] = []
    compared = 0
    for session in _need_downloads(trace, name):
        candidates = _candidates(files, session) or _candidates(
            reference_files(trace, images, whole=True), session)
        if not candidates and any(block.data() for block in session.blocks):
            unreferenced.append(session)
        for block in session.blocks:
            for response in block.data():
                _check_response(verifier, block, response)
                if candidates:
                    candidates = _compare(candidates, response)
                    compared += 1
                evidence.frame(response)
        for response in session.orphans:  # its request was not captured: bytes only
            if response.get("status") == ota.SUCCESS and candidates:
                candidates = _compare(candidates, response)
                compared += 1
    if unreferenced:
        first = unreferenced[0].blocks[0].request
        raise Inconclusive(f"FRAG-1: no reference OTA file of version "
                           f"0x{unreferenced[0].file_version or 0:X} (size "
                           f"{unreferenced[0].image_size}) to compare the bytes served from "
                           f"frame {first.number} with: give the image in the DUT description")
    evidence.notes.append(f"{compared} blocks equal the OTA file at their offsets")
    return evidence.conclude()


def _check_response(verifier: Verifier, block: BlockExchange, response: Frame) -> None:
    request = block.request
    for field in IMAGE_ID:
        verifier.check_field(response, field, request.get(field),
                             rule=f"FRAG-1: the block response echoes {field}")
    if block.page:
        verifier.check_field(response, "file_offset",
                             lambda v: v is not None and block.offset <= v < block.end,
                             rule="FRAG-1: data from within the requested page")
    else:
        verifier.check_field(response, "file_offset", request.get("file_offset"),
                             rule="FRAG-1: data from exactly the requested offset")
    verifier.check_field(response, "data_size",
                         lambda v: v is not None and v <= request.get("maximum_data_size"),
                         rule="FRAG-1: no more than the requested maximum data size")
    verifier.check_field(response, "data_size",
                         lambda v: v == len(response.get("data", b"")),
                         rule="FRAG-1: data_size is the length of the data")


def _compare(candidates: list[bytes], response: Frame) -> list[bytes]:
    """The candidate files this block agrees with; FAIL when it agrees with none."""
    offset, data = response.get("file_offset"), response.get("data", b"")
    kept = [c for c in candidates if c[offset:offset + len(data)] == data]
    if kept:
        return kept
    expected = candidates[0][offset:offset + len(data)]
    at = offset + next((i for i, (a, b) in enumerate(zip(data, expected, strict=False))
                        if a != b), min(len(data), len(expected)))
    raise Violation(f"FRAG-1: the bytes served differ from the OTA file at offset {at}",
                    [response])


# ---- the device's walk through the file (FRAG-1 device side, FRAG-4) ------------------


@dataclass
class Step:
    """One block request of a download, classified.

    ``kind``: "first", "advance" (to where the bytes seen arriving end, those of the
    previous request or of answers to requests the sniffer missed), "retry", "unseen"
    (an advance over frames the sniffer missed: consistent, not provable), "gap"
    (further than it can have received), "overlap" (back into what it has, no
    interruption: FRAG-1), "back" (back below what it had after an interruption:
    FRAG-4), "resume" (after an interruption, at its last good offset).
    ``interruption`` names what came between it and the request before, when something
    did.
    """

    block: BlockExchange
    kind: str
    had: int
    note: str = ""
    interruption: str | None = None
    after: Frame | None = None


def _data_size(block: BlockExchange) -> int | None:
    """Bytes the response(s) to ``block`` carried from its offset (None when unseen)."""
    sizes = [len(r.get("data", b"")) for r in block.data() if r.get("file_offset") is not None]
    if not sizes:
        return None
    if not block.page:
        return sizes[0]
    covered = {r.get("file_offset"): len(r.get("data", b"")) for r in block.data()}
    end = block.offset
    while covered.get(end):
        end += covered[end]
    return end - block.offset


def _answered_on(session: Session, previous: BlockExchange, block: BlockExchange,
                 reached: int) -> int:
    """How far past ``reached`` the answers to requests the sniffer missed carried the
    file, contiguously, between ``previous`` and ``block``.

    Why such an answer proves a request: the Comms Hub's Image Block Response echoes the
    ZCL sequence number of the request it answers, so a response whose number lies
    between those of ``previous`` and ``block`` answers a request of this device made
    between them, at the offset the response carries. A device that skipped those bytes
    made no such request, and nothing answered it."""
    low, high = previous.request.seq, block.request.seq
    if low is None or high is None:
        return reached
    between = (high - low) % 256
    carried: dict[int, int] = {}
    for response in session.orphans:
        if previous.request.index < response.index < block.request.index \
                and response.seq is not None and 0 < (response.seq - low) % 256 < between \
                and response.get("status") == ota.SUCCESS:
            carried[response.get("file_offset")] = len(response.get("data", b""))
    while carried.get(reached):
        reached += carried[reached]
    return reached


def walk(trace: Trace, name: str, session: Session) -> Iterator[Step]:
    """The device's requests of one session, each classified against what it asked for
    before. Why on requests: a request for offset X is the device's own statement that
    it holds every byte below X; the responses only tell how far the next one may go,
    and where the sniffer missed them the bound is the size it asked for."""
    server = chf(trace)
    restarts = _restarts(trace, name, session)
    previous: BlockExchange | None = None
    asked = 0  # the furthest offset the device has asked for: it holds everything below
    for block in session.blocks:
        if previous is None:
            yield Step(block, "first", 0)
            previous, asked = block, block.offset
            continue
        offset, start = block.offset, previous.offset
        interruption = _interruption(restarts, previous, block)
        size = _data_size(previous)
        common = {"had": asked, "interruption": interruption, "after": previous.request}
        if offset == start:
            if interruption is None and not previous.responses and blind_reason(
                    trace, previous.request.index, block.request.index, (server,)) is None:
                common["interruption"] = "an unanswered request retried"
            step = Step(block, "retry", **common)
        elif offset < start:
            step = Step(block, "back" if interruption else "overlap", **common)
        elif size is not None and offset in (start + size, _answered_on(session, previous,
                                                                        block, start + size)):
            step = Step(block, "advance", **common)
        elif size is not None and offset < start + size:
            step = Step(block, "resume" if interruption else "overlap", **common)
        else:
            # Further than the bytes seen arriving: only frames the sniffer missed can
            # explain it (the device's own requests, or, up to the size it asked for,
            # the response to the previous one or a page's responses not seen).
            missed = blind_reason(trace, previous.request.index, block.request.index, (name,))
            if missed is None and (size is None or previous.page) and offset <= previous.end:
                missed = blind_reason(trace, previous.request.index, block.request.index,
                                      (server,))
            step = Step(block, "unseen" if missed else "gap", note=missed or "", **common)
        yield step
        previous, asked = block, max(asked, offset)


def _restarts(trace: Trace, name: str, session: Session) -> list[tuple[Frame, str]]:
    """What shows the device restarted during the download (see ``_restarts_between``)."""
    first = session.blocks[0].request.index
    last = (session.end_request or session.blocks[-1].request).index
    return _restarts_between(trace, name, first, last)


def _restarts_between(trace: Trace, name: str, first: int, last: int,
                      ) -> list[tuple[Frame, str]]:
    """The device's frames strictly between trace positions ``first`` and ``last`` that
    show it restarted: a new Query Next Image, or a Device_annce (a rejoin)."""
    found = []
    for frame in trace.frames_from(first + 1):
        if frame.index >= last:
            break
        if frame.src != name or frame.duplicate_of is not None:
            continue
        if frame.command == "query_next_image_request":
            found.append((frame, "a new query mid-download (restart)"))
        elif frame.stack_command == "device_annce":
            found.append((frame, "a rejoin (Device_annce)"))
    return found


def _interruption(restarts: list[tuple[Frame, str]], previous: BlockExchange,
                  block: BlockExchange) -> str | None:
    """What came between two requests: a restart, or (for a return to an earlier
    offset) a silence of more than ``DEVICE_SILENCE_S``."""
    for frame, kind in restarts:
        if previous.request.index < frame.index < block.request.index:
            return f"{kind} (frame {frame.number})"
    last = previous.responses[-1] if previous.responses else previous.request
    quiet = block.request.time - last.time
    if block.offset < previous.offset and quiet > DEVICE_SILENCE_S:
        return f"{quiet:.1f} s of silence, then an earlier offset"
    return None


def multi_part(sessions_: list[Session]) -> list[Frame]:
    """The evidence of an image sent in parts: the Upgrade End Requests of the finished
    OTA files when one of them says REQUIRE_MORE_IMAGE (empty otherwise). Why not any
    two finished files: the same single-file image delivered twice is not in parts."""
    ends = [s.end_request for s in sessions_ if s.end_request is not None]
    more = [end for end in ends if end.get("status") == ota.REQUIRE_MORE_IMAGE]
    return ends if more else []


def check_block_requests(trace: Trace, name: str, in_parts: bool = False) -> Evidence:
    """FRAG-1 (device side): requests cover the file from 0 to the image size with no
    gap and no overlap (retries of the same offset, and resumptions after a restart,
    which FRAG-4 judges, are neither).

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
    unproven: list[str] = []
    for session in found:
        last: Step | None = None
        for step in walk(trace, name, session):
            request = step.block.request
            if step.kind == "first" and request.get("file_offset") > 0:
                unproven.append(f"the download starts in the capture at offset "
                                f"{request.get('file_offset')} (frame {request.number})")
            elif step.kind == "gap":
                raise Violation(f"FRAG-1: {name} asks for offset {step.block.offset} but "
                                "cannot have received the bytes before it: a gap",
                                [step.after, request])
            elif step.kind == "overlap":
                raise Violation(f"FRAG-1: {name} asks again for offset {step.block.offset}, "
                                f"inside what it already asked past ({step.had}): an "
                                "overlap that is not a retry", [step.after, request])
            elif step.kind == "unseen" and step.note:
                unproven.append(f"offsets before {step.block.offset} (frame "
                                f"{request.number}): {step.note}")
            evidence.frame(request)
            last = step
        _check_end(trace, name, session, last, unproven)
    if unproven:
        raise Inconclusive(f"FRAG-1: no gap or overlap seen, but the coverage of the file "
                           f"cannot be shown: {'; '.join(unproven[:3])}")
    return evidence.conclude()


def _check_end(trace: Trace, name: str, session: Session, last: Step | None,
               unproven: list[str]) -> None:
    """An Upgrade End Request SUCCESS before the device asked for the last bytes."""
    end, size = session.end_request, session.image_size
    if end is None or end.get("status") != ota.SUCCESS or size is None or last is None:
        return
    block = last.block
    got = _data_size(block)
    reach = block.offset + (got if got is not None else block.end - block.offset)
    if reach >= size:
        return
    missed = blind_reason(trace, block.request.index, end.index, (name, chf(trace)))
    if missed:
        unproven.append(f"the last request seen asks for offset {block.offset} of {size} "
                        f"before the Upgrade End Request (frame {end.number}): {missed}")
        return
    raise Violation(f"FRAG-1: {name} ends with SUCCESS after asking up to offset "
                    f"{block.offset} of {size} bytes", [block.request, end])


# ---- FRAG-2 ------------------------------------------------------------------------------


def _wait_episodes(trace: Trace, name: str) -> list[BlockExchange]:
    server = chf(trace)
    return [block for session in downloads(trace, name) for block in session.blocks
            if block.status == ota.WAIT_FOR_DATA and block.response.src == server]


def check_wait_for_data_sent(trace: Trace, name: str) -> Evidence:
    """FRAG-2 (CHF side): WAIT_FOR_DATA carries current time, a request time not before
    it, and a minimum block period."""
    device(trace, name)
    verifier = Verifier(trace)
    episodes = _wait_episodes(trace, name)
    if not episodes:
        raise Inconclusive(f"the CHF never answered {name} with WAIT_FOR_DATA in this trace")
    evidence = Evidence("FRAG-2")
    for block in episodes:
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
    and asks again for the same offset. An episode in which the sniffer may have missed
    one of the device's frames is not judged (an early request could hide there)."""
    device(trace, name)
    verifier = Verifier(trace)
    episodes = _wait_episodes(trace, name)
    if not episodes:
        raise Inconclusive(f"the CHF never answered {name} with WAIT_FOR_DATA in this trace")
    evidence = Evidence("FRAG-2")
    server = chf(trace)
    unjudged: list[str] = []
    for block in episodes:
        response = block.response
        assert response is not None
        delay = max(response.get("request_time", 0) - response.get("current_time", 0), 0)
        resumed = verifier.must_next(
            Match(command=("image_block_request", "image_page_request"), src=name, dst=server),
            response, delay + ANSWER_WINDOW_S + trace.dut.pixit.query_jitter,
            rule=f"FRAG-2: {name} resumes after WAIT_FOR_DATA")
        waited = resumed.time - response.time
        restarts = _restarts_between(trace, name, response.index, resumed.index)
        if restarts:  # a WAIT_FOR_DATA given before a restart no longer binds
            restart, kind = restarts[0]
            unjudged.append(f"frame {response.number}: {name} restarted before asking again "
                            f"(frame {restart.number}: {kind})")
            continue
        if waited + TIME_TOLERANCE_S < delay:
            raise Violation(f"FRAG-2: {name} asks again {waited:.2f} s after WAIT_FOR_DATA, "
                            f"before the request time ({delay} s)", [response, resumed])
        missed = blind_reason(trace, response.index, resumed.index, (name,))
        if missed:
            unjudged.append(f"frame {response.number}: {missed}")
            continue
        verifier.check_field(resumed, "file_offset", block.offset,
                             rule="FRAG-2: the device resumes at the same offset")
        evidence.frame(response, resumed, note=f"waited {waited:.2f} s of {delay} s")
    if evidence.empty:
        raise Inconclusive("FRAG-2: no WAIT_FOR_DATA episode could be judged (a frame of "
                           f"the device the sniffer may have missed, or a restart): "
                           f"{'; '.join(unjudged[:3])}")
    return evidence


# ---- FRAG-3 ------------------------------------------------------------------------------


def check_pacing(trace: Trace, name: str) -> Evidence:
    """FRAG-3: the device asks for blocks no faster than the minimum block period the
    CHF gave it ON THE AIR: a WAIT_FOR_DATA's minimum block period, or the
    MinimumBlockPeriod attribute the CHF wrote. Intervals before any such period, after
    a WAIT_FOR_DATA (FRAG-2's) or across a frame the sniffer may have missed are not
    judged. One walk of the device's OTA frames, linear in the trace."""
    device(trace, name)
    server = chf(trace)
    evidence = Evidence("FRAG-3")
    period: float | None = None
    previous: Frame | None = None
    previous_waited = False
    intervals = pages = 0
    for frame in trace.ota_frames(name):
        if frame.duplicate_of is not None:
            continue
        pages += frame.command == "image_page_request" and frame.src == name
        if frame.src == server and frame.dst == name:
            given = _period_given(frame)
            if given is not None:
                period = given
            if frame.command == "image_block_response":
                previous_waited = frame.get("status") == ota.WAIT_FOR_DATA
            continue
        if frame.src != name or frame.dst != server or frame.command != "image_block_request":
            continue
        if previous is not None and period is not None and not previous_waited \
                and frame.get("file_offset") != previous.get("file_offset") \
                and blind_reason(trace, previous.index, frame.index, (name,)) is None:
            gap = frame.time - previous.time
            if gap + TIME_TOLERANCE_S < period:
                raise Violation(f"FRAG-3: {name} asks {gap * 1000:.0f} ms after its "
                                f"previous request; the CHF gave a minimum block period of "
                                f"{period * 1000:.0f} ms", [previous, frame])
            intervals += 1
            if intervals <= 2:
                evidence.frame(previous, frame)
        previous, previous_waited = frame, False
    if intervals == 0 and pages:
        raise Inconclusive(f"FRAG-3: {name} fetches the image by Image Page Request "
                           f"({pages} seen); the CHF paces a page's blocks at the response "
                           "spacing asked, so no block requests are paced by the device")
    if intervals == 0:
        raise Inconclusive(f"FRAG-3: the trace holds no two consecutive block requests from "
                           f"{name} after the CHF gave it a minimum block period on the air "
                           "(WAIT_FOR_DATA or MinimumBlockPeriod written)")
    evidence.notes.append(f"{intervals} request intervals at or above the minimum block period")
    return evidence


def _period_given(frame: Frame) -> float | None:
    """A minimum block period (s) the CHF gives in ``frame``, if it gives one."""
    if frame.command == "image_block_response" and frame.get("status") == ota.WAIT_FOR_DATA:
        period = frame.get("minimum_block_period")
        return None if period is None else period / 1000.0
    written = attribute_values(frame, "write_attributes").get(MINIMUM_BLOCK_PERIOD)
    return None if written is None else written / 1000.0


# ---- FRAG-4 ------------------------------------------------------------------------------


def check_resume(trace: Trace, name: str) -> Evidence:
    """FRAG-4: after an interruption seen on the air (an unanswered request retried, a new
    query, a rejoin) the device resumes from its last good offset, never lower.

    Evidence is a resumption after an interruption; a trace without an interruption (a
    WAIT_FOR_DATA, or a mere pause, is not one) is INCONCLUSIVE."""
    device(trace, name)
    evidence = Evidence("FRAG-4")
    for session in _need_downloads(trace, name):
        for step in walk(trace, name, session):
            if step.interruption is None:
                continue
            request = step.block.request
            if step.kind == "back":
                raise Violation(f"FRAG-4: after {step.interruption}, {name} goes back to "
                                f"offset {step.block.offset} although it had asked past "
                                f"{step.had}", [step.after, request])
            if step.kind in ("retry", "resume", "advance") and step.block.data():
                evidence.frame(step.after, request, step.block.response,
                               note=f"{step.interruption}; resumed at "
                               f"offset {step.block.offset} (frame {request.number})")
    if evidence.empty:
        raise Inconclusive(f"FRAG-4: the trace shows no interruption of {name}'s download "
                           "(an unanswered request retried, a restart or a rejoin) "
                           "followed by a resumption")
    return evidence


def check_unfinished_download(trace: Trace, name: str) -> Evidence:
    """FRAG-4: a download the device cannot finish (the CHF stops answering) ends with
    ABORT or a time-out, never with activation."""
    device(trace, name)
    verifier = Verifier(trace)
    evidence = Evidence("FRAG-4")
    for session in _need_downloads(trace, name):
        blocks = session.blocks
        answered = [b for b in blocks if b.responses]
        if not answered or blocks[-1].responses:
            continue
        silent = next(b for b in blocks if b.request.index > answered[-1].request.index)
        if blind_reason(trace, silent.request.index, blocks[-1].request.index,
                        (chf(trace),)):
            continue  # the answers may be there, unseen: not a download left unfinished
        end = session.end_request
        if end is not None and end.get("status") == ota.SUCCESS:
            raise Violation(f"FRAG-4: {name} claims SUCCESS on a download the CHF stopped "
                            "serving", [silent.request, end])
        if end is not None and end.get("status") == ota.ABORT:
            evidence.frame(silent.request, end, note="download ended with ABORT")
            continue
        last = blocks[-1].request
        window = ANSWER_WINDOW_S * 3
        more = Match(command=("image_block_request", "upgrade_end_request"), src=name)
        if verifier.window_closed(last.time, window) and not blind_reason(
                trace, last.index, verifier.window_end(last, window), (name,)) \
                and verifier.next(more, last, window) is None:
            evidence.frame(silent.request, last,
                           note=f"{name} stopped asking (time-out) without activating")
    if evidence.empty:
        raise Inconclusive(f"the trace holds no download of {name} that the CHF left "
                           "unfinished, seen through to the device giving up")
    return evidence


# ---- FRAG-5 ------------------------------------------------------------------------------


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


def _part_marker(trace: Trace, image: Image, session: Session) -> tuple[int, int] | None:
    """(index, count) of the part ``session`` transferred: as its OTA file says (the
    manufacturer-specific part element of this suite's interpretation) when the whole
    file was received, else by which of the delivered image's parts the bytes received
    agree with (the sniffer may have missed blocks; the bytes heard still tell)."""
    data = session.assembled()
    if data is not None and session.image_size is not None:
        try:
            return part_of(parse_ota_file(data[:session.image_size]))
        except (DecodeError, ValueError):
            return None
    parts = reference_files(trace, [image])
    received = session.received()
    matching = [index for index, part in enumerate(parts)
                if received and all(part[offset:offset + len(block)] == block
                                    for offset, block in received.items())]
    return (matching[0], len(parts)) if len(matching) == 1 and len(parts) > 1 else None


def check_large_image_device(trace: Trace, name: str) -> Evidence:
    """FRAG-5 (device side, interpretation): REQUIRE_MORE_IMAGE for every part but the
    last, SUCCESS for the last. A SUCCESS followed by another part is premature; a
    SUCCESS after parts that add up to less than the image is premature only where the
    sniffer saw the whole download (a part it missed would make up the rest).

    A SUCCESS once the parts add up to the image ends that delivery: a capture may hold
    the same image delivered again (a soak, a repeated test), whose parts start over."""
    require_pics(trace, "large_image_process", "FRAG-5")
    device(trace, name)
    image, parts = _parts(trace, name)
    evidence = Evidence("FRAG-5")
    total = image_size(image) or 0
    served = in_delivery = delivered = 0
    for position, part in enumerate(parts):
        end = part.end_request
        assert end is not None
        served += part.image_size or 0
        in_delivery += 1
        later = position + 1 < len(parts)
        status = end.get("status")
        if status == ota.SUCCESS and served >= total:
            evidence.frame(end, note=f"part {in_delivery}: SUCCESS, the image complete")
            delivered += in_delivery > 1
            served = in_delivery = 0
            continue
        if status == ota.SUCCESS and later:
            following = parts[position + 1].blocks[0].request
            raise Violation(f"FRAG-5: {name} answers SUCCESS on part {in_delivery}, "
                            "and another part follows", [end, following])
        if later and status != ota.REQUIRE_MORE_IMAGE:
            raise Violation(f"FRAG-5: part {in_delivery} must end REQUIRE_MORE_IMAGE", [end])
        if status == ota.SUCCESS:
            marked = _part_marker(trace, image, part)
            if marked is not None and marked[0] + 1 < marked[1]:
                raise Violation(f"FRAG-5: {name} answers SUCCESS on the file it received "
                                f"as part {marked[0] + 1} of {marked[1]}", [end])
            raise Inconclusive(f"FRAG-5: {name} ends with SUCCESS after parts adding up to "
                               f"{served} of {total} bytes: a part before the capture or "
                               "one the sniffer missed would make up the rest, and which "
                               "part this was is not in the file received")
        evidence.frame(end, note=f"part {in_delivery}: {ota.STATUS.get(status, status)}")
    if not delivered:
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


# ---- FRAG-6 ------------------------------------------------------------------------------


def check_han_served(trace: Trace, name: str,
                     within: float = METER_READ_WINDOW_S) -> Evidence:
    """FRAG-6: during a download the CHF still answers the device's meter reads in
    normal time. Only reads from the device to the CHF's metering server count (the
    CHF reading the device is not the CHF serving)."""
    device(trace, name)
    verifier = Verifier(trace)
    server = chf(trace)
    evidence = Evidence("FRAG-6")
    for session in _need_downloads(trace, name):
        first = session.blocks[0].request
        last = session.end_request or session.blocks[-1].request
        reads = verifier.all(Match(command="read_attributes", cluster=METERING_CLUSTER,
                                   src=name, dst=server, direction=ota.CLIENT_TO_SERVER),
                             after=first, before=last)
        for read in reads:
            answer = verifier.must_next(
                Match(command="read_attributes_response", cluster=METERING_CLUSTER,
                      src=server, dst=name, direction=ota.SERVER_TO_CLIENT),
                read, within,
                rule="FRAG-6: a meter read during the download is answered in normal time")
            evidence.frame(read, answer, note=f"meter read answered in "
                           f"{answer.time - read.time:.2f} s during the download")
    if evidence.empty:
        raise Inconclusive(f"the trace holds no meter read from {name} to the CHF during a "
                           "download")
    return evidence
