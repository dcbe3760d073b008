"""Message sequence chart: SVG structure, folding of block runs, text lines, the limit.

Uses the small download of test_plot (real frames through build_frame/parse_frame: one
WAIT_FOR_DATA, one retry, activation and read-back) and synthetic long transfers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from hanota.layers.model import FrameRecord
from hanota.layers.zcl import make_zcl
from hanota.verify.msc import Arrow, Band, sequence_chart, sequence_rows, sequence_text
from ota_frames import CHF_SHORT, DEVICE_SHORT
from test_plot import BLOCK, T0, big_transfer, download_records, frame_between

SVG = "{http://www.w3.org/2000/svg}"
NAMES = {CHF_SHORT: "CHF", DEVICE_SHORT: "ESME"}
OTHER_DEVICE = 0x7A10


def _groups(svg: str, kind: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == kind]


def _captions(svg: str) -> list[str]:
    return ["".join(g.find(f"{SVG}text").itertext()) for g in _groups(svg, "lifeline")]


def test_one_lifeline_per_node_named_from_the_mapping() -> None:
    records = download_records() + big_transfer(6 * BLOCK, device=OTHER_DEVICE,
                                                start=T0 + 200)
    svg = sequence_chart(records, NAMES)
    assert _captions(svg) == ["CHF (0x0000)", "ESME (0x4C21)", "0x7A10"]


def test_every_zcl_frame_is_one_arrow_and_mac_acks_are_not() -> None:
    svg = sequence_chart(download_records(), NAMES)
    frames = [int(g.get("data-frame")) for g in _groups(svg, "arrow")]
    # 1..19 less frame 5 (MAC ACK); the undecodable frame 20 is skipped too.
    assert frames == [n for n in range(1, 20) if n != 5]
    assert not _groups(svg, "band")  # nothing here is long enough to fold


def test_other_clusters_are_labelled_with_their_cluster() -> None:
    frame = frame_between("read_attributes", {"attributes": [0x0000]}, 7, CHF_SHORT,
                          DEVICE_SHORT)
    assert frame.aps is not None
    metering = replace(frame, aps=replace(frame.aps, cluster=0x0702),
                       zcl=make_zcl("read_attributes", {"attributes": [0x0000]}, 7,
                                    cluster=0x0702))
    text = sequence_text([FrameRecord(7, T0, b"", metering)], NAMES)
    assert text == "    0.000s  CHF → ESME  #7 [cluster 0x0702] read_attributes 0x0000\n"


def test_names_are_escaped() -> None:
    svg = sequence_chart(download_records(), {CHF_SHORT: "CHF <&> \"x\"", DEVICE_SHORT: "a\x01b"})
    assert _captions(svg) == ['CHF <&> "x" (0x0000)', "a?b (0x4C21)"]


def test_long_block_run_folds_into_one_band() -> None:
    records = big_transfer(100 * BLOCK)  # 200 frames
    svg = sequence_chart(records, NAMES)
    (band,) = _groups(svg, "band")
    text = "".join(band.itertext())
    assert text == "… 98 block pairs, offsets 64–6272 (#3–#198) …"
    assert [int(g.get("data-frame")) for g in _groups(svg, "arrow")] == [1, 2, 199, 200]
    assert len(_groups(svg, "lifeline")) == 2


def test_responses_to_a_page_request_fold_too() -> None:
    page = frame_between("image_page_request", {
        "manufacturer_code": 0x1234, "image_type": 0x0101, "file_version": 0x01020305,
        "file_offset": 0, "maximum_data_size": BLOCK, "page_size": 20 * BLOCK,
        "response_spacing": 20}, 1, DEVICE_SHORT, CHF_SHORT)
    records = [FrameRecord(1, T0, b"", page)] + [
        record for record in big_transfer(20 * BLOCK) if record.number % 2 == 0]
    rows = sequence_rows(records).rows
    (band,) = [row for row in rows if isinstance(row, Band)]
    assert (band.pairs, band.first_offset, band.last_offset) == (16, 2 * BLOCK, 17 * BLOCK)
    assert [row.number for row in rows if isinstance(row, Arrow)] == [1, 2, 4, 38, 40]


def test_a_retry_inside_a_long_run_stays_visible() -> None:
    records = big_transfer(40 * BLOCK)
    retry = records[40]  # request for block 20, asked again right after its response
    records.insert(42, FrameRecord(999, retry.time + 0.01, b"", retry.han))
    rows = sequence_rows(records).rows
    bands = [row for row in rows if isinstance(row, Band)]
    arrows = {row.number: row.label for row in rows if isinstance(row, Arrow)}
    assert [(band.first_number, band.last_number) for band in bands] == [(3, 40), (45, 78)]
    assert sorted(arrows) == [1, 2, 41, 42, 43, 44, 79, 80, 999]
    assert arrows[999] == f"#999 image_block_request file_offset={20 * BLOCK} (retry)"


def test_text_lines_name_frames_and_key_fields() -> None:
    lines = sequence_text(download_records(), NAMES).splitlines()
    assert len(lines) == 18
    assert lines[0].split() == ["0.000s", "CHF", "→", "ESME", "#1", "image_notify",
                                "file_version=0x01020305"]
    expected = [
        "#8 image_block_response WAIT_FOR_DATA pause 30 s",
        "#9 image_block_request file_offset=64 (after WAIT_FOR_DATA)",
        "#12 image_block_request file_offset=128 (retry)",
        "#16 upgrade_end_request SUCCESS file_version=0x01020305",
        "#17 upgrade_end_response file_version=0x01020305 upgrade in 60 s",
        "#18 read_attributes CurrentFileVersion",
        "#19 read_attributes_response CurrentFileVersion=0x01020305",
    ]
    for label in expected:
        assert sum(line.endswith(label) for line in lines) == 1, label
    assert not any("#5 " in line for line in lines)


def test_text_band_line() -> None:
    lines = sequence_text(big_transfer(100 * BLOCK), NAMES).splitlines()
    assert len(lines) == 5
    assert lines[2].strip() == "… 98 block pairs, offsets 64–6272 (#3–#198) …"


def test_limit_caps_arrows_and_says_how_many_are_left_out() -> None:
    svg = sequence_chart(download_records(), NAMES, limit=5)
    assert [int(g.get("data-frame")) for g in _groups(svg, "arrow")] == [1, 2, 3, 4, 6]
    root = ET.fromstring(svg)
    notes = ["".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("class") == "note"]
    assert notes == ["… 13 more frames not shown (limit 5)"]
    text = sequence_text(download_records(), NAMES, limit=5).splitlines()
    assert text[-1] == "… 13 more frames not shown (limit 5)"


def test_a_large_transfer_stays_small() -> None:
    svg = sequence_chart(big_transfer(16_384 * BLOCK), NAMES)  # 1 MiB, 32,768 frames
    assert len(svg) < 5_000
    assert len(_groups(svg, "arrow")) == 4


def test_no_frames_is_an_empty_but_valid_chart() -> None:
    assert sequence_text([], NAMES) == ""
    root = ET.fromstring(sequence_chart([], NAMES))
    assert root.tag == f"{SVG}svg"
    assert not _groups(sequence_chart([], NAMES), "lifeline")
