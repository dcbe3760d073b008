"""Per-scenario evidence of hanota.verify.report: the capture slice, the decoded frames, and the
per-(trace, device) view that draws the sequence chart and the download plot once.

Frames are real (build_frame -> parse_frame with the test network key, the small
download of test_plot), so the slice is checked by reading it back through the suite's
own capture reader and decoder.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import allure
import pytest
from hanota.dut.description import load_dut
from hanota.layers.capture import LINKTYPE_IEEE802_15_4_WITHFCS, CaptureParser
from hanota.layers.codec import crc16_kermit
from hanota.layers.model import FrameRecord
from hanota.steps.context import ScenarioContext
from hanota.targets.pcap import decode_records
from hanota.verify import report
from hanota.verify.report import (
    capture_slice,
    decoded_frames,
    evidence_frames,
    exchange_view,
    slice_caption,
)
from hanota.verify.trace import Trace
from hanota.verify.verdicts import Evidence
from ota_frames import DEVICE_SHORT
from test_plot import KEYS, download_records

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _trace() -> Trace:
    return Trace(load_dut(), download_records(), source="test: small-download.pcapng")


def _read_back(data: bytes) -> list[FrameRecord]:
    parser = CaptureParser()
    records = parser.feed(data)
    parser.close()
    assert {record.linktype for record in records} == {LINKTYPE_IEEE802_15_4_WITHFCS}
    return list(decode_records(records, KEYS))


def test_capture_slice_reads_back_as_the_evidence_frames() -> None:
    trace = _trace()
    chosen = evidence_frames(trace, [12, 4, 8, 999])  # 999 is not in the trace
    assert [frame.number for frame in chosen] == [4, 8, 12]
    back = _read_back(capture_slice(chosen))
    assert [record.number for record in back] == [1, 2, 3]  # Wireshark numbers anew
    for frame, record in zip(chosen, back, strict=True):
        assert frame.record is not None
        assert record.raw == frame.record.raw
        assert record.time == pytest.approx(frame.time, abs=1e-6)
        assert record.error is None and record.han is not None and record.han.zcl is not None
        assert record.han.zcl.command == frame.command
        assert record.han.zcl.fields == frame.fields


def test_a_fail_slice_holds_the_neighbours_in_capture_order() -> None:
    trace = _trace()
    chosen = evidence_frames(trace, [8, 1], neighbours=2)
    assert [frame.number for frame in chosen] == [1, 2, 3, 6, 7, 8, 9, 10]
    back = _read_back(capture_slice(chosen))
    assert len(back) == len(chosen)
    assert back[4].han is not None and back[4].han.mac.src16 is not None  # a MAC ACK is frame 5
    assert slice_caption(chosen).startswith("8 frames of the capture, in order: 1, 2, 3, 6,")


def test_a_frame_without_fcs_gets_one() -> None:
    trace = _trace()
    frame = trace.frames[3]
    assert frame.record is not None
    psdu = frame.record.raw[:-2]
    frame.record = FrameRecord(frame.number, frame.time, psdu, frame.record.han, fcs=False)
    (record,) = _read_back(capture_slice([frame]))
    assert record.raw == psdu + crc16_kermit(psdu).to_bytes(2, "little")
    assert record.error is None
    frame.record.fcs_ok = False  # the sniffer said bad (CC24xx CRC-OK bit clear)
    (record,) = _read_back(capture_slice([frame]))
    assert record.fcs_ok is False and record.han is not None  # still flagged, still decoded


def test_decoded_frames_are_in_capture_order_and_limited() -> None:
    trace = _trace()
    lines = decoded_frames(trace, [9, 3, 7], limit=2).splitlines()
    assert lines[0].startswith("frame 3: ") and "query_next_image_response" in lines[0]
    assert lines[1].startswith("frame 7: ") and "image_block_request" in lines[1]
    assert lines[2] == "... 1 more frames"
    assert decoded_frames(trace, []) == "(no frames)"


def test_the_view_is_drawn_once_per_trace_and_device(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[int] = []
    real = report.download_plot

    def counting(records: list[FrameRecord], **kwargs: Any) -> bytes:
        drawn.append(len(records))
        return real(records, **kwargs)

    monkeypatch.setattr(report, "download_plot", counting)
    trace = _trace()
    first = exchange_view(trace, None)
    assert first.plot is not None and first.plot.startswith(PNG_SIGNATURE)
    assert exchange_view(trace, None) is first
    assert exchange_view(trace, None).plot is first.plot
    assert len(drawn) == 1
    trace.extend([FrameRecord(99, trace.frames[-1].time + 1, b"\x02\x00\x63")])  # live growth
    assert exchange_view(trace, None) is not first


def test_no_plot_without_block_traffic_for_the_device() -> None:
    trace = _trace()
    assert trace.dut.nodes["ihd"].short != DEVICE_SHORT  # the download is another device's
    assert exchange_view(trace, None).has_blocks
    ihd = exchange_view(trace, "ihd")
    assert not ihd.has_blocks and ihd.plot is None


def test_the_chart_has_the_frames_and_the_wan_messages() -> None:
    trace = _trace()
    trace.add_wan(b"\xdf\x00", trace.frames[15].time + 0.05)  # does not decode: kept as error
    text = exchange_view(trace, None).chart_text
    lines = text.splitlines()
    wan = [index for index, line in enumerate(lines) if "  WAN  " in line]
    assert len(wan) == 1 and "does not decode" in lines[wan[0]]
    assert "#16 upgrade_end_request" in lines[wan[0] - 1]
    assert "#17 upgrade_end_response" in lines[wan[0] + 1]
    assert exchange_view(trace, None).chart_svg.count('class="wan"') == 1


def _definitions(name: str) -> list[str]:
    found = []
    for folder in ("verify", "steps", "hanota", "targets"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text())
            found += [f"{path.relative_to(ROOT)}" for node in ast.walk(tree)
                      if isinstance(node, ast.FunctionDef) and node.name == name]
    return found


def test_there_is_one_sequence_chart_implementation() -> None:
    assert _definitions("sequence_chart") == ["verify/msc.py"]
    assert _definitions("sequence_text") == ["verify/msc.py"]
    assert _definitions("sequence_rows") == ["verify/msc.py"]
    assert not hasattr(report, "MSC_COMMANDS")


def _context(attachments: bool) -> ScenarioContext:
    dut = load_dut()
    context = ScenarioContext(target=None, dut=dut, role="device",  # type: ignore[arg-type]
                              requirements=("FRAG-1",), attachments=attachments)
    context.trace = _trace()
    return context


def _check(trace: Trace) -> Evidence:
    evidence = Evidence("FRAG-1")
    evidence.frame(trace.frames[6], trace.frames[8], note="two block requests")
    return evidence


def _attached(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    attached: list[tuple[str, object]] = []
    monkeypatch.setattr(allure, "attach", lambda body, name, **_: attached.append((name, body)))
    return attached


def test_a_verdict_attaches_its_slice_and_the_exchange_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    attached = _attached(monkeypatch)
    context = _context(attachments=True)
    context.judge(_check)
    context.judge(_check)  # a second Then step: its own verdict, the exchange not again
    names = [name for name, _ in attached]
    assert names.count("verdict evidence") == 2
    assert names.count("capture slice (2 frames)") == 2
    assert names.count("download plot (all nodes)") == 1
    assert names.count("message sequence chart (all nodes)") == 1
    assert names.count("GBCS messages") == 1
    body = next(body for name, body in attached if name == "capture slice (2 frames)")
    assert isinstance(body, bytes)
    assert [record.raw for record in _read_back(body)] == [
        frame.record.raw for frame in context.need_trace().frames if frame.number in (7, 9)
        if frame.record is not None]


def test_nothing_is_drawn_when_allure_does_not_record(monkeypatch: pytest.MonkeyPatch) -> None:
    attached = _attached(monkeypatch)
    monkeypatch.setattr(report, "download_plot", lambda *a, **k: pytest.fail("drawn"))
    _context(attachments=False).judge(_check)
    assert attached == []
