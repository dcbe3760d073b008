"""Captures in the formats real sniffers write, made here byte by byte: the format samples.

Each sample is a small capture of NWK-secured OTA frames and MAC ACKs as one kind of
sniffer writes them, with what every frame must decode to (``Expected``). The tests
(``test_sniffer_formats.py``) check ``hanota decode`` against those expectations and
against tshark; the differential harness (``test_wireshark_diff.py``) runs on every
sample. Where each format is documented:

- pcap: https://www.tcpdump.org/manpages/pcap-savefile.5.html (incl_len, orig_len);
- pcapng: https://github.com/IETF-OPSAWG-WG/draft-ietf-opsawg-pcap (the pcapng draft):
  Enhanced Packet Block (captured and original packet length), Simple Packet Block
  (original packet length; captured = min(original, the IDB's snaplen)), obsolete
  Packet Block (appendix);
- link types 195/230/283: https://www.tcpdump.org/linktypes.html;
- 802.15.4 TAP (283): https://github.com/jkcko/ieee802.15.4-tap (TLVs: FCS type 0,
  RSS 1, channel assignment 3, SOF/EOF timestamps 5/6, LQI 10, channel centre
  frequency 11);
- ZEP v1/v2: Wireshark's epan/dissectors/packet-zep.c (LQI/CRC mode byte: 1 = CRC, the
  frame ends with its FCS; 0 = LQI, it ends with CC24xx metadata);
- TI CC24xx/CC26xx packet-sniffer metadata in place of the FCS (RSSI byte, then CRC-OK
  bit 0x80 | 7-bit correlation): Wireshark's epan/dissectors/packet-ieee802154.c
  (``IEEE802154_CC24xx_CRC_OK``, preference ``wpan.fcs_format``).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from hanota.layers.capture import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IEEE802_15_4_NOFCS,
    LINKTYPE_IEEE802_15_4_TAP,
    LINKTYPE_IEEE802_15_4_WITHFCS,
    pcap_header,
    pcap_packet,
    pcapng_header,
    pcapng_interface,
    pcapng_packet,
    pcapng_section,
)
from hanota.layers.capture_zep import ZEP_PORT, zep_encode
from hanota.layers.codec import build_frame, crc16_kermit, mac_ack
from hanota.layers.security import KeyRing
from ota_frames import NETWORK_KEY_HEX, OTA_CASES, sample_frame
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw

KEYS = KeyRing.from_hex([NETWORK_KEY_HEX])
START = 1_700_000_000.0
CHANNEL = 15
# Ethernet addresses given, so scapy does not try to resolve them (slow, and no network).
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"
_CASES = [case for case in OTA_CASES if case[0] in (
    "notify_type3", "qni_request_hw", "qni_response_ok", "block_request", "block_response_ok",
    "block_response_wait", "end_request_ok", "end_response")]


def psdus() -> list[bytes]:
    """NWK-secured OTA frames, each followed by its MAC ACK: PSDUs with their FCS."""
    out = []
    for seq, (_, command, fields) in enumerate(_CASES, start=1):
        frame = sample_frame(command, fields, seq)
        out.append(build_frame(frame, KEYS))
        out.append(mac_ack(frame.mac.seq))
    return out


def body(psdu: bytes) -> bytes:
    return psdu[:-2]


def with_fcs(frame: bytes) -> bytes:
    return frame + crc16_kermit(frame).to_bytes(2, "little")


def bad_fcs(psdu: bytes) -> bytes:
    """The same frame with its FCS wrong (the content intact, so every layer decodes)."""
    return psdu[:-2] + bytes([psdu[-2] ^ 0x5A, psdu[-1]])


def cc24xx(frame: bytes, crc_ok: bool = True, rssi: int = -62, correlation: int = 105) -> bytes:
    """The frame followed by CC24xx metadata instead of its FCS."""
    return frame + bytes([rssi & 0xFF, (0x80 if crc_ok else 0) | correlation])


@dataclass
class Expected:
    """What one record must decode to: ``None`` for a record carrying no frame."""

    fcs_ok: bool | None = None  # as FrameRecord.fcs_ok
    truncated: bool = False  # flagged "truncated by the capture"
    decodes: bool = True  # every layer decodes (no error besides the flags)


@dataclass
class Sample:
    """One capture file: its name, bytes, what tshark must be told, what each frame is."""

    name: str
    data: bytes
    expected: dict[int, Expected | None]
    fcs_format: str = "auto"  # what ``hanota decode`` is given
    detected: str | None = None  # what auto detection must find (link type 195 only)
    tshark_options: list[str] = field(default_factory=list)

    def write(self, folder: Path) -> Path:
        path = folder / self.name
        path.write_bytes(self.data)
        return path


def _numbered(frames: list[tuple[bytes, Expected | None]]) -> dict[int, Expected | None]:
    return {number: expected for number, (_, expected) in enumerate(frames, start=1)}


def no_fcs_195() -> list[Sample]:
    """Link type 195 whose every record's captured length is its original length minus 2:
    the sniffer left the FCS out (the real capture of 38,350 frames that decoded to 0),
    as EPBs, obsolete Packet Blocks and classic pcap records."""
    frames = psdus()
    epb = pcapng_header(LINKTYPE_IEEE802_15_4_WITHFCS)
    pcap = pcap_header(LINKTYPE_IEEE802_15_4_WITHFCS)
    expected: dict[int, Expected | None] = {}
    for number, psdu in enumerate(frames, start=1):
        time = START + number * 0.01
        if number % 3 == 0:
            epb += _obsolete_packet(time, body(psdu), len(psdu))
        else:
            epb += pcapng_packet(time, body(psdu), original_length=len(psdu))
        pcap += pcap_packet(time, body(psdu), original_length=len(psdu))
        expected[number] = Expected(fcs_ok=None)
    return [Sample("no-fcs-195.pcapng", epb, expected, detected="crc16"),
            Sample("no-fcs-195.pcap", pcap, dict(expected), detected="crc16")]


def _obsolete_packet(time: float, data: bytes, original: int) -> bytes:
    """pcapng obsolete Packet Block (type 2): interface, drops, timestamp, lengths."""
    ticks = round(time * 1e6)
    body_ = struct.pack("<HHIIII", 0, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), original)
    body_ += data + b"\0" * (-len(data) % 4)
    return struct.pack("<II", 2, 12 + len(body_)) + body_ + struct.pack("<I", 12 + len(body_))


def _simple_packet(data: bytes, original: int) -> bytes:
    """pcapng Simple Packet Block (type 3): original length, then min(original, snaplen)
    bytes of data."""
    body_ = struct.pack("<I", original) + data + b"\0" * (-len(data) % 4)
    return struct.pack("<II", 3, 12 + len(body_)) + body_ + struct.pack("<I", 12 + len(body_))


def snaplen() -> list[Sample]:
    """Records a snapshot length cut: inside the FCS (a whole frame, no FCS), inside the
    MAC header, and (SPBs of an IDB with a snaplen) in the payload."""
    frames = psdus()
    pcap = pcap_header(LINKTYPE_IEEE802_15_4_WITHFCS)
    expected: dict[int, Expected | None] = {}
    for number, psdu in enumerate(frames, start=1):
        time = START + number * 0.01
        if number == 3:  # one FCS byte kept: the frame is whole, its FCS unknown
            pcap += pcap_packet(time, psdu[:-1], original_length=len(psdu))
            expected[number] = Expected(fcs_ok=None)
        elif number == 5:  # cut inside the MAC header: only the frame control decodes
            pcap += pcap_packet(time, psdu[:6], original_length=len(psdu))
            expected[number] = Expected(truncated=True, decodes=False)
        else:
            pcap += pcap_packet(time, psdu)
            expected[number] = Expected(fcs_ok=True)
    spb = pcapng_section() + pcapng_interface(LINKTYPE_IEEE802_15_4_WITHFCS, snaplen=24)
    spb_expected: dict[int, Expected | None] = {}
    for number, psdu in enumerate(frames[:4], start=1):
        spb += _simple_packet(psdu[:24], len(psdu))
        cut = len(psdu) > 24
        spb_expected[number] = Expected(fcs_ok=None if cut else True, truncated=cut,
                                        decodes=not cut)
    return [Sample("snaplen-195.pcap", pcap, expected, detected="crc16"),
            Sample("snaplen-spb.pcapng", spb, spb_expected, detected="crc16")]


def bad_fcs_195() -> Sample:
    """Link type 195 with CRC-16 FCSs, one of them wrong: flagged, still decoded."""
    data = pcapng_header(LINKTYPE_IEEE802_15_4_WITHFCS)
    expected: dict[int, Expected | None] = {}
    for number, psdu in enumerate(psdus(), start=1):
        bad = number in (3, 4)
        data += pcapng_packet(START + number * 0.01, bad_fcs(psdu) if bad else psdu)
        expected[number] = Expected(fcs_ok=not bad)
    return Sample("bad-fcs-195.pcapng", data, expected, detected="crc16")


def cc24xx_195() -> Sample:
    """A TI CC24xx/CC26xx packet sniffer's capture: link type 195, but RSSI and CRC-OK |
    correlation in place of the FCS; one frame has its CRC-OK bit clear."""
    data = pcapng_header(LINKTYPE_IEEE802_15_4_WITHFCS)
    expected: dict[int, Expected | None] = {}
    for number, psdu in enumerate(psdus(), start=1):
        ok = number != 5
        data += pcapng_packet(START + number * 0.01, cc24xx(body(psdu), ok, -40 - number))
        expected[number] = Expected(fcs_ok=ok)
    return Sample("cc24xx-195.pcapng", data, expected, detected="cc24xx",
                  tshark_options=["-o", "wpan.fcs_format:TI CC24xx metadata"])


def _tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("<HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def _tap(fcs_type: int | None, number: int) -> bytes:
    """A TAP header with the FCS type and the TLVs sniffers add: RSS, channel, LQI, the
    channel centre frequency, SOF/EOF timestamps and one TLV type unknown to all."""
    tlvs = b"" if fcs_type is None else _tlv(0, bytes([fcs_type]))
    tlvs += _tlv(1, struct.pack("<f", -55.5 - number))
    tlvs += _tlv(3, struct.pack("<HB", CHANNEL, 0))
    tlvs += _tlv(10, bytes([200 - number]))
    tlvs += _tlv(11, struct.pack("<f", 2_425_000.0))
    tlvs += _tlv(5, struct.pack("<Q", 1_000_000 * number))
    tlvs += _tlv(6, struct.pack("<Q", 1_000_000 * number + 4_000))
    tlvs += _tlv(0x7F00, b"\x01\x02\x03")
    return struct.pack("<BBH", 0, 0, 4 + len(tlvs)) + tlvs


def tap() -> Sample:
    """802.15.4 TAP: 16-bit FCS (one wrong), no FCS (with and without the TLV), 32-bit FCS."""
    data = pcapng_header(LINKTYPE_IEEE802_15_4_TAP)
    expected: dict[int, Expected | None] = {}
    for number, psdu in enumerate(psdus(), start=1):
        kind = number % 4
        if kind == 1:
            frame, fcs_ok = (bad_fcs(psdu), False) if number == 5 else (psdu, True)
            record = _tap(1, number) + frame
        elif kind == 2:
            record, fcs_ok = _tap(0, number) + body(psdu), None
        elif kind == 3:
            record, fcs_ok = _tap(None, number) + body(psdu), None
        else:
            record = _tap(2, number) + body(psdu) + zlib.crc32(body(psdu)).to_bytes(4, "little")
            fcs_ok = True
        data += pcapng_packet(START + number * 0.01, record)
        expected[number] = Expected(fcs_ok=fcs_ok)
    return Sample("tap-283.pcapng", data, expected)


def _zep_record(datagram: bytes) -> bytes:
    udp = UDP(sport=ZEP_PORT, dport=ZEP_PORT)
    return raw(Ether(src=MAC_A, dst=MAC_B) / IP(src="192.0.2.1", dst="192.0.2.2") / udp
               / datagram)


def _zep_v1(psdu: bytes, crc_mode: bool, lqi: int) -> bytes:
    """ZEP v1: preamble, version 1, channel, device id, CRC/LQI mode, LQI, 7 reserved,
    length (packet-zep.c)."""
    return struct.pack(">2sBBHBB7xB", b"EX", 1, CHANNEL, 7, int(crc_mode), lqi, len(psdu)) + psdu


def zep() -> list[Sample]:
    """ZEP v2 (and v1) in LQI mode (CC24xx metadata, one CRC-OK bit clear) and in CRC
    mode (one FCS wrong), over Ethernet/IPv4/UDP."""
    lqi_data = pcapng_header(LINKTYPE_ETHERNET)
    crc_data = pcapng_header(LINKTYPE_ETHERNET)
    lqi_expected: dict[int, Expected | None] = {}
    crc_expected: dict[int, Expected | None] = {}
    for number, psdu in enumerate(psdus(), start=1):
        time = START + number * 0.01
        ok = number != 3
        trailer_frame = cc24xx(body(psdu), ok, -50 - number)
        crc_frame = psdu if number != 4 else bad_fcs(psdu)
        if number % 5 == 0:
            lqi_datagram = _zep_v1(trailer_frame, False, 180)
            crc_datagram = _zep_v1(crc_frame, True, 180)
        else:
            lqi_datagram = zep_encode(trailer_frame, CHANNEL, number, time, 180, crc_mode=False)
            crc_datagram = zep_encode(crc_frame, CHANNEL, number, time, 180)
        lqi_data += pcapng_packet(time, _zep_record(lqi_datagram))
        crc_data += pcapng_packet(time, _zep_record(crc_datagram))
        lqi_expected[number] = Expected(fcs_ok=ok)
        crc_expected[number] = Expected(fcs_ok=number != 4)
    return [Sample("zep-lqi-mode.pcapng", lqi_data, lqi_expected),
            Sample("zep-crc-mode.pcapng", crc_data, crc_expected)]


def no_fcs_230() -> Sample:
    """Link type 230: the PSDU without FCS, as sniffers that check the FCS in hardware
    write it."""
    data = pcap_header(LINKTYPE_IEEE802_15_4_NOFCS)
    expected: dict[int, Expected | None] = {}
    for number, psdu in enumerate(psdus(), start=1):
        data += pcap_packet(START + number * 0.01, body(psdu))
        expected[number] = Expected(fcs_ok=None)
    return Sample("no-fcs-230.pcap", data, expected)


def frames_cut_in_payload() -> Sample:
    """A snapshot length cutting secured frames inside their NWK payload: tshark and
    ``hanota`` both keep the MAC and NWK headers decoded below the cut."""
    data = pcap_header(LINKTYPE_IEEE802_15_4_WITHFCS, snaplen=40)
    expected: dict[int, Expected | None] = {}
    for number, psdu in enumerate(psdus()[:4], start=1):
        cut = len(psdu) > 40
        data += pcap_packet(START + number, psdu[:40], original_length=len(psdu))
        expected[number] = Expected(fcs_ok=None if cut else True, truncated=cut, decodes=not cut)
    return Sample("cut-in-payload-195.pcap", data, expected, detected="crc16")


def samples() -> list[Sample]:
    """Every format sample."""
    return [*no_fcs_195(), *snaplen(), bad_fcs_195(), cc24xx_195(), tap(), *zep(),
            no_fcs_230(), frames_cut_in_payload()]
