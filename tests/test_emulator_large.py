"""The 1 MiB ``upgrade-large`` exchange, conformant, checked on its capture by our decoder
and independently by Wireshark's dissector (tshark, decrypting with the network key)."""

from __future__ import annotations

import io
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
from air_trace import Trace, read_trace, received_files
from hanota.dut.description import load_dut
from hanota.dut.images import ota_files
from hanota.emulators import EmulationResult, emulate
from hanota.emulators.wan import chf_certificate
from hanota.layers import ota
from hanota.layers.gbcs import decode_gbcs, verify_apdu
from hanota.layers.gbcs_payloads import Ccs08Alert, Cs08Alert

pytestmark = pytest.mark.slow

DUT = load_dut()
IMAGE = DUT.images["ppmid-large"]
OTA_COMMAND_NAMES = {0x00: "image_notify", 0x01: "query_next_image_request",
                     0x02: "query_next_image_response", 0x03: "image_block_request",
                     0x05: "image_block_response", 0x06: "upgrade_end_request",
                     0x07: "upgrade_end_response"}


@cache
def large_run() -> tuple[EmulationResult, Trace, bytes]:
    capture = io.BytesIO()
    result = emulate(DUT, "upgrade-large", capture)
    return result, read_trace(capture.getvalue(), DUT), capture.getvalue()


def test_large_image_goes_in_parts_each_byte_for_byte() -> None:
    _, trace, _ = large_run()
    parts = ota_files(DUT, "ppmid-large")
    assert IMAGE.size is not None and IMAGE.size > DUT.pixit.image_store_limit
    assert len(parts) > 1 and all(len(p) <= DUT.pixit.image_store_limit for p in parts)
    sizes = [e.fields["image_size"] for e in trace.of("query_next_image_response", dst="ppmid")]
    assert sizes == [len(p) for p in parts]
    assert received_files(trace, "ppmid") == parts
    ends = [e.fields["status"] for e in trace.of("upgrade_end_request", src="ppmid")]
    assert ends == [ota.REQUIRE_MORE_IMAGE] * (len(parts) - 1) + [ota.SUCCESS]
    assert [e.fields["upgrade_time"] for e in trace.of("upgrade_end_response")] == [0]


def test_large_image_requests_are_contiguous_in_every_part() -> None:
    _, trace, _ = large_run()
    parts = ota_files(DUT, "ppmid-large")
    starts = [e.time for e in trace.of("query_next_image_response", dst="ppmid")] + [1e12]
    step = DUT.pixit.maximum_data_size
    for index, part in enumerate(parts):
        offsets = [e.fields["file_offset"] for e in trace.of("image_block_request", src="ppmid")
                   if starts[index] < e.time < starts[index + 1]]
        assert list(dict.fromkeys(offsets)) == list(range(0, len(part), step))


def test_large_image_read_back_and_alerts() -> None:
    result, trace, _ = large_run()
    reads = [r["value"] for e in trace.of("read_attributes_response", src="ppmid")
             for r in e.fields["records"]]
    assert reads == [IMAGE.file_version]
    decoded = [decode_gbcs(m.data).payload for m in result.wan]
    assert [type(p) for p in decoded] == [Ccs08Alert, Cs08Alert]
    ccs08, cs08 = decoded
    assert (ccs08.alert_code, ccs08.response_code) == (0x8F8A, 0)
    assert (cs08.alert_code, cs08.activate_image) == (0x8F8B, 0)
    assert all(verify_apdu(m.data, chf_certificate()) for m in result.wan)


def _tshark(capture: Path, *fields: str) -> list[list[str]]:
    key = DUT.network_key.hex()
    command = [
        "tshark", "-r", str(capture), "-o", f'uat:zigbee_pc_keys:"{key}","Normal","emulator"',
        "-Y", "zbee_zcl", "-T", "fields", "-E", "separator=|",
        *(part for field in fields for part in ("-e", field)),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in output.splitlines()]


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_sees_the_same_exchange(tmp_path: Path) -> None:
    _, trace, raw = large_run()
    capture = tmp_path / "upgrade-large.pcapng"
    capture.write_bytes(raw)
    rows = _tshark(capture, "frame.number", "zbee_zcl.cmd.id",
                   "zbee_zcl_general.ota.cmd.srv_tx.id", "zbee_zcl_general.ota.cmd.srv_rx.id",
                   "zbee_zcl_general.ota.file.offset", "zbee_zcl_general.ota.status",
                   "zbee_zcl_general.ota.upgrade_time", "zbee_zcl_general.ota.file.version",
                   "zbee_zcl_general.ota.image.data", "zbee_aps.cluster")
    ota_rows = [r for r in rows if r[9] == "0x0019"]
    assert len(ota_rows) == len([e for e in trace.events if e.cluster == ota.CLUSTER_ID])
    story = []
    for row in ota_rows:
        command = row[2] or row[3]
        name = OTA_COMMAND_NAMES.get(int(command, 16)) if command else {
            "0x00": "read_attributes", "0x01": "read_attributes_response"}.get(row[1])
        if not story or story[-1] != name:
            story.append(name)
    assert story[:3] == ["image_notify", "query_next_image_request", "query_next_image_response"]
    assert story[-4:] == ["upgrade_end_request", "upgrade_end_response", "read_attributes",
                          "read_attributes_response"]
    assert "image_block_request" in story and "image_block_response" in story
    # Block data as tshark decrypted it reassembles to each OTA file of the image.
    parts = [bytearray(len(p)) for p in ota_files(DUT, "ppmid-large")]
    part = -1
    for row in ota_rows:
        if row[2] == "0x02":
            part += 1
        elif row[2] == "0x05" and row[5] == "0x00":
            data = bytes.fromhex(row[8].replace(":", ""))
            offset = int(row[4])
            parts[part][offset : offset + len(data)] = data
    assert [bytes(p) for p in parts] == ota_files(DUT, "ppmid-large")
    ends = [r for r in ota_rows if r[3] == "0x06"]
    assert [r[5] for r in ends][-1] == "0x00"
    assert [r[6] for r in ota_rows if r[2] == "0x07"] == ["0"]
    read_back = [r for r in ota_rows if r[1] == "0x01" and not r[2] and not r[3]]
    assert int(read_back[-1][7], 16) == IMAGE.file_version
