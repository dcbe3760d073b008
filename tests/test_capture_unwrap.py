"""From capture records to 802.15.4 PSDUs (hanota.layers.capture_unwrap) and ZEP
(hanota.layers.capture_zep).

Carriers (Ethernet, VLAN, IPv4, IPv6, Linux cooked v1/v2, loopback, ZEP v1/v2) are built
with scapy, an implementation written elsewhere, so an unwrapping bug cannot be hidden by
the same bug in a builder of ours.
"""

from __future__ import annotations

import struct
import zlib

import pytest
from hanota.layers.capture import CaptureRecord
from hanota.layers.capture_unwrap import HanPayload, han_payload
from hanota.layers.capture_zep import ZEP_PORT, zep_ack_encode, zep_decode, zep_encode
from hanota.layers.codec import crc16_kermit
from hanota.layers.model import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, CookedLinux, CookedLinuxV2, Dot1Q, Ether, Loopback
from scapy.layers.zigbee import ZEP1, ZEP2
from scapy.packet import Packet, Raw, raw

# A MAC ACK with its FCS, and a short data frame: real 802.15.4 bytes, FCS included.
ACK = bytes.fromhex("02000512d6")
# Ethernet addresses given, so scapy does not try to resolve them (slow, and no network).
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def ether() -> Ether:
    return Ether(src=MAC_A, dst=MAC_B)
BODY = bytes.fromhex("41882a2b1a0000214c") + b"payload"
DATA = BODY + crc16_kermit(BODY).to_bytes(2, "little")


def record(linktype: int, data: bytes) -> CaptureRecord:
    return CaptureRecord(1, 0.0, linktype, data)


def zep2(psdu: bytes, *, channel: int = 15, crc: bool = True, lqi: int = 200) -> Packet:
    return ZEP2(ver=2, type=1, channel=channel, device=7, lqi_mode=int(crc), lqi_val=lqi,
                seq=9, length=len(psdu)) / Raw(psdu)


def udp(payload: Packet | bytes, dport: int = ZEP_PORT, sport: int = 40000) -> Packet:
    return UDP(sport=sport, dport=dport) / payload


def test_link_type_195_is_the_psdu_with_fcs() -> None:
    assert han_payload(record(195, DATA)) == HanPayload(DATA, True, fcs_ok=True)
    bad = DATA[:-1] + bytes([DATA[-1] ^ 0x10])
    assert han_payload(record(195, bad)) == HanPayload(bad, True, fcs_ok=False)


def test_link_type_230_is_the_psdu_without_fcs() -> None:
    assert han_payload(record(230, DATA[:-2])) == HanPayload(DATA[:-2], False)


def tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("<HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def tap(tlvs: bytes, frame: bytes) -> bytes:
    return struct.pack("<BBH", 0, 0, 4 + len(tlvs)) + tlvs + frame


def test_tap_gives_channel_rssi_lqi_and_16_bit_fcs() -> None:
    tlvs = (tlv(0, b"\x01") + tlv(1, struct.pack("<f", -61.5)) + tlv(3, struct.pack("<HB", 20, 0))
            + tlv(10, b"\xc8"))
    assert han_payload(record(283, tap(tlvs, DATA))) == HanPayload(DATA, True, 20, 200, -61.5,
                                                                   True)


def test_tap_without_fcs_tlv_has_no_fcs_as_wireshark_reads_it() -> None:
    assert han_payload(record(283, tap(b"", DATA[:-2]))) == HanPayload(DATA[:-2], False)


def test_tap_32_bit_fcs_is_checked_and_removed() -> None:
    body = DATA[:-2]
    good = body + zlib.crc32(body).to_bytes(4, "little")
    payload = han_payload(record(283, tap(tlv(0, b"\x02"), good)))
    assert payload == HanPayload(body, False, fcs_ok=True)
    bad = good[:-1] + bytes([good[-1] ^ 1])
    assert han_payload(record(283, tap(tlv(0, b"\x02"), bad))).fcs_ok is False


@pytest.mark.parametrize("header", [b"\x01\x00\x04\x00", b"\x00\x00\x40\x00", b"\x00"])
def test_malformed_tap_header_is_a_decode_error(header: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        han_payload(record(283, header + DATA))
    assert caught.value.layer == "tap"


@pytest.mark.parametrize(
    "linktype,carrier",
    [
        (1, lambda z: ether() / IP(src="10.0.0.1", dst="10.0.0.2") / udp(z)),
        (1, lambda z: ether() / Dot1Q(vlan=5) / IP() / udp(z)),
        (1, lambda z: ether() / IPv6() / udp(z)),
        (1, lambda z: ether() / IPv6() / IPv6ExtHdrHopByHop() / udp(z)),
        (1, lambda z: ether() / IP() / udp(z, dport=5000, sport=ZEP_PORT)),
        (101, lambda z: IP() / udp(z)),
        (101, lambda z: IPv6() / udp(z)),
        (228, lambda z: IP() / udp(z)),
        (229, lambda z: IPv6() / udp(z)),
        (113, lambda z: CookedLinux(proto=0x0800) / IP() / udp(z)),
        (276, lambda z: CookedLinuxV2(proto=0x86DD) / IPv6() / udp(z)),
        (0, lambda z: Loopback(type=2) / IP() / udp(z)),
        (108, lambda z: b"\x00\x00\x00\x18" + raw(IPv6() / udp(z))),
    ],
    ids=["eth-ipv4", "eth-vlan", "eth-ipv6", "eth-ipv6-ext", "eth-src-port", "raw-ipv4",
         "raw-ipv6", "ipv4", "ipv6", "sll", "sll2", "null", "loop"],
)
def test_zep_v2_is_unwrapped_from_every_carrier(linktype: int, carrier) -> None:
    packet = carrier(zep2(DATA, channel=20))
    data = packet if isinstance(packet, bytes) else raw(packet)
    assert han_payload(record(linktype, data)) == HanPayload(DATA, True, 20, 200, fcs_ok=True)


def test_zep_v1_is_unwrapped() -> None:
    zep = ZEP1(ver=1, channel=11, device=3, lqi_mode=1, lqi_val=9, len=len(DATA)) / Raw(DATA)
    packet = raw(ether() / IP() / udp(zep))
    assert han_payload(record(1, packet)) == HanPayload(DATA, True, 11, 9, fcs_ok=True)


def test_zep_lqi_mode_carries_rssi_and_crc_ok_instead_of_the_fcs() -> None:
    body = DATA[:-2]
    for crc_ok in (True, False):
        metadata = bytes([0xC4, (0x80 if crc_ok else 0) | 0x64])
        packet = raw(ether() / IP() / udp(zep2(body + metadata, crc=False)))
        assert han_payload(record(1, packet)) == HanPayload(body, False, 15, 200, -60.0, crc_ok)


def test_zep_ack_carries_no_frame() -> None:
    assert han_payload(record(1, raw(ether() / IP() / udp(zep_ack_encode(7))))) is None


@pytest.mark.parametrize(
    "linktype,packet",
    [
        (1, ether() / ARP()),
        (1, ether() / IP() / udp(b"EX\x02\x01", dport=53, sport=5353)),
        (1, ether() / IP() / udp(b"\x12\x34\x01\x00", dport=53, sport=ZEP_PORT)),
        (1, ether() / IP(proto=6) / Raw(b"\0" * 20)),
        (1, ether() / IP(flags="MF") / udp(zep2(DATA))),
        (101, Raw(b"\x50" + b"\0" * 30)),
        (147, Raw(DATA)),
    ],
    ids=["arp", "other-udp", "dns-from-port-17754", "tcp", "ip-fragment", "not-ip",
         "unknown-linktype"],
)
def test_other_traffic_gives_none(linktype: int, packet: Packet) -> None:
    assert han_payload(record(linktype, raw(packet))) is None


def test_malformed_zep_on_its_port_is_a_decode_error() -> None:
    packet = raw(ether() / IP() / udp(b"EX\x02\x01\x0f"))
    with pytest.raises(DecodeError) as caught:
        han_payload(record(1, packet))
    assert (caught.value.layer, caught.value.field) == ("zep", "length")


def test_zep_encode_is_read_alike_by_scapy_and_zep_decode() -> None:
    datagram = zep_encode(DATA, 25, 77, 1_700_000_000.5, 123, device_id=0x1234)
    theirs = ZEP2(datagram)
    assert (theirs.ver, theirs.type, theirs.channel, theirs.device) == (2, 1, 25, 0x1234)
    assert (theirs.lqi_mode, theirs.lqi_val, theirs.seq, theirs.length) == (1, 123, 77, len(DATA))
    assert bytes(theirs.payload)[:len(DATA)] == DATA
    ours = zep_decode(datagram)
    assert (ours.version, ours.kind, ours.channel, ours.device_id, ours.seq) == (2, "data", 25,
                                                                                 0x1234, 77)
    assert ours.psdu == DATA and ours.crc_mode and ours.lqi == 123
    assert ours.time == pytest.approx(1_700_000_000.5, abs=1e-6)


def test_zep_v1_and_ack_decode() -> None:
    v1 = raw(ZEP1(ver=1, channel=26, device=5, lqi_mode=0, lqi_val=80, len=5) / Raw(ACK))
    decoded = zep_decode(v1)
    assert (decoded.version, decoded.channel, decoded.device_id, decoded.crc_mode) == (1, 26, 5,
                                                                                       False)
    assert decoded.psdu == ACK and decoded.lqi == 80
    ack = zep_decode(zep_ack_encode(0x01020304))
    assert (ack.kind, ack.seq, ack.psdu) == ("ack", 0x01020304, b"")


@pytest.mark.parametrize(
    "datagram,field,offset",
    [
        (b"EX", "version", 2),
        (b"XX\x02\x01" + bytes(40), "preamble", 0),
        (b"EX\x03\x01" + bytes(40), "version", 2),
        (b"EX\x02\x07" + bytes(40), "type", 3),
        (b"EX\x02\x02\x00", "seq", 4),
        (b"EX\x02\x01" + bytes(20), "length", 31),
        (b"EX\x02\x01" + bytes(27) + b"\x10" + b"abc", "length", 31),
        (b"EX\x02\x01" + bytes(27) + b"\x80" + bytes(128), "length", 31),
        (b"EX\x01" + bytes(12) + b"\x05ab", "length", 15),
    ],
    ids=["short", "preamble", "version", "type", "ack-short", "header-short", "psdu-short",
         "psdu-too-long", "v1-psdu-short"],
)
def test_malformed_zep_names_field_and_offset(datagram: bytes, field: str, offset: int) -> None:
    with pytest.raises(DecodeError) as caught:
        zep_decode(datagram)
    assert (caught.value.layer, caught.value.field, caught.value.offset) == ("zep", field, offset)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_random_datagrams_decode_or_give_decode_error(datagram: bytes) -> None:
    try:
        decoded = zep_decode(datagram)
    except DecodeError:
        return
    assert decoded.kind in ("data", "ack")


@settings(max_examples=500, deadline=None)
@given(st.sampled_from([0, 1, 101, 108, 113, 195, 228, 229, 230, 276, 283]),
       st.binary(max_size=120))
def test_random_records_unwrap_or_give_decode_error(linktype: int, data: bytes) -> None:
    try:
        payload = han_payload(record(linktype, data))
    except DecodeError:
        return
    assert payload is None or isinstance(payload.psdu, bytes)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60))
def test_random_zep_datagrams_in_udp_unwrap_or_give_decode_error(datagram: bytes) -> None:
    packet = raw(ether() / IP() / udp(b"EX" + datagram))
    try:
        payload = han_payload(record(1, packet))
    except DecodeError:
        return
    assert payload is None or isinstance(payload.psdu, bytes)
