"""A test house's own stimulus, crafted with scapy: a rogue Image Notify and a Query Next
Image Response built as scapy packets, secured with the DUT's keys by
``hanota.layers.scapy_secure.secure``, written to a pcapng capture (link type 195) and as ZEP;
Wireshark's dissector (tshark) and ``hanota decode`` both read them back field for field.

Scapy is imported by the tests' own imports here: this module is about scapy.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hanota.dut.description import load_dut
from hanota.emulators.zep_out import ZepSender
from hanota.layers import ota
from hanota.layers.capture_zep import zep_decode
from hanota.layers.codec import build_frame, crc16_kermit, parse_frame
from hanota.layers.model import Aps, HanFrame, Mac, MicFailure, Nwk, Security
from hanota.layers.scapy_ota import (
    ZclOta,
    ZCLOtaImageNotify,  # type: ignore[attr-defined]
    ZCLOtaQueryNextImageResponse,  # type: ignore[attr-defined]
    dissect,
)
from hanota.layers.scapy_secure import secure, to_pcapng
from hanota.layers.security import KeyRing
from hanota.layers.zcl import make_zcl
from scapy.layers.dot15d4 import Dot15d4, Dot15d4Data, Dot15d4FCS
from scapy.layers.zigbee import (
    ZigbeeAppDataPayload,
    ZigbeeClusterLibrary,
    ZigbeeNWK,
    ZigbeeSecurityHeader,
)
from scapy.packet import Packet

from hanota.cli import main

DUT = load_dut()
KEYS = KeyRing((DUT.network_key,), DUT.link_keys)
NETWORK_KEY_HEX = DUT.network_key.hex().upper()
PPMID, CHF = DUT.nodes["ppmid"], DUT.chf
ROGUE64 = "00DB12345678CAD0"  # no node of the DUT description
ROGUE_SHORT = 0x7CAD
ROGUE_VERSION = PPMID.current_version + 0x00100000
START = 1_767_225_600.0
IDENT = {"manufacturer_code": PPMID.manufacturer_code, "image_type": PPMID.image_type,
         "file_version": ROGUE_VERSION}


def headers(src16: int, seq: int, mac: type[Packet] = Dot15d4FCS) -> Packet:
    """MAC / NWK / APS of a unicast SE-profile frame to the PPMID, as the HAN sends them."""
    return (
        mac(fcf_frametype=1, fcf_ackreq=1, fcf_panidcompress=1, fcf_destaddrmode=2,
                   fcf_srcaddrmode=2, seqnum=seq)
        / Dot15d4Data(dest_panid=DUT.pan_id, dest_addr=PPMID.short, src_addr=src16)
        / ZigbeeNWK(discover_route=1, proto_version=2, frametype=0, flags=0,
                    destination=PPMID.short, source=src16, radius=30, seqnum=seq)
        / ZigbeeAppDataPayload(frame_control=0, delivery_mode=0, aps_frametype=0,
                               dst_endpoint=PPMID.endpoint, cluster=ota.CLUSTER_ID,
                               profile=0x0109,
                               src_endpoint=1, counter=seq)
    )


def rogue_notify(mac: type[Packet] = Dot15d4FCS) -> Packet:
    return headers(ROGUE_SHORT, 0x21, mac) / ZclOta(disable_default_response=1,
                                               transaction_sequence=0x40) / ZCLOtaImageNotify(
        payload_type=3, query_jitter=100, **IDENT)


def rogue_response() -> Packet:
    """Pretends to be the CHF (short 0x0000) but secures with its own EUI-64: a real
    node cannot secure in the CHF's name."""
    return headers(CHF.short, 0x22) / ZigbeeClusterLibrary(
        disable_default_response=1, transaction_sequence=0x41) / ZCLOtaQueryNextImageResponse(
        status=0, image_size=1078, **IDENT)


CRAFTED: list[tuple[str, int, dict[str, Any], int]] = [
    ("image_notify", ROGUE_SHORT, {"payload_type": 3, "query_jitter": 100, **IDENT}, 0x40),
    ("query_next_image_response", CHF.short, {"status": 0, **IDENT, "image_size": 1078}, 0x41),
]


def secured() -> list[bytes]:
    return [
        secure(rogue_notify(), KEYS, source64=ROGUE64, frame_counter=7001,
               key_seq=DUT.network_key_seq),
        secure(rogue_response(), KEYS, source64=ROGUE64, frame_counter=7002,
               key_seq=DUT.network_key_seq),
    ]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crafted") / "rogue.pcapng"
    path.write_bytes(to_pcapng((START + n, psdu) for n, psdu in enumerate(secured())))
    return path


