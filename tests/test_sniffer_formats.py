"""What real sniffers write, decoded: records without FCS, cut by a snapshot length, with a
bad FCS, TI CC24xx metadata, 802.15.4 TAP, ZEP in LQI and CRC mode.

The samples come from ``sniffer_samples.py`` (which names where each format is
documented). Each is checked twice: against what its frames are (``Expected``), and
against tshark, the oracle: the same records carry a frame, tshark finds the same FCS
verdict (run with the FCS convention ``hanota`` detected: ``wpan.fcs_format``), the same
lengths when the capture cut a frame, and the same addresses. A flag never drops a frame:
a bad FCS or a cut frame is in the output, decoded as far as it goes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hanota.layers.capture import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IEEE802_15_4_TAP,
    LINKTYPE_IEEE802_15_4_WITHFCS,
    CaptureParser,
    CaptureRecord,
    pcapng_interface,
    pcapng_packet,
    pcapng_section,
)
from hanota.layers.capture_unwrap import (
    FCS_CC24XX,
    FCS_CRC16,
    FcsFormatDetector,
    han_payload,
)
from hanota.layers.model import FrameRecord
from hanota.targets.live_sources import FrameDecoder, LiveStats
from hanota.targets.pcap import DecodeTally, decode_record, decode_records, read_capture
from sniffer_samples import (
    KEYS,
    Sample,
    bad_fcs,
    body,
    cc24xx,
    psdus,
    samples,
)

from bench.wireshark_diff import tshark_options

SAMPLES = {sample.name: sample for sample in samples()}
NETWORK_KEY_HEX = KEYS.network_keys[0].hex()


def decoded(sample: Sample, folder: Path) -> tuple[list[FrameRecord], DecodeTally]:
    tally = DecodeTally()
    frames = list(read_capture(sample.write(folder), KEYS, tally, sample.fcs_format))
    return frames, tally


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_frame_of_every_sample_decodes_as_it_is(name: str, tmp_path: Path) -> None:
    sample = SAMPLES[name]
    frames, tally = decoded(sample, tmp_path)
    assert [f.number for f in frames] == [n for n, e in sample.expected.items() if e]
    for frame in frames:
        expected = sample.expected[frame.number]
        assert expected is not None
        assert frame.fcs_ok is expected.fcs_ok, frame.number
        assert (frame.original_length is not None) is expected.truncated, frame.number
        flags = (frame.error or "").split("; ")
        if expected.truncated:
            assert f"truncated by the capture ({len(frame.raw)} of {frame.original_length} " \
                   "bytes)" in flags[0]
        if expected.fcs_ok is False:
            assert "bad FCS" in flags[0]
        if expected.decodes:  # every layer decoded, flagged or not
            assert frame.han is not None, frame.error
            assert frame.han.zcl is not None or frame.han.mac.frame_type == 2
            assert len(flags) == 1 and (frame.error is None or "bad FCS" in frame.error)
        else:
            assert frame.error is not None and len(flags) == 2  # the flag, then why
    if sample.detected:
        assert tally.fcs_format == sample.detected
        assert f"FCS format: {sample.detected}" in tally.fcs_note or "leave their FCS out" \
            in tally.fcs_note


def _tshark(sample: Sample, path: Path) -> dict[int, dict[str, str]]:
    fields = ("frame.number", "frame.len", "frame.cap_len", "frame.protocols", "wpan.fcs_ok",
              "wpan.src16", "wpan.dst16", "zbee_nwk.src", "zbee_nwk.dst")
    options = tshark_options(KEYS.network_keys, sample.detected or FCS_CRC16)
    command = ["tshark", "-n", "-r", str(path), *options, "-T", "fields", "-E",
               "separator=|", "-E", "occurrence=f"]
    for name in fields:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    rows = [dict(zip(fields, line.split("|"), strict=True))
            for line in result.stdout.splitlines()]
    return {int(row["frame.number"]): row for row in rows
            if "wpan" in row["frame.protocols"].split(":")
            or "wpan-tap" in row["frame.protocols"].split(":")}


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("name", list(SAMPLES))
def test_tshark_reads_every_sample_the_same_way(name: str, tmp_path: Path) -> None:
    sample = SAMPLES[name]
    theirs = _tshark(sample, sample.write(tmp_path))
    frames, _ = decoded(sample, tmp_path)
    assert sorted(theirs) == [f.number for f in frames]  # frame present, none dropped
    for frame in frames:
        shown = theirs[frame.number]
        assert (shown["wpan.fcs_ok"] == "0") is (frame.fcs_ok is False), frame.number
        if frame.original_length is not None:  # cut by the capture: the same lengths
            assert (int(shown["frame.cap_len"]), int(shown["frame.len"])) == \
                (len(frame.raw), frame.original_length)
        if frame.han is None:
            continue
        mac, nwk = frame.han.mac, frame.han.nwk
        for field, value in (("wpan.src16", mac.src16), ("wpan.dst16", mac.dst16),
                             ("zbee_nwk.src", nwk.src16 if nwk else None),
                             ("zbee_nwk.dst", nwk.dst16 if nwk else None)):
            assert (int(shown[field], 16) if shown[field] else None) == value, \
                (frame.number, field)


def test_the_fcs_format_is_decided_once_from_the_first_frames() -> None:
    frames = psdus()
    crc = FcsFormatDetector()
    assert crc.observe(CaptureRecord(1, 0.0, 195, frames[0]))
    assert (crc.format, crc.reason) == (FCS_CRC16, "auto: frame 1 passes CRC-16")
    trailer = FcsFormatDetector()
    records = [CaptureRecord(n, 0.0, 195, cc24xx(body(p), n != 3))
               for n, p in enumerate(frames, start=1)]
    decided = [trailer.observe(record) for record in records]
    assert decided.index(True) == FcsFormatDetector.PROBES - 1
    assert trailer.format == FCS_CC24XX
    # Corrupted CRC-16 frames whose last byte happens to look like a CRC-OK bit must not
    # turn a capture into CC24xx: half the bits set keeps CRC-16 (and flags every frame).
    noisy = FcsFormatDetector()
    for n, psdu in enumerate(frames[:8], start=1):
        noisy.observe(CaptureRecord(n, 0.0, 195, psdu[:-1] + bytes([0x80 * (n % 2)])))
    assert noisy.format == FCS_CRC16 and "only 4 have the CC24xx CRC-OK bit" in noisy.reason
    # Records of other link types decide nothing; the decision then comes after a bounded
    # number of records, so nothing waits for ever.
    other = FcsFormatDetector()
    seen = [other.observe(CaptureRecord(n, 0.0, 1, b"x")) for n in range(1, 100)]
    assert seen.index(True) == FcsFormatDetector.HELD_MAX - 1 and other.description == ""
    lonely = FcsFormatDetector()  # one corrupted frame whose last byte has bit 7 set
    lonely.observe(CaptureRecord(1, 0.0, 195, frames[0][:-1] + b"\xff"))
    assert lonely.finish() == FCS_CRC16
    given = FcsFormatDetector(FCS_CC24XX)
    assert given.decided and given.description.endswith("(given)")
    with pytest.raises(ValueError, match="one of auto, crc16, cc24xx, none"):
        FcsFormatDetector("crc32")


def test_a_known_ack_is_read_under_the_convention_of_its_capture() -> None:
    """The hot path that reuses a whole MAC ACK's decoding must not leak across FCS
    conventions or into a record cut short."""
    ack = psdus()[1]
    good = decode_record(CaptureRecord(1, 0.0, 195, ack), KEYS, FCS_CRC16)
    again = decode_record(CaptureRecord(2, 0.0, 195, ack), KEYS, FCS_CRC16)
    assert good is not None and again is not None and again.han is good.han
    assert again.fcs_ok is True and again.raw == ack
    trailer = decode_record(CaptureRecord(3, 0.0, 195, ack), KEYS, FCS_CC24XX)
    assert trailer is not None and trailer.raw == ack[:3] and trailer.fcs is False
    assert trailer.fcs_ok is bool(ack[-1] & 0x80)
    cut = decode_record(CaptureRecord(4, 0.0, 195, ack, 0, 9), KEYS, FCS_CRC16)
    assert cut is not None and cut.original_length == 9 and "truncated" in (cut.error or "")


def test_decoding_holds_records_only_until_the_format_is_decided() -> None:
    consumed = []

    def records():
        for n, psdu in enumerate(psdus() * 10, start=1):
            consumed.append(n)
            yield CaptureRecord(n, 0.0, 195, psdu)

    frames = decode_records(records(), KEYS)
    first = next(frames)
    assert first.number == 1 and consumed == [1]  # a CRC-16 capture: no wait at all


def test_a_frame_with_a_wrong_format_is_flagged_not_lost(tmp_path: Path) -> None:
    """Forcing CRC-16 on a CC24xx capture flags every frame's FCS; forcing CC24xx on a
    CRC-16 capture reads each FCS as metadata: neither drops a frame, both keep headers."""
    sample = SAMPLES["cc24xx-195.pcapng"]
    path = sample.write(tmp_path)
    forced = list(read_capture(path, KEYS, fcs_format=FCS_CRC16))
    assert len(forced) == len(sample.expected)
    assert all(f.fcs_ok is False and "bad FCS" in (f.error or "") for f in forced)
    assert all(f.han is not None and f.han.mac is not None for f in forced)


def test_the_live_pipe_decides_the_format_the_same_way() -> None:
    class Sink:
        def __init__(self) -> None:
            self.frames: list[FrameRecord] = []

        def add(self, frame: FrameRecord) -> None:
            self.frames.append(frame)

        def end(self, reason: str) -> None:
            self.reason = reason

    sample = SAMPLES["cc24xx-195.pcapng"]
    parser = CaptureParser()
    records = parser.feed(sample.data)
    sink = Sink()
    decoder = FrameDecoder(sink, KEYS, LiveStats())
    for record in records[:5]:  # fewer than the probes: held until the stream ends
        decoder.records([record])
    assert sink.frames == []
    decoder.end("stream closed")
    assert [f.fcs_ok for f in sink.frames] == [True, True, True, True, False]
    assert all(f.han is not None for f in sink.frames)


def test_original_lengths_are_kept_from_every_record_kind(tmp_path: Path) -> None:
    sample = SAMPLES["no-fcs-195.pcapng"]  # EPBs and obsolete Packet Blocks
    parser = CaptureParser()
    records = parser.feed(sample.data)
    assert all(r.original_length == len(r.data) + 2 for r in records)
    spb = CaptureParser().feed(SAMPLES["snaplen-spb.pcapng"].data)
    assert [(len(r.data), r.original_length) for r in spb] == [
        (min(len(p), 24), len(p)) for p in psdus()[:4]]
    pcap = CaptureParser().feed(SAMPLES["snaplen-195.pcap"].data)
    assert (len(pcap[4].data), pcap[4].original_length) == (6, len(psdus()[4]))


def test_tap_tlvs_give_channel_signal_and_frequency_and_skip_the_others() -> None:
    records = CaptureParser().feed(SAMPLES["tap-283.pcapng"].data)
    payload = han_payload(records[0])
    assert payload is not None
    assert (payload.channel, payload.lqi, payload.rssi, payload.frequency) == (
        15, 199, -56.5, 2_425_000.0)
    assert payload.fcs_ok is True and payload.psdu == psdus()[0]


def test_zep_lqi_mode_keeps_the_zep_lqi_and_the_metadata_rssi() -> None:
    records = CaptureParser().feed(SAMPLES["zep-lqi-mode.pcapng"].data)
    first, bad = han_payload(records[0]), han_payload(records[2])
    assert first is not None and bad is not None
    assert (first.lqi, first.rssi, first.fcs_ok, first.fcs) == (180, -51.0, True, False)
    assert bad.fcs_ok is False and bad.psdu == body(psdus()[2])


def test_the_command_states_what_it_detected_and_obeys_the_option(tmp_path: Path) -> None:
    path = SAMPLES["cc24xx-195.pcapng"].write(tmp_path)
    decode = [sys.executable, "-m", "hanota.cli", "decode", str(path), "--key", NETWORK_KEY_HEX]
    auto = subprocess.run(decode, capture_output=True, text=True, check=True)
    assert "link type 195 FCS format: cc24xx (auto: none of the first 8" in auto.stderr
    assert "16 frames, 1 not decoded" in auto.stderr
    assert "FLAGGED: frame 5: mac.fcs at offset" in auto.stdout
    forced = subprocess.run([*decode, "--fcs-format", "crc16"], capture_output=True,
                            text=True, check=True)
    assert "16 frames, 16 not decoded" in forced.stderr and "(given)" in forced.stderr
    assert forced.stdout.count("FLAGGED") == 16


def test_a_capture_of_ethernet_and_195_interfaces_decides_on_the_195_frames(
    tmp_path: Path,
) -> None:
    """Several interfaces: the 195 frames decide, the others are unaffected."""
    data = pcapng_section() + pcapng_interface(LINKTYPE_ETHERNET)
    data += pcapng_interface(LINKTYPE_IEEE802_15_4_WITHFCS)
    data += pcapng_interface(LINKTYPE_IEEE802_15_4_TAP)
    for n, psdu in enumerate(psdus()[:6], start=1):
        data += pcapng_packet(n, b"\0" * 20, 0)
        data += pcapng_packet(n, bad_fcs(psdu) if n == 2 else psdu, 1)
    path = tmp_path / "mixed.pcapng"
    path.write_bytes(data)
    tally = DecodeTally()
    frames = list(read_capture(path, KEYS, tally))
    assert tally.fcs_format == FCS_CRC16 and len(frames) == 6
    assert [f.fcs_ok for f in frames] == [True, False, True, True, True, True]
