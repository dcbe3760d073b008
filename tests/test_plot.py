"""Download plot: the points it is drawn from, and the PNG itself.

The small download is built from real frames (build_frame -> parse_frame with the test
network key) so the extractor sees exactly what the capture decoder hands it. It holds
one WAIT_FOR_DATA (and the asked-for re-request after it), one genuine retry, the
Upgrade End Request/Response and the CHF's read-back of CurrentFileVersion.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from hanota.layers import ota
from hanota.layers.codec import build_frame, mac_ack, parse_frame
from hanota.layers.model import FrameRecord, HanFrame, Mac, Nwk
from hanota.layers.security import KeyRing
from hanota.verify.plot import download_plot, download_points
from ota_frames import (
    CHF_SHORT,
    DEVICE_SHORT,
    IMAGE_TYPE,
    MANUFACTURER,
    NETWORK_KEY_HEX,
    VERSION,
    sample_frame,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NEW_VERSION = VERSION + 1
IMAGE_SIZE = 200
BLOCK = 64
KEYS = KeyRing((bytes.fromhex(NETWORK_KEY_HEX),))
T0 = 1_700_000_000.0
_NEW = {"manufacturer_code": MANUFACTURER, "image_type": IMAGE_TYPE,
        "file_version": NEW_VERSION}


def _request(offset: int) -> tuple[str, dict]:
    return "image_block_request", {**_NEW, "file_offset": offset, "maximum_data_size": BLOCK}


def _response(offset: int) -> tuple[str, dict]:
    size = min(BLOCK, IMAGE_SIZE - offset)
    return "image_block_response", {"status": 0, **_NEW, "file_offset": offset,
                                    "data": bytes(size)}


# (seconds after T0, command, fields); None marks a MAC ACK.
SMALL_DOWNLOAD: list[tuple[float, str | None, dict]] = [
    (0.0, "image_notify", {"query_jitter": 100, **_NEW}),
    (1.0, "query_next_image_request", {"field_control": 0, "manufacturer_code": MANUFACTURER,
                                       "image_type": IMAGE_TYPE, "file_version": VERSION}),
    (1.1, "query_next_image_response", {"status": 0, **_NEW, "image_size": IMAGE_SIZE}),
    (2.0, *_request(0)),
    (2.01, None, {}),
    (2.1, *_response(0)),
    (3.0, *_request(64)),
    (3.1, "image_block_response", {"status": ota.WAIT_FOR_DATA, "current_time": 800_000_000,
                                   "request_time": 800_000_030,
                                   "minimum_block_period": 250}),
    (33.0, *_request(64)),  # resumption asked for by the WAIT_FOR_DATA: not a retry
    (33.1, *_response(64)),
    (34.0, *_request(128)),  # unanswered
    (40.0, *_request(128)),  # the retry
    (40.1, *_response(128)),
    (41.0, *_request(192)),
    (41.1, *_response(192)),
    (42.0, "upgrade_end_request", {"status": 0, **_NEW}),
    (42.1, "upgrade_end_response", {**_NEW, "current_time": 800_000_100,
                                    "upgrade_time": 800_000_160}),
    (110.0, "read_attributes", {"attributes": [ota.CURRENT_FILE_VERSION]}),
    (110.1, "read_attributes_response", {"records": [
        {"attribute": ota.CURRENT_FILE_VERSION, "status": 0, "data_type": 0x23,
         "value": NEW_VERSION}]}),
]
# Frame numbers (1-based, in list order) the extractor must point at.
WAIT_FRAME, RETRY_FRAME, END_REQUEST_FRAME, END_RESPONSE_FRAME, READ_FRAME = 8, 12, 16, 17, 18


def download_records() -> list[FrameRecord]:
    """The small download as a capture decoder would deliver it, plus one frame that did
    not decode (it must be skipped, not fatal)."""
    records = []
    for number, (offset, command, fields) in enumerate(SMALL_DOWNLOAD, start=1):
        raw = mac_ack(number) if command is None else build_frame(
            sample_frame(command, fields, number), KEYS)
        records.append(FrameRecord(number, T0 + offset, raw, parse_frame(raw, KEYS)))
    records.append(FrameRecord(len(records) + 1, T0 + 120.0, b"\x01\x02", None, "truncated"))
    return records


def frame_between(command: str, fields: dict, seq: int, src16: int, dst16: int) -> HanFrame:
    """sample_frame's frame re-addressed between two other nodes (no re-encoding)."""
    frame = sample_frame(command, fields, seq, nwk_secured=False)
    assert frame.nwk is not None
    return replace(frame, mac=Mac(1, seq & 0xFF, frame.mac.pan_id, dst16, src16, True),
                   nwk=Nwk(dst16, src16, seq & 0xFF))


def big_transfer(size: int, device: int = DEVICE_SHORT, start: float = T0) -> list[FrameRecord]:
    """``size`` bytes moved in 64-byte blocks: two frames per block, 50 ms apart."""
    records = []
    for index, offset in enumerate(range(0, size, BLOCK)):
        for half, (command, fields) in enumerate((_request(offset), _big_response(offset))):
            number = 2 * index + half + 1
            frame = frame_between(command, fields, number, *(
                (device, CHF_SHORT) if half == 0 else (CHF_SHORT, device)))
            records.append(FrameRecord(number, start + number * 0.05, b"", frame))
    return records


