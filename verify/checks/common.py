"""Helpers shared by the area checks: node lookup, PICS gates, windows, GBCS look-ups.

Windows are our reading where the documents give no figure; they are named here so a
test house can see (and argue with) each one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from construct import ConstructError
from hanota.dut.description import DEVICE_KINDS, Image, Node
from hanota.dut.images import ota_file_size
from hanota.layers import ota
from hanota.layers.gbcs import MESSAGE_CODE_CCS08, MESSAGE_CODE_CS08
from hanota.layers.gbcs_payloads import ALERT_READ_FIRMWARE_VERSION
from hanota.layers.otafile import OTA_HEADER, header_length_for
from hanota.verify.api import Match, Verifier
from hanota.verify.coverage import describe
from hanota.verify.trace import Frame, Trace, WanRecord
from hanota.verify.verdicts import Inconclusive, NotApplicable, Violation

ANSWER_WINDOW_S = 10.0
"""A HAN command is answered within this (APS retries included). Our reading."""

METER_READ_WINDOW_S = 5.0
"""FRAG-6: "its normal time" for a meter read answered by the CHF. Our reading."""

TIME_TOLERANCE_S = 0.05
"""Slack on time comparisons (sniffer time stamps, rounding of UTC seconds)."""

ZIGBEE_EPOCH = 946684800
"""UNIX time of 2000-01-01T00:00:00Z, the origin of ZigBee UTCTime."""

UPGRADE_NOW_WILDCARD = 0xFFFFFFFF


def node(trace: Trace, name: str) -> Node:
    """The DUT description's node ``name`` (a scenario naming an unknown node is N/A)."""
    found = trace.dut.nodes.get(name)
    if found is None:
        raise NotApplicable(f"the DUT description has no node {name!r}")
    return found


def device(trace: Trace, name: str) -> Node:
    """An OTA client node (PPMID or HCALCS) of the DUT description."""
    found = node(trace, name)
    if found.kind not in DEVICE_KINDS:
        raise NotApplicable(f"node {name!r} is a {found.kind}, not a PPMID or HCALCS")
    return found


def chf(trace: Trace) -> str:
    return trace.dut.chf.name


def require_pics(trace: Trace, option: str, requirement: str) -> None:
    """NOT APPLICABLE unless the DUT's PICS claims ``option``."""
    if not getattr(trace.dut.pics, option):
        raise NotApplicable(f"{requirement}: the PICS does not claim {option}")


def held_images(trace: Trace, name: str) -> list[Image]:
    return [image for image in trace.held_images if image.target == name]


def need_image(trace: Trace, name: str) -> Image:
    images = held_images(trace, name)
    if not images:
        raise Inconclusive(f"the CHF holds no image for {name} in this trace")
    return images[0]


def image_size(image: Image) -> int | None:
    """Bytes of the OTA file the supplier delivered: the synthetic size, or the standard
    OTA file inside the given file (a vendor's container is not what crosses the air);
    None when the file is not there to read."""
    if image.file is not None and not image.file.exists():
        return None
    return ota_file_size(image)


def version_read(frame: Frame) -> int | None:
    """CurrentFileVersion from a Read Attributes Response, None when absent or failed."""
    for record in frame.fields.get("records", []):
        if record.get("attribute") == ota.CURRENT_FILE_VERSION and record.get("status") == 0:
            return record.get("value")
    return None


def attribute_values(frame: Frame, command: str) -> dict[int, object]:
    """Attribute id -> value of a ZCL Write Attributes or Report Attributes frame
    (``command``); empty for any other frame."""
    if frame.command != command:
        return {}
    return {r.get("attribute"): r.get("value") for r in frame.fields.get("records", [])}


def reads_version(frame: Frame) -> bool:
    return ota.CURRENT_FILE_VERSION in frame.fields.get("attributes", [])


def version_reads(chf_name: str, target: str) -> Match:
    """The CHF's ZCL Read Attributes of CurrentFileVersion to ``target``: the OTA
    attributes live on the client, so the read goes server to client (direction bit set);
    a read with the wrong direction reads the device's server side, which has none."""
    return Match(command="read_attributes", src=chf_name, dst=target, cluster=ota.CLUSTER_ID,
                 direction=ota.SERVER_TO_CLIENT, where=reads_version,
                 label=f"Read Attributes CurrentFileVersion to {target}")


def version_answers(target: str, chf_name: str) -> Match:
    return Match(command="read_attributes_response", src=target, dst=chf_name,
                 cluster=ota.CLUSTER_ID, direction=ota.CLIENT_TO_SERVER,
                 where=lambda f: version_read(f) is not None,
                 label=f"Read Attributes Response with CurrentFileVersion from {target}")


def upgrade_now(frame: Frame) -> bool:
    """Upgrade End Response telling the device to upgrade now (ACT-1)."""
    upgrade_time = frame.fields.get("upgrade_time")
    return upgrade_time == 0 or upgrade_time == frame.fields.get("current_time")


def header_of(data: bytes) -> dict | None:
    """The OTA header fields of a file's first bytes, None when too short or not OTA."""
    if len(data) < 10:
        return None
    control = int.from_bytes(data[8:10], "little")
    if len(data) < header_length_for(control & 7):
        return None
    try:
        return dict(OTA_HEADER.parse(data))
    except ConstructError:
        return None


def is_ccs08(message: WanRecord) -> bool:
    return message.message_code == MESSAGE_CODE_CCS08 and message.kind == "alert"


