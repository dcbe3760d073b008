"""tshark as the oracle for the capture layer: formats written here, ZEP unwrapping, and
the whole ``hanota decode`` path.

A pcapng of ZEP v2 datagrams in Ethernet/IPv4 and IPv6/UDP to port 17754, carrying every
NWK-encrypted OTA sample (plus ZEP acks, unrelated UDP and a wrong-key frame), is read by
tshark with the key and by ``hanota decode --json``: same frames, same OTA command ids,
file offsets, data sizes, statuses and channels. Our pcap/pcapng writers (both byte
orders, ns resolution, several interfaces) must read back in tshark with the same times,
lengths and interfaces as in our parser.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hanota.layers import ota
from hanota.layers.capture import (
    CaptureParser,
    pcap_header,
    pcap_packet,
    pcapng_header,
    pcapng_interface,
    pcapng_packet,
    pcapng_section,
)
from hanota.layers.capture_zep import ZEP_PORT, zep_ack_encode, zep_encode
from hanota.layers.codec import build_frame, mac_ack
from hanota.layers.security import KeyRing
from hanota.layers.zcl import GENERAL_IDS
from ota_frames import ALL_CASES, NETWORK_KEY_HEX, WRONG_KEY_HEX, sample_frame
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import raw

pytestmark = [
    pytest.mark.tshark,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed"),
]

KEYS = KeyRing.from_hex([NETWORK_KEY_HEX])
START = 1_700_000_000.0
# Ethernet addresses given, so scapy does not try to resolve them (slow, and no network).
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def ether() -> Ether:
    return Ether(src=MAC_A, dst=MAC_B)
OTA = "zbee_zcl_general.ota."
TSHARK_FIELDS = (
    "frame.number", "zep.channel_id", "zbee_nwk.src", "zbee_nwk.dst", "zbee_aps.cluster",
    OTA + "cmd.srv_rx.id", OTA + "cmd.srv_tx.id", "zbee_zcl.cmd.id", OTA + "file.offset",
    OTA + "data_size", OTA + "status", "wpan.frame_type",
)


def tshark(capture: Path, *fields: str, key: str | None = NETWORK_KEY_HEX) -> list[list[str]]:
    command = ["tshark", "-n", "-r", str(capture), "-T", "fields", "-E", "separator=|",
               "-E", "occurrence=f"]
    if key:
        command += ["-o", f'uat:zigbee_pc_keys:"{key}","Normal","test"']
    for field in fields:
        command += ["-e", field]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    return [line.split("|") for line in result.stdout.splitlines()]


def zep_capture(path: Path) -> list[int]:
    """The ZEP capture; returns the frame numbers that carry an 802.15.4 frame."""
    data = pcapng_header(1)
    carrying = []
    number = 0

    def add(packet: bytes, is_frame: bool) -> None:
        nonlocal data, number
        number += 1
        data += pcapng_packet(START + number * 0.005, packet)
        if is_frame:
            carrying.append(number)

    for seq, (_, command, fields) in enumerate(ALL_CASES, start=1):
        frame = build_frame(sample_frame(command, fields, seq), KEYS)
        network = IPv6() if seq % 3 == 0 else IP(src="192.0.2.1", dst="192.0.2.2")
        udp = UDP(sport=ZEP_PORT, dport=ZEP_PORT)
        channel = 11 + seq % 16
        add(raw(ether() / network / udp / zep_encode(frame, channel, 2 * seq, START)), True)
        ack = zep_encode(mac_ack(seq & 0xFF), channel, 2 * seq + 1, START)
        add(raw(ether() / network / udp / ack), True)
        if seq % 5 == 0:
            add(raw(ether() / network / udp / zep_ack_encode(2 * seq)), False)
            add(raw(ether() / network / UDP(sport=5353, dport=5353) / b"mdns"), False)
    wrong = build_frame(sample_frame(*ALL_CASES[8][1:], 77), KeyRing.from_hex([WRONG_KEY_HEX]))
    udp = UDP(sport=ZEP_PORT, dport=ZEP_PORT)
    add(raw(ether() / IP() / udp / zep_encode(wrong, 15, 999, START)), True)
    path.write_bytes(data)
    return carrying


def test_zep_capture_decodes_like_tshark(tmp_path: Path) -> None:
    capture = tmp_path / "zep.pcapng"
    carrying = zep_capture(capture)
    theirs = {int(row[0]): dict(zip(TSHARK_FIELDS, row, strict=True))
              for row in tshark(capture, *TSHARK_FIELDS)}
    result = subprocess.run(
        [sys.executable, "-m", "hanota.cli", "decode", str(capture), "--key", NETWORK_KEY_HEX,
         "--json"],
        capture_output=True, text=True, check=True,
    )
    ours = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["frame"] for o in ours] == carrying
    assert all(theirs[n]["wpan.frame_type"] != "" for n in carrying)
    assert all(theirs[n]["wpan.frame_type"] == "" for n in theirs if n not in carrying)
    checked = 0
    for decoded in ours[:-1]:
        shown = theirs[decoded["frame"]]
        assert decoded["error"] is None
        if decoded["zcl_command"] is None:
            assert int(shown["wpan.frame_type"], 16) == 2  # MAC ACK
            continue
        assert int(shown["zbee_nwk.src"], 16) == decoded["src16"]
        assert int(shown["zbee_nwk.dst"], 16) == decoded["dst16"]
        assert int(shown["zbee_aps.cluster"], 16) == decoded["cluster"]
        assert int(shown["zep.channel_id"]) == decoded["channel"]
        command_id = (shown[OTA + "cmd.srv_rx.id"] or shown[OTA + "cmd.srv_tx.id"]
                      or shown["zbee_zcl.cmd.id"])
        name = decoded["zcl_command"]
        expected_id = ota.BY_NAME[name].command_id if name in ota.BY_NAME else GENERAL_IDS[name]
        assert int(command_id, 16) == expected_id
        fields = decoded["fields"]
        for ours_name, theirs_name in (("file_offset", OTA + "file.offset"),
                                       ("data_size", OTA + "data_size")):
            if ours_name in fields:
                assert int(shown[theirs_name]) == fields[ours_name]
                checked += 1
        if "status" in fields and decoded["zcl_command"] != "default_response":
            assert int(shown[OTA + "status"], 16) == fields["status"]
    assert checked >= 8
    wrong = ours[-1]
    assert "MIC failure" in wrong["error"]
    assert theirs[wrong["frame"]]["zbee_aps.cluster"] == ""  # tshark could not decrypt it


def formats() -> dict[str, bytes]:
    packets = [bytes([n]) * (n * 9 % 120 + 5) for n in range(12)]
    times = [START + n * 0.5 + 0.000123 + n * 1e-9 for n in range(12)]
    multi = pcapng_section(big_endian=True)
    multi += pcapng_interface(195, big_endian=True)
    multi += pcapng_interface(230, big_endian=True, tsresol=9)
    out = {
        "pcap-us-le": pcap_header(195),
        "pcap-ns-be": pcap_header(230, nanoseconds=True, big_endian=True),
        "pcapng-ns-le": pcapng_header(195, tsresol=9),
        "pcapng-multi-be": multi,
    }
    for n, (time, data) in enumerate(zip(times, packets, strict=True)):
        out["pcap-us-le"] += pcap_packet(time, data)
        out["pcap-ns-be"] += pcap_packet(time, data, nanoseconds=True, big_endian=True)
        out["pcapng-ns-le"] += pcapng_packet(time, data, tsresol=9)
        out["pcapng-multi-be"] += pcapng_packet(time, data, n % 2, big_endian=True,
                                                tsresol=(6, 9)[n % 2])
    return out


@pytest.mark.parametrize("name", list(formats()))
def test_tshark_reads_our_files_as_our_parser_does(tmp_path: Path, name: str) -> None:
    data = formats()[name]
    path = tmp_path / name
    path.write_bytes(data)
    rows = tshark(path, "frame.number", "frame.time_epoch", "frame.len", "frame.interface_id",
                  key=None)
    parser = CaptureParser()
    ours = parser.feed(data)
    parser.close()
    assert len(rows) == len(ours) == 12
    for row, record in zip(rows, ours, strict=True):
        assert int(row[0]) == record.number
        assert float(Decimal(row[1])) == pytest.approx(record.time, abs=1e-6)
        assert int(row[2]) == len(record.data)
        assert int(row[3] or 0) == record.interface


@pytest.mark.skipif(shutil.which("mergecap") is None or shutil.which("editcap") is None,
                    reason="mergecap/editcap (Wireshark tools) are not installed")
def test_files_written_by_wireshark_tools_are_read(tmp_path: Path) -> None:
    """mergecap/editcap write their own SHB/IDB options and interface layout: a pcap of
    link type 195 and a nanosecond pcapng of link type 230, merged into one pcapng with
    two interfaces, then converted to nanosecond pcap."""
    first = tmp_path / "first.pcap"
    first.write_bytes(pcap_header(195) + b"".join(
        pcap_packet(START + n, bytes([n]) * (n + 5)) for n in range(5)))
    second = tmp_path / "second.pcapng"
    second.write_bytes(pcapng_header(230, tsresol=9) + b"".join(
        pcapng_packet(START + n + 0.5, bytes([0x80 + n]) * (n + 3), tsresol=9)
        for n in range(5)))
    merged = tmp_path / "merged.pcapng"
    subprocess.run(["mergecap", "-w", str(merged), str(first), str(second)], check=True,
                   capture_output=True)
    parser = CaptureParser()
    records = parser.feed(merged.read_bytes())
    parser.close()
    expected = []
    for n in range(5):
        expected.append((START + n, 195, bytes([n]) * (n + 5)))
        expected.append((START + n + 0.5, 230, bytes([0x80 + n]) * (n + 3)))
    assert [(r.linktype, r.data) for r in records] == [(lt, d) for _, lt, d in expected]
    assert [r.time for r in records] == pytest.approx([t for t, _, _ in expected], abs=1e-6)
    assert [r.number for r in records] == list(range(1, 11))
    only_first = tmp_path / "first-ns.pcap"
    subprocess.run(["editcap", "-F", "nsecpcap", str(first), str(only_first)], check=True,
                   capture_output=True)
    parser = CaptureParser()
    converted = parser.feed(only_first.read_bytes())
    parser.close()
    assert [(r.time, r.data) for r in converted] == [(t, d) for t, _, d in expected[::2]]