def _big_response(offset: int) -> tuple[str, dict]:
    return "image_block_response", {"status": 0, **_NEW, "file_offset": offset,
                                    "data_size": BLOCK, "data": bytes(BLOCK)}


def test_small_download_points_are_exactly_the_traffic() -> None:
    summary = download_points(download_records())
    assert summary.t0 == T0  # the Image Notify, first OTA frame
    assert len(summary.downloads) == 1
    download = summary.downloads[0]
    assert (download.device, download.file_version) == (DEVICE_SHORT, NEW_VERSION)
    expected = [
        (2.0, 0), (2.1, 64),
        (3.0, 64), (33.0, 64), (33.1, 128),
        (34.0, 128), (40.0, 128), (40.1, 192),
        (41.0, 192), (41.1, 200),
    ]
    assert [offset for _, offset in download.points] == [offset for _, offset in expected]
    assert [t for t, _ in download.points] == pytest.approx([t for t, _ in expected])


def test_the_wait_for_data_is_found_with_its_pause() -> None:
    (wait,) = download_points(download_records()).downloads[0].waits
    assert wait.number == WAIT_FRAME
    assert wait.t == pytest.approx(3.1)
    assert wait.offset == 64
    assert wait.pause == 30.0
    assert wait.minimum_block_period == 250


def test_only_the_genuine_retry_is_a_retry() -> None:
    (retry,) = download_points(download_records()).downloads[0].retries
    assert (retry.number, retry.t, retry.offset) == (RETRY_FRAME, 40.0, 128)


def test_end_events_and_read_back() -> None:
    ends = download_points(download_records()).downloads[0].ends
    assert [(end.kind, end.number) for end in ends] == [
        ("end_request", END_REQUEST_FRAME),
        ("end_response", END_RESPONSE_FRAME),
        ("read_back", READ_FRAME),
    ]
    assert ends[0].detail == "SUCCESS"
    assert ends[1].detail == "activation: upgrade in 60 s"
    assert ends[2].detail == f"read-back CurrentFileVersion=0x{NEW_VERSION:08X}"


def test_downloads_are_kept_apart_per_device() -> None:
    other = 0x7A10
    records = big_transfer(256) + big_transfer(128, device=other, start=T0 + 0.01)
    records.sort(key=lambda record: record.time)
    summary = download_points(records)
    assert {(d.device, d.file_version) for d in summary.downloads} == {
        (DEVICE_SHORT, NEW_VERSION), (other, NEW_VERSION)}
    first = summary.find(DEVICE_SHORT, NEW_VERSION)
    second = summary.find(other, NEW_VERSION)
    assert first is not None and second is not None
    assert [offset for _, offset in first.points][-1] == 256
    assert [offset for _, offset in second.points][-1] == 128
    assert not first.retries and not second.retries


def test_plot_is_a_real_png() -> None:
    png = download_plot(download_records(), title="small download <test>",
                        names={CHF_SHORT: "CHF", DEVICE_SHORT: "ESME"})
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 10_000  # axes, a line, marks and labels; an empty canvas is far smaller


def test_block_abort_is_an_end_event() -> None:
    records = big_transfer(4 * BLOCK)
    abort = frame_between("image_block_response", {"status": ota.ABORT}, 9, CHF_SHORT,
                          DEVICE_SHORT)
    records.append(FrameRecord(9, records[-1].time + 1.0, b"", abort))
    (end,) = download_points(records).downloads[0].ends
    assert (end.kind, end.number, end.detail) == ("abort", 9, "block response ABORT")
    assert download_plot(records, title="abort").startswith(PNG_SIGNATURE)


def test_dollar_signs_in_title_and_names_are_not_tex() -> None:
    png = download_plot(download_records(), title="meter $x^$ v2",  # invalid TeX if parsed
                        names={DEVICE_SHORT: "ESME $\\frac$"})
    assert png.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("records", [
    [],
    [FrameRecord(1, T0, b"", None, "bad FCS")],
    [FrameRecord(1, T0, b"", HanFrame(Mac(2, 1)))],
    [FrameRecord(1, T0, b"", sample_frame("query_next_image_request", SMALL_DOWNLOAD[1][2]))],
], ids=["empty", "undecoded", "mac_ack", "query_only"])
def test_no_block_transfer_raises(records: list[FrameRecord]) -> None:
    with pytest.raises(ValueError, match="no block transfer in these frames"):
        download_plot(records, title="nothing")


def test_sixty_five_thousand_frames_plot_quickly() -> None:
    records = big_transfer(32_500 * BLOCK)  # 65,000 frames
    assert len(records) == 65_000
    started = time.perf_counter()
    png = download_plot(records, title="65,000 frames")
    elapsed = time.perf_counter() - started
    assert png.startswith(PNG_SIGNATURE)
    assert elapsed < 5.0, f"{elapsed:.2f} s to plot 65,000 frames"