def is_cs08_alert(message: WanRecord) -> bool:
    return (message.message_code == MESSAGE_CODE_CS08 and message.kind == "alert"
            and message.alert_code == ALERT_READ_FIRMWARE_VERSION)


def ccs08_about(eui64: str) -> Callable[[WanRecord], bool]:
    """The CCS08 alerts whose entity is the device ``eui64``."""
    return lambda message: is_ccs08(message) and message.get("entity_id") == eui64


def ccs08_for(verifier: Verifier, eui64: str, after_time: float | None = None) -> list[WanRecord]:
    return verifier.wan(ccs08_about(eui64), after_time=after_time)


def timed_wan(verifier: Verifier, where: Callable[[WanRecord], bool], *, what: str,
              after_time: float | None = None, before_time: float | None = None,
              ) -> list[WanRecord]:
    """GBCS messages in a time range; INCONCLUSIVE when none is timed but some that could
    be the one carry no time (README rule 5: timeless messages take part in no
    time-bounded rule)."""
    found = verifier.wan(where, after_time=after_time, before_time=before_time)
    if not found:
        timeless = verifier.timeless(where)
        if timeless:
            raise Inconclusive(
                f"{what}: {len(timeless)} GBCS message(s) that could be it carry no time "
                f"(WAN {', '.join(str(m.index) for m in timeless[:3])}), so they cannot be "
                "placed against the HAN frames")
    return found


def _gbcs(message: WanRecord) -> bool:
    """A GBCS message (a DCC alert without GBCS shows the WAN channel, not the CHF)."""
    return message.kind in ("alert", "response", "command")


def missing_wan(verifier: Verifier, what: str, after_time: float | None, rule: str,
                frames: list[Frame] | None = None) -> Exception:
    """The verdict for a GBCS message that is not there: INCONCLUSIVE when the trace has
    no timed WAN side after ``after_time`` (no --alerts given, capture cut, timeless
    messages), else FAIL naming the HAN frames of the event and the later messages."""
    later = verifier.wan(_gbcs, after_time=after_time)
    if not later:
        timeless = verifier.timeless(_gbcs)
        why = (f"its {len(timeless)} GBCS message(s) carry no time" if timeless
               else "the trace holds no GBCS messages after the event")
        return Inconclusive(f"{why}; {what} cannot be judged")
    return Violation(f"{rule}: no {what}", frames or [], wan=later[:3])


def held_from(trace: Trace, name: str) -> Frame | None:
    """The first frame showing the CHF holds an image for ``name``: its Image Notify to
    the device, a SUCCESS Query Next Image Response or a block served. Before it, a
    device's routine query is not one the CHF must serve (README rule 3)."""
    spans = holding_spans(trace, name)
    return trace.frames[spans[0].start] if spans else None


class HoldingSpan(NamedTuple):
    """Trace positions: the first sign the CHF holds an image for a device, its read-back
    that ends the upgrade (None: not seen), the device's first Upgrade End Request in
    between (None: none)."""

    start: int
    end: int | None
    ended_at: int | None


def holding_spans(trace: Trace, name: str) -> list[HoldingSpan]:
    """From each first sign that the CHF holds an image for ``name`` (its Image Notify to
    the device, a SUCCESS Query Next Image Response or a block served) to its read of the
    device's version after an Upgrade End Request, or the device's answer to that read.
    After that read-back the upgrade is over, and a CHF may drop the image: a later
    routine query is not one it must serve (README rule 3)."""
    server = trace.dut.chf.name
    spans: list[HoldingSpan] = []
    start: int | None = None
    ended: int | None = None
    for frame in trace.ota_frames(name):
        if frame.duplicate_of is not None:
            continue
        if frame.src == name and frame.command == "upgrade_end_request":
            if start is not None and ended is None:
                ended = frame.index
        elif ended is not None and frame.src == name and version_read(frame) is not None:
            spans.append(HoldingSpan(start, frame.index, ended))  # the answer shows the read
            start = ended = None
        elif frame.src != server or frame.dst != name:
            continue
        elif start is None and (frame.command == "image_notify" or (
                frame.command in ("query_next_image_response", "image_block_response")
                and frame.get("status") == ota.SUCCESS)):
            start = frame.index
        elif ended is not None and frame.command == "read_attributes" and reads_version(frame):
            spans.append(HoldingSpan(start, frame.index, ended))
            start = ended = None
    if start is not None:
        spans.append(HoldingSpan(start, None, ended))
    return spans


def held_at(trace: Trace, spans: list[HoldingSpan], position: int) -> bool:
    """Whether the CHF shows it holds the image at trace ``position``: inside one of
    ``holding_spans``, and not after the device's Upgrade End Request across a stretch
    where the sniffer may have missed the read-back that ends the span."""
    server = trace.dut.chf.name
    return any(span.start < position and (span.end is None or position < span.end)
               and (span.ended_at is None or position < span.ended_at or span.end is not None
                    or blind_reason(trace, span.ended_at, position, (server,)) is None)
               for span in spans)


def newer_than_query(query: Frame, images: list[Image]) -> list[Image]:
    """The held images a query is asking for: a version above the one it runs."""
    running = query.get("file_version")
    return [image for image in images if running is None or image.file_version > running]


def blind_reason(trace: Trace, first: int, last: int, nodes: tuple[str | None, ...],
                 ) -> str | None:
    """Why positions ``first``..``last`` are blind for ``nodes``, or None when seen."""
    blind = trace.coverage.blind(first, last, nodes)
    return describe(blind) if blind else None