def test_secured_frames_are_what_the_codec_builds_for_the_same_fields() -> None:
    """Same bytes as hanota.layers.codec.build_frame: the scapy path and the emulator's codec
    secure alike (aux header, nonce, MIC, FCS)."""
    for psdu, (command, src16, fields, zcl_seq), counter, seq in zip(
            secured(), CRAFTED, (7001, 7002), (0x21, 0x22), strict=True):
        frame = HanFrame(
            Mac(1, seq, DUT.pan_id, PPMID.short, src16, True),
            Nwk(PPMID.short, src16, seq, 30, 0, None, None,
                Security(1, counter, ROGUE64, DUT.network_key_seq)),
            Aps(ota.CLUSTER_ID, 0x0109, PPMID.endpoint, 1, seq),
            make_zcl(command, fields, zcl_seq),
        )
        assert psdu == build_frame(frame, KEYS), command


def test_hanota_decode_reads_them_back_field_for_field(
    capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["decode", str(capture), "--key", NETWORK_KEY_HEX, "--json"])
    out, err = capsys.readouterr()
    assert status == 0 and "2 frames, 0 not decoded" in err
    for line, (command, src16, fields, _) in zip(out.splitlines(), CRAFTED, strict=True):
        decoded = json.loads(line)
        assert decoded["error"] is None and decoded["layers"] == "MAC/NWK(sec)/APS/ZCL"
        assert (decoded["zcl_command"], decoded["cluster"]) == (command, ota.CLUSTER_ID)
        assert (decoded["src16"], decoded["dst16"]) == (src16, PPMID.short)
        assert decoded["src64"] == ROGUE64  # the securing node, whatever short it claims
        assert {key: decoded["fields"][key] for key in fields} == fields
    # and the codec itself, with every layer
    for psdu, (command, src16, fields, zcl_seq) in zip(secured(), CRAFTED, strict=True):
        frame = parse_frame(psdu, KEYS)
        assert frame.nwk is not None and frame.nwk.security is not None and frame.zcl
        assert (frame.mac.src16, frame.nwk.src16, frame.nwk.security.source64) == (
            src16, src16, ROGUE64)
        assert (frame.zcl.command, frame.zcl.seq, frame.zcl.fields) == (command, zcl_seq, fields)


TSHARK_FIELDS = {
    "wpan.src16": "mac_src16", "zbee_nwk.src": "nwk_src16", "zbee_nwk.dst": "nwk_dst16",
    "zbee.sec.src64": "source64", "zbee.sec.counter": "frame_counter",
    "zbee.sec.key_seqno": "key_seq", "zbee_aps.cluster": "cluster",
    "zbee_zcl.cmd.tsn": "zcl_seq",
    "zbee_zcl_general.ota.cmd.srv_tx.id": "command_id",  # server to client: both are
    "zbee_zcl_general.ota.payload.type": "payload_type",
    "zbee_zcl_general.ota.query_jitter": "query_jitter",
    "zbee_zcl_general.ota.status": "status",
    "zbee_zcl_general.ota.manufacturer_code": "manufacturer_code",
    "zbee_zcl_general.ota.image.type": "image_type",
    "zbee_zcl_general.ota.file.version": "file_version",
    "zbee_zcl_general.ota.image.size": "image_size",
}


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_them_back_field_for_field(capture: Path) -> None:
    command = ["tshark", "-n", "-r", str(capture), "-T", "fields", "-E", "separator=|",
               "-o", f'uat:zigbee_pc_keys:"{NETWORK_KEY_HEX}","Normal","dut"']
    for name in TSHARK_FIELDS:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    rows = [dict(zip(TSHARK_FIELDS.values(), line.split("|"), strict=True))
            for line in result.stdout.splitlines()]
    assert len(rows) == 2
    for row, (name, src16, fields, zcl_seq), counter in zip(rows, CRAFTED, (7001, 7002),
                                                           strict=True):
        assert int(row["mac_src16"], 16) == int(row["nwk_src16"], 16) == src16
        assert int(row["nwk_dst16"], 16) == PPMID.short
        assert row["source64"].replace(":", "").upper() == ROGUE64
        assert int(row["frame_counter"]) == counter
        assert int(row["key_seq"]) == DUT.network_key_seq
        assert int(row["cluster"], 16) == ota.CLUSTER_ID
        assert int(row["zcl_seq"]) == zcl_seq
        assert int(row["command_id"], 16) == ota.BY_NAME[name].command_id
        for field, value in fields.items():
            assert int(row[field], 0) == value, (name, field)


