"""GBCS messages in the sequence chart (hanota.verify.msc): notes placed in time among the HAN
frames, untimed ones last, one strip each in the SVG, counted by the row limit."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hanota.verify.msc import Arrow, Note, sequence_chart, sequence_rows, sequence_text
from ota_frames import CHF_SHORT, DEVICE_SHORT
from test_plot import T0, download_records

SVG = "{http://www.w3.org/2000/svg}"
NAMES = {CHF_SHORT: "CHF", DEVICE_SHORT: "ESME"}
ALERT = (T0 + 42.05, "alert 0x0128 CHF→supplier alert_code=0x8F8A")  # between #16 and #17
UNTIMED = (None, "response 0x0001 CHF→supplier")


def test_notes_go_in_time_order_and_untimed_last() -> None:
    rows = sequence_rows(download_records(), wan=[UNTIMED, ALERT]).rows
    labels = [row.label if isinstance(row, Note) else row.number for row in rows
              if isinstance(row, Note | Arrow)]
    at = labels.index(ALERT[1])
    assert labels[at - 1] == 16 and labels[at + 1] == 17
    assert labels[-1] == UNTIMED[1]
    notes = [row for row in rows if isinstance(row, Note)]
    assert notes[0].t is not None and abs(notes[0].t - 42.05) < 1e-6
    assert notes[1].t is None


def test_a_note_before_any_frame_sets_the_time_origin() -> None:
    rows = sequence_rows(download_records(), wan=[(T0 - 5.0, "command 0x0001")]).rows
    assert isinstance(rows[0], Note) and rows[0].t == 0.0
    assert isinstance(rows[1], Arrow) and abs(rows[1].t - 5.0) < 1e-6


def test_text_and_svg_show_the_notes() -> None:
    lines = sequence_text(download_records(), NAMES, wan=[ALERT, UNTIMED]).splitlines()
    assert "   42.050s  WAN  alert 0x0128 CHF→supplier alert_code=0x8F8A" in lines
    assert lines[-1] == "        ?s  WAN  response 0x0001 CHF→supplier"
    svg = sequence_chart(download_records(), NAMES, wan=[ALERT, UNTIMED])
    root = ET.fromstring(svg)
    strips = [g for g in root.iter(f"{SVG}g") if g.get("class") == "wan"]
    assert ["".join(g.itertext()) for g in strips] == [
        "42.050sWAN alert 0x0128 CHF→supplier alert_code=0x8F8A",
        "?sWAN response 0x0001 CHF→supplier"]


def test_a_long_note_widens_the_chart() -> None:
    label = "alert " + "x" * 300
    root = ET.fromstring(sequence_chart(download_records(), NAMES, wan=[(T0, label)]))
    assert int(root.get("width", "0")) > len(label) * 7


def test_notes_count_against_the_limit() -> None:
    chart = sequence_rows(download_records(), wan=[(T0 + 0.5, "early alert")], limit=2)
    assert [type(row) for row in chart.rows] == [Arrow, Note]
    assert chart.omitted == 17  # the 18 ZCL frames less the first
