"""``hanota decode`` end to end: capture file in, one line (or JSON object) per frame out.

Frames are built with the project's codec from the shared OTA samples (every command and
variant), NWK-encrypted with the test key; the decode must give back the same commands
and fields, report a corrupted frame and a wrong-key frame (MIC failure) without losing
the others, and never crash on bad input.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hanota.layers.capture import (
    CaptureRecord,
    pcap_header,
    pcap_packet,
    pcapng_header,
    pcapng_packet,
)
from hanota.layers.capture_zep import ZEP_PORT, zep_encode
from hanota.layers.codec import build_frame, crc16_kermit, mac_ack
from hanota.layers.security import KeyRing
from hanota.targets.pcap import DecodeTally, decode_records, read_capture
from hypothesis import given, settings
from hypothesis import strategies as st
from ota_frames import ALL_CASES, NETWORK_KEY_HEX, WRONG_KEY_HEX, sample_frame
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import raw

from hanota import decode_cmd
from hanota.cli import main

KEYS = KeyRing.from_hex([NETWORK_KEY_HEX])
START = 1_700_000_000.0
# Ethernet addresses given, so scapy does not try to resolve them (slow, and no network).
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def ether() -> Ether:
    return Ether(src=MAC_A, dst=MAC_B)


def transfer_frames() -> list[tuple[str, dict[str, Any], bytes]]:
    """(command, fields given, frame bytes) for every sample, each followed by its ACK."""
    frames = []
    for seq, (_, command, fields) in enumerate(ALL_CASES, start=1):
        frame = sample_frame(command, fields, seq)
        frames.append((command, fields, build_frame(frame, KEYS)))
        frames.append(("ack", {}, mac_ack(frame.mac.seq)))
    return frames


def write_pcapng(path: Path, frames: list[bytes]) -> Path:
    data = pcapng_header(195)
    for index, frame in enumerate(frames):
        data += pcapng_packet(START + index * 0.01, frame)
    path.write_bytes(data)
    return path


def decode(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    status = main(["decode", *args])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def as_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    return value


def test_every_ota_command_decodes_to_its_fields(tmp_path: Path, capsys) -> None:
    frames = transfer_frames()
    capture = write_pcapng(tmp_path / "all.pcapng", [f for _, _, f in frames])
    status, lines, err = decode(capsys, str(capture), "--key", NETWORK_KEY_HEX, "--json")
    assert status == 0
    assert f"{len(frames)} frames, 0 not decoded" in err
    objects = [json.loads(line) for line in lines]
    assert [o["frame"] for o in objects] == list(range(1, len(frames) + 1))
    for decoded, (command, fields, _) in zip(objects, frames, strict=True):
        assert decoded["error"] is None
        if command == "ack":
            assert decoded["layers"] == "MAC(ack)" and decoded["zcl_command"] is None
            continue
        assert decoded["zcl_command"] == command
        assert decoded["cluster"] == 0x0019
        assert decoded["layers"] == "MAC/NWK(sec)/APS/ZCL"
        assert {0x0000, 0x4C21} == {decoded["src16"], decoded["dst16"]}
        assert decoded["src64"] in ("00DB1234567890A2", "00DB1234567890B3")
        expected = as_json(fields)
        assert {k: decoded["fields"][k] for k in expected} == expected
    assert objects[1]["time"] == pytest.approx(START + 0.01)


def test_text_lines_show_route_layers_and_ota_fields(tmp_path: Path, capsys) -> None:
    frames = transfer_frames()
    capture = write_pcapng(tmp_path / "all.pcapng", [f for _, _, f in frames])
    status, lines, _ = decode(capsys, str(capture), "--key", NETWORK_KEY_HEX)
    assert status == 0
    by_case = {case: lines[2 * n] for n, (case, _, _) in enumerate(ALL_CASES)}
    index = [case for case, _, _ in ALL_CASES].index("block_request")
    request = by_case["block_request"]
    assert request.split()[:2] == [str(2 * index + 1), f"{START + 0.02 * index:.6f}"]
    assert "0x4C21 → 0x0000  MAC/NWK(sec)/APS/ZCL  image_block_request" in request
    assert "file_offset=0x00001000 maximum_data_size=64" in request
    assert "manufacturer_code=0x1234 image_type=0x0101 file_version=0x01020304" in request
    response = by_case["block_response_ok"]
    assert "0x0000 → 0x4C21" in response and "status=SUCCESS" in response
    assert "data_size=40 data=40B:0001020304050607…" in response
    assert "status=WAIT_FOR_DATA current_time=800000000" in by_case["block_response_wait"]
    assert "status=NO_IMAGE_AVAILABLE" in by_case["dsf_response_none"]
    assert "attributes=[0x0002]" in by_case["read_attributes"]
    assert "request_node_address=00DB1234567890B3" in by_case["block_request_node"]
    assert lines[1].endswith("ack seq 1")


def test_corrupted_and_wrong_key_frames_are_reported_and_the_rest_decoded(
    tmp_path: Path, capsys
) -> None:
    good = [f for _, _, f in transfer_frames()[:6]]
    corrupted = bytearray(good[0])
    corrupted[-5] ^= 0xFF  # inside the MIC: the FCS no longer matches
    wrong_key = build_frame(sample_frame(*ALL_CASES[8][1:], 40), KeyRing.from_hex([WRONG_KEY_HEX]))
    truncated = good[2][:12]
    frames = [*good[:2], bytes(corrupted), *good[2:4], wrong_key, *good[4:], truncated]
    capture = write_pcapng(tmp_path / "bad.pcapng", frames)
    status, lines, err = decode(capsys, str(capture), "--key", NETWORK_KEY_HEX, "--json")
    assert status == 0
    assert "9 frames, 3 not decoded" in err
    objects = {o["frame"]: o for o in map(json.loads, lines)}
    assert objects[3]["error"].startswith("frame 3: mac.fcs at offset")
    assert objects[6]["error"].startswith("frame 6: nwk.mic at offset")
    assert "MIC failure" in objects[6]["error"]
    assert objects[9]["error"].startswith("frame 9: ")
    assert all(objects[n]["error"] is None for n in (1, 2, 4, 5, 7, 8))
    assert objects[1]["zcl_command"] == "image_notify"
    status, lines, _ = decode(capsys, str(capture), "--key", NETWORK_KEY_HEX)
    assert lines[5].split("ERROR: ")[1].startswith("frame 6: nwk.mic")


def test_without_the_key_every_secured_frame_is_a_mic_failure(tmp_path: Path, capsys) -> None:
    frames = [f for _, _, f in transfer_frames()[:4]]
    capture = write_pcapng(tmp_path / "nokey.pcapng", frames)
    status, lines, _ = decode(capsys, str(capture), "--json")
    assert status == 0
    errors = [json.loads(line)["error"] for line in lines]
    assert "MIC failure" in errors[0] and "MIC failure" in errors[2]
    assert errors[1] is None and errors[3] is None


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_not_a_capture_exits_non_zero_with_a_message(tmp_path: Path, capsys, jobs: str) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("this is not a capture\n")
    status, lines, err = decode(capsys, str(text), "--jobs", jobs)
    assert status == 2 and lines == []
    assert "not a pcap or pcapng capture" in err
    status, _, err = decode(capsys, str(tmp_path / "missing.pcap"), "--jobs", jobs)
    assert status == 2 and "cannot read" in err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_truncated_capture_outputs_the_frames_before_and_names_the_record(
    tmp_path: Path, capsys, monkeypatch, jobs: str
) -> None:
    monkeypatch.setattr(decode_cmd, "PARALLEL_BATCH", 3)
    frames = [f for _, _, f in transfer_frames()[:10]]
    path = write_pcapng(tmp_path / "cut.pcapng", frames)
    path.write_bytes(path.read_bytes()[:-10])
    status, lines, err = decode(capsys, str(path), "--key", NETWORK_KEY_HEX, "--jobs", jobs)
    assert status == 1
    assert [int(line.split()[0]) for line in lines] == list(range(1, 10))
    assert "pcapng.record 10 at offset" in err and "truncated" in err


def test_bad_key_text_is_refused(tmp_path: Path, capsys) -> None:
    capture = write_pcapng(tmp_path / "a.pcapng", [mac_ack(1)])
    status, _, err = decode(capsys, str(capture), "--key", "00112233")
    assert status == 2 and "key" in err


def test_parallel_decoding_keeps_capture_order(tmp_path: Path, capsys, monkeypatch) -> None:
    frames = [f for _, _, f in transfer_frames()] * 5
    capture = write_pcapng(tmp_path / "many.pcapng", frames)
    monkeypatch.setattr(decode_cmd, "PARALLEL_BATCH", 7)
    for output in ([], ["--json"]):
        one = decode(capsys, str(capture), "--key", NETWORK_KEY_HEX, "--jobs", "1", *output)
        two = decode(capsys, str(capture), "--key", NETWORK_KEY_HEX, "--jobs", "2", *output)
        assert one == two
        assert len(one[1]) == len(frames)


def test_a_stream_on_stdin_is_decoded_like_the_file(tmp_path: Path) -> None:
    frames = [f for _, _, f in transfer_frames()[:8]]
    capture = write_pcapng(tmp_path / "a.pcapng", frames)
    command = [sys.executable, "-m", "hanota.cli", "decode", "--key", NETWORK_KEY_HEX]
    from_file = subprocess.run([*command, str(capture)], capture_output=True, check=True)
    from_pipe = subprocess.run(
        [*command, "-"], input=capture.read_bytes(), capture_output=True, check=True
    )
    assert from_pipe.stdout == from_file.stdout
    assert len(from_file.stdout.splitlines()) == 8


def test_zep_records_decode_with_channel_and_other_traffic_is_counted() -> None:
    frame = transfer_frames()[16][2]
    zep = zep_encode(frame, 19, 1, START)
    records = [
        CaptureRecord(1, START, 1, raw(ether() / IP() / UDP(sport=ZEP_PORT, dport=ZEP_PORT) / zep)),
        CaptureRecord(2, START, 1, raw(ether() / ARP())),
        CaptureRecord(3, START, 1, raw(ether() / IP() / UDP(dport=ZEP_PORT) / zep[:-20])),
        CaptureRecord(4, START, 1, raw(ether() / IP() / UDP(dport=ZEP_PORT) / zep_encode(
            frame[:-2] + b"\xc0\x10", 19, 2, START, crc_mode=False))),
    ]
    tally = DecodeTally()
    decoded = list(decode_records(records, KEYS, tally))
    assert [d.number for d in decoded] == [1, 3, 4]
    assert (tally.frames, tally.errors, tally.skipped) == (3, 2, 1)
    assert decoded[0].channel == 19 and decoded[0].han is not None
    assert decoded[0].han.zcl is not None
    assert decoded[1].error is not None and decoded[1].error.startswith("frame 3: zep.length")
    assert decoded[2].error == (
        f"frame 4: mac.fcs at offset {len(frame) - 2}: sniffer reports a bad FCS"
    )
    assert decoded[2].fcs_ok is False and decoded[2].han == decoded[0].han  # still decoded


def test_read_capture_streams_a_pcap_file(tmp_path: Path) -> None:
    frames = [f for _, _, f in transfer_frames()[:4]]
    path = tmp_path / "a.pcap"
    path.write_bytes(pcap_header(195) + b"".join(
        pcap_packet(START + n, frame) for n, frame in enumerate(frames)
    ))
    decoded = list(read_capture(path, KEYS))
    assert [d.raw for d in decoded] == frames
    assert all(d.error is None for d in decoded)
    assert decoded[0].han is not None and decoded[0].han.zcl is not None
    assert decoded[1].han is not None and decoded[1].han.mac.frame_type == 2


def test_a_live_stream_prints_frames_before_it_ends(tmp_path: Path) -> None:
    """A sniffer's pipe stays open: frames received so far must be printed already."""
    frames = [f for _, _, f in transfer_frames()[:4]]
    data = write_pcapng(tmp_path / "a.pcapng", frames).read_bytes()
    first_two = len(pcapng_header(195)) + sum(
        len(pcapng_packet(START, frame)) for frame in frames[:2]
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "hanota.cli", "decode", "-", "--key", NETWORK_KEY_HEX],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},  # our own flushing
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write(data[:first_two + 10])  # two frames and the start of a third
        child.stdin.flush()
        ready, _, _ = select.select([child.stdout], [], [], 10)
        assert ready, "no output while the stream is still open"
        assert child.stdout.readline().split()[0] == b"1"
        assert child.stdout.readline().split()[0] == b"2"
        child.stdin.write(data[first_two + 10:])
        child.stdin.close()
        assert [line.split()[0] for line in child.stdout.read().splitlines()] == [b"3", b"4"]
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([1, 195, 230, 283]), st.binary(max_size=130))
def test_random_records_become_frames_or_errors_never_exceptions(
    linktype: int, data: bytes
) -> None:
    """Random payloads, with a valid FCS where the link type has one: the MAC decoder
    gets past the FCS check, and whatever follows must end as a FrameRecord: decoded,
    or an error with whatever layers decoded below it."""
    if linktype == 195:
        data += crc16_kermit(data).to_bytes(2, "little")
    for frame in decode_records([CaptureRecord(1, 0.0, linktype, data)], KEYS):
        assert frame.han is not None or frame.error is not None
        if frame.han is not None:
            assert (frame.han.error is None) == (frame.error is None)


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_parallel_decoding_with_batches_that_carry_no_frame(
    tmp_path: Path, capsys, monkeypatch, batch: int
) -> None:
    """Runs of ARP between ZEP frames leave whole batches without a frame: each worker
    must still account for them, or the order and the counts break."""
    monkeypatch.setattr(decode_cmd, "PARALLEL_BATCH", batch)
    frames = [f for _, _, f in transfer_frames()[:6]]
    udp = UDP(sport=ZEP_PORT, dport=ZEP_PORT)
    packets = []
    for number, frame in enumerate(frames):
        packets.append(raw(ether() / IP() / udp / zep_encode(frame, 11, number, START)))
        packets += [raw(ether() / ARP())] * (number % 4)
    data = pcapng_header(1) + b"".join(
        pcapng_packet(START + n, packet) for n, packet in enumerate(packets)
    )
    capture = tmp_path / "mixed.pcapng"
    capture.write_bytes(data)
    results = [decode(capsys, str(capture), "--key", NETWORK_KEY_HEX, "--jobs", jobs)
               for jobs in ("1", "2", "3")]
    assert results[0] == results[1] == results[2]
    status, lines, err = results[0]
    assert status == 0 and len(lines) == 6
    assert f"6 frames, 0 not decoded, {len(packets) - 6} records without" in err