def test_the_crafted_frames_go_out_as_zep(capture: Path) -> None:
    """Replayed to a remote-sniffer listener (loopback) exactly as captured."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    try:
        with ZepSender("127.0.0.1", listener.getsockname()[1], speed=None,
                       channel=DUT.channel) as sender:
            for n, psdu in enumerate(secured()):
                sender(START + n, psdu)
        received = [zep_decode(listener.recv(256)) for _ in range(2)]
    finally:
        listener.close()
    assert [datagram.psdu for datagram in received] == secured()
    assert {datagram.channel for datagram in received} == {DUT.channel}


def test_scapy_shows_the_decrypted_frames() -> None:
    notify, response = (dissect(psdu, KEYS) for psdu in secured())
    assert notify[ZCLOtaImageNotify].file_version == ROGUE_VERSION
    assert response[ZclOta].command_identifier == 0x02  # dissected as the OTA cluster's
    assert response[ZCLOtaQueryNextImageResponse].image_size == 1078
    assert not notify[ZigbeeNWK].flags.security  # security removed for the reader
    with pytest.raises(MicFailure):
        dissect(secured()[0], KeyRing((bytes(16),)))


# ---- the securing API ---------------------------------------------------------------------


def test_a_security_header_in_the_packet_supplies_counter_source_and_key_sequence() -> None:
    packet = rogue_notify()
    nwk = packet[ZigbeeNWK]
    above = nwk.payload
    nwk.remove_payload()
    nwk.add_payload(ZigbeeSecurityHeader(extended_nonce=1, key_type=1, fc=7001,
                                         source=int(ROGUE64, 16),
                                         key_seqnum=DUT.network_key_seq) / above)
    assert secure(packet, KEYS) == secured()[0]


def test_aps_security_under_nwk_security_with_the_link_key() -> None:
    keys = KeyRing((DUT.network_key,), (bytes.fromhex("66B6900981E1EE3CA4206B6B861C02BB"),))
    psdu = secure(rogue_notify(), keys, source64=ROGUE64, frame_counter=9,
                  aps_frame_counter=77, aps_key_id=0)
    frame = parse_frame(psdu, keys)
    assert frame.aps is not None and frame.aps.security == Security(0, 77, ROGUE64)
    assert frame.zcl is not None and frame.zcl.command == "image_notify"
    with pytest.raises(MicFailure):
        parse_frame(psdu, KEYS)  # the DUT's link key is another


def test_header_bits_the_user_set_are_kept() -> None:
    packet = rogue_notify()
    packet[Dot15d4FCS].fcf_pending = 1
    packet[ZigbeeNWK].discover_route = 0
    packet[ZigbeeNWK].radius = 1
    psdu = secure(packet, KEYS, source64=ROGUE64, frame_counter=1)
    assert psdu[0] & 0x10  # MAC frame pending
    frame = parse_frame(psdu, KEYS)
    assert frame.nwk is not None and frame.nwk.radius == 1
    assert dissect(psdu, KEYS)[ZigbeeNWK].discover_route == 0


def test_a_frame_without_fcs_stays_without() -> None:
    packet = rogue_notify(Dot15d4)
    psdu = secure(packet, KEYS, source64=ROGUE64, frame_counter=7001, key_seq=0)
    assert psdu + crc16_kermit(psdu).to_bytes(2, "little") == secured()[0]


NETWORK_KEY_ONLY = KeyRing((DUT.network_key,))


@pytest.mark.parametrize(
    ("packet", "arguments", "message"),
    [
        (Dot15d4FCS() / Dot15d4Data(), {"source64": ROGUE64, "frame_counter": 1}, "ZigbeeNWK"),
        (rogue_notify(), {"frame_counter": 1}, "source64"),
        (rogue_notify(), {"source64": ROGUE64}, "frame_counter"),
        (rogue_notify(), {"source64": ROGUE64, "frame_counter": 1, "aps_frame_counter": 1},
         "no link key"),
        (Dot15d4FCS() / Dot15d4Data() / ZigbeeNWK() / b"raw",
         {"source64": ROGUE64, "frame_counter": 1, "aps_frame_counter": 1},
         "ZigbeeAppDataPayload"),
    ],
)
def test_what_secure_cannot_do_is_said(
    packet: Packet, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        secure(packet, NETWORK_KEY_ONLY, **arguments)


def test_a_frame_too_long_once_secured_is_refused() -> None:
    packet = rogue_notify()
    packet[ZCLOtaImageNotify].remove_payload()
    big = packet / (b"x" * 80)
    with pytest.raises(ValueError, match="127-byte"):
        secure(big, KEYS, source64=ROGUE64, frame_counter=1)
