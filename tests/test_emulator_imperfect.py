"""The imperfect HAN and sniffer knobs (hanota.emulators.knobs), judged on the capture's bytes.

Each knob is checked where a test house would see it: the records of the capture (which
frames, how long, which link type), the decoded MAC/NWK/APS headers of each hop, and
the ZCL exchanges. Knobs off, the capture is the one of the knob-free emulator.
"""

from __future__ import annotations

import io
import itertools
import struct
from collections import Counter
from functools import cache
from importlib import resources
from pathlib import Path

import pytest
from air_trace import Trace, read_trace, received_files
from hanota.dut.description import Dut, load_dut, parse_dut
from hanota.dut.images import ota_files
from hanota.dut.situations import SITUATIONS
from hanota.emulators import EmulationResult, HanOptions, SnifferOptions, emulate
from hanota.emulators.air import BACKOFF_S, MAX_BACKOFF_EXPONENT
from hanota.emulators.knobs import FCS_NONE, FCS_STRIPPED, VARIANTS, variant_names
from hanota.emulators.routing import UNLISTED_REPEATER_EUI64
from hanota.emulators.station import APS_SECURITY_OVERHEAD, DEVICE_ANNCE, NWK_BROADCAST_RX_ON
from hanota.layers import ota
from hanota.layers.capture import (
    LINKTYPE_IEEE802_15_4_NOFCS,
    LINKTYPE_IEEE802_15_4_WITHFCS,
    CaptureParser,
    pcapng_packet,
)
from hanota.layers.codec import build_frame, crc16_kermit, parse_frame, plaintext_frame
from hanota.layers.gbcs import decode_gbcs
from hanota.layers.gbcs_payloads import Cs08Alert
from hanota.layers.model import Aps, FrameRecord, HanFrame, Mac, Nwk, Security
from hanota.layers.security import KeyRing, eui64_from_air
from hanota.selftest.suite import run_suite
from hanota.targets.pcap import capture_records, decode_records

SITUATION_OF = {s.exchange: s for s in SITUATIONS}

DUT = load_dut()
KEYS = KeyRing((DUT.network_key,), DUT.link_keys)
PPMID, HCALCS, CHF = DUT.nodes["ppmid"], DUT.nodes["hcalcs"], DUT.chf
IMAGE = DUT.images["ppmid"]
PCAPNG_EPB = 6
SMALL_DUT = Path(__file__).resolve().parents[1] / "pcaps" / "dut.toml"


def _with_router() -> Dut:
    text = resources.files("hanota.dut").joinpath("default_dut.toml").read_text()
    return parse_dut(text + '\n[nodes.mains-repeater]\nkind = "router"\n'
                     'eui64 = "00DB1234567890C1"\nshort = 0x5C01\n')


@cache
def run(scenario: str, variants: str = "", sniffer: SnifferOptions | None = None,
        seed: int = 0, listed_router: bool = False) -> tuple[EmulationResult, bytes]:
    capture = io.BytesIO()
    dut = _with_router() if listed_router else DUT
    result = emulate(dut, scenario, capture, seed=seed, sniffer=sniffer,
                     options=HanOptions(variants=variant_names([variants])))
    return result, capture.getvalue()


def frames(capture: bytes, keys: KeyRing = KEYS) -> list[FrameRecord]:
    return list(decode_records(capture_records(io.BytesIO(capture)), keys))


def trace(capture: bytes) -> Trace:
    return read_trace(capture, DUT)


def epbs(capture: bytes) -> list[tuple[int, int, bytes]]:
    """(captured length, original length, data) of every Enhanced Packet Block."""
    blocks, position = [], 0
    while position < len(capture):
        kind, length = struct.unpack_from("<II", capture, position)
        if kind == PCAPNG_EPB:
            captured, original = struct.unpack_from("<II", capture, position + 20)
            blocks.append((captured, original, capture[position + 28:position + 28 + captured]))
        position += length
    return blocks


def linktype(capture: bytes) -> int:
    parser = CaptureParser()
    return parser.feed(capture)[0].linktype


def zcl_frames(records: list[FrameRecord], command: str) -> list[FrameRecord]:
    return [r for r in records if r.han is not None and r.han.zcl is not None
            and r.han.zcl.command == command]


def alerts(result: EmulationResult) -> list[Cs08Alert]:
    return [p for p in (decode_gbcs(m.data).payload for m in result.wan)
            if isinstance(p, Cs08Alert)]


def upgraded(result: EmulationResult, version: int = IMAGE.file_version) -> bool:
    return [(a.activate_image, int.from_bytes(a.firmware_version, "big"))
            for a in alerts(result)] == [(0, version)]


# ---- layer hooks -----------------------------------------------------------------------


def test_pcapng_packet_can_say_the_frame_was_longer_than_captured() -> None:
    block = pcapng_packet(1.0, b"abc", original_length=5)
    assert struct.unpack_from("<II", block, 20) == (3, 5)
    assert struct.unpack_from("<II", pcapng_packet(1.0, b"abc"), 20) == (3, 3)


def test_build_frame_carries_a_raw_aps_payload_without_zcl() -> None:
    frame = HanFrame(Mac(1, 7, DUT.pan_id, 0xFFFF, 0x1234, False),
                     Nwk(0xFFFD, 0x1234, 9, 30, 0, None, PPMID.eui64,
                         Security(1, 42, PPMID.eui64, 0)),
                     Aps(DEVICE_ANNCE, 0, 0, 0, 3))
    raw = build_frame(frame, KEYS, payload=b"\x01\x34\x12" + bytes(8) + b"\x8e")
    parsed = parse_frame(raw, KEYS)
    assert parsed.aps is not None and parsed.aps.cluster == DEVICE_ANNCE
    assert plaintext_frame(raw, KEYS)[-14:-2] == b"\x01\x34\x12" + bytes(8) + b"\x8e"


# ---- knobs off: the knob-free capture ----------------------------------------------------


def test_knobs_off_give_the_knob_free_capture() -> None:
    plain = io.BytesIO()
    emulate(DUT, "upgrade", plain)
    assert run("upgrade", "", SnifferOptions())[1] == plain.getvalue()
    assert run("upgrade")[1] == plain.getvalue()


def test_unknown_knobs_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown HAN variant"):
        HanOptions(variants=frozenset({"teleport"}))
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        SnifferOptions(miss=1.5)
    with pytest.raises(ValueError, match="fcs"):
        SnifferOptions(fcs="maybe")
    with pytest.raises(ValueError, match="empty"):
        SnifferOptions(start_s=10, stop_s=5)
    assert variant_names(["routed,rejoin", " page-request "]) == {"routed", "rejoin",
                                                                   "page-request"}
    assert set(VARIANTS) >= {"routed", "rejoin", "self-scheduled", "broadcast-notify",
                             "page-request", "aps-encrypted"}


# ---- the sniffer ------------------------------------------------------------------------


def test_a_missing_sniffer_records_a_subset_and_the_han_is_unchanged() -> None:
    perfect_result, perfect = run("upgrade")
    result, missing = run("upgrade", "", SnifferOptions(miss=0.05))
    kept, every = epbs(missing), epbs(perfect)
    assert 0.92 * len(every) < len(kept) < 0.98 * len(every)
    assert result.captured == len(kept)
    everything = iter(every)
    assert all(block in everything for block in kept)  # in order, byte for byte
    assert result.frames == perfect_result.frames
    assert [m.time for m in result.wan] == [m.time for m in perfect_result.wan]


def test_the_sniffer_has_its_own_seed() -> None:
    first = run("upgrade", "", SnifferOptions(miss=0.05, seed=1))
    second = run("upgrade", "", SnifferOptions(miss=0.05, seed=2))
    assert first[1] != second[1]
    assert first[0].frames == second[0].frames


def test_corrupted_frames_keep_their_record_with_a_bad_fcs() -> None:
    result, capture = run("upgrade", "", SnifferOptions(corrupt=0.02))
    records = frames(capture)
    assert len(records) == len(epbs(run("upgrade")[1])) == result.captured
    bad_fcs = [r for r in records if r.error is not None and "mac.fcs" in r.error]
    assert 0.01 * len(records) < len(bad_fcs) < 0.03 * len(records)


def test_fcs_stripped_under_link_type_195_records_two_bytes_less_than_the_frame() -> None:
    _, capture = run("upgrade", "", SnifferOptions(fcs=FCS_STRIPPED))
    perfect = epbs(run("upgrade")[1])
    stripped = epbs(capture)
    assert linktype(capture) == LINKTYPE_IEEE802_15_4_WITHFCS
    assert len(stripped) == len(perfect)
    for (captured, original, data), (_, _, whole) in zip(stripped, perfect, strict=True):
        assert captured == original - 2 == len(whole) - 2
        assert data == whole[:-2]


def test_fcs_none_writes_link_type_230_that_decodes() -> None:
    _, capture = run("upgrade", "", SnifferOptions(fcs=FCS_NONE))
    assert linktype(capture) == LINKTYPE_IEEE802_15_4_NOFCS
    records = frames(capture)
    assert all(captured == original for captured, original, _ in epbs(capture))
    assert not [r for r in records if r.error]
    assert trace(capture).events == trace(run("upgrade")[1]).events


def test_late_start_and_early_stop_cut_the_capture_mid_exchange() -> None:
    _, capture = run("upgrade", "", SnifferOptions(start_s=60.0, stop_s=120.0))
    records = frames(capture)
    start = records[0].time - 1767225600.0
    assert 60.0 <= start < 61.0 and records[-1].time - 1767225600.0 <= 120.0
    events = trace(capture)
    assert not events.of("image_notify") and not events.of("upgrade_end_request")
    assert events.of("image_block_request", src="ppmid")


def test_on_frame_gets_what_the_sniffer_heard() -> None:
    heard: list[bytes] = []
    capture = io.BytesIO()
    result = emulate(DUT, "read-version", capture, sniffer=SnifferOptions(miss=0.3),
                     on_frame=lambda _, psdu: heard.append(psdu))
    assert [data for _, _, data in epbs(capture.getvalue())] == heard
    assert len(heard) == result.captured < result.frames


# ---- routed -----------------------------------------------------------------------------


def _hops(records: list[FrameRecord], command: str) -> dict[tuple, list[HanFrame]]:
    """Every copy of each ``command`` frame on the air, by NWK source and sequence and
    what it says (the NWK sequence number alone wraps every 256 frames)."""
    copies: dict[tuple, list[HanFrame]] = {}
    for record in zcl_frames(records, command):
        han = record.han
        assert han is not None and han.nwk is not None and han.zcl is not None
        key = (han.nwk.src16, han.nwk.seq, han.zcl.seq, repr(han.zcl.fields))
        copies.setdefault(key, []).append(han)
    return copies


def test_routed_nwk_security_is_per_hop_and_the_nwk_header_is_the_originators() -> None:
    result, capture = run("two-devices", "routed")
    records = frames(capture)
    assert not [r for r in records if r.error]
    hop_eui64 = {PPMID.short: PPMID.eui64, CHF.short: CHF.eui64, HCALCS.short: HCALCS.eui64,
                 0x7E01: UNLISTED_REPEATER_EUI64}
    for command, source, expected_hops in (("image_block_request", PPMID, 2),
                                           ("image_block_request", HCALCS, 3),
                                           ("image_block_response", CHF, 2)):
        for (src16, *_), copies in _hops(records, command).items():
            if src16 != source.short or len(copies) != expected_hops:
                continue
            radii = [copy.nwk.radius for copy in copies]  # type: ignore[union-attr]
            assert radii == list(range(radii[0], radii[0] - expected_hops, -1))
            assert len({copy.nwk.dst16 for copy in copies}) == 1  # type: ignore[union-attr]
            for copy in copies:
                mac, nwk = copy.mac, copy.nwk
                assert nwk is not None and nwk.security is not None and mac.src16 is not None
                assert nwk.security.source64 == hop_eui64[mac.src16]  # the hop secures it
                assert nwk.src64 in (None, source.eui64)
            counters = {copy.nwk.security.frame_counter  # type: ignore[union-attr]
                        for copy in copies}
            assert len(counters) == expected_hops  # each hop its own frame counter
            break
        else:
            pytest.fail(f"no {command} from {source.name} seen over {expected_hops} hops")
    assert len(alerts(result)) == 2


def test_routed_frames_carry_the_originators_eui64_on_some_frames_only() -> None:
    records = frames(run("upgrade", "routed")[1])
    originated = [r.han for r in zcl_frames(records, "image_block_request")
                  if r.han.mac.src16 == PPMID.short]  # type: ignore[union-attr]
    with_src64 = [h for h in originated if h.nwk.src64 is not None]  # type: ignore[union-attr]
    assert 0.3 * len(originated) < len(with_src64) < 0.7 * len(originated)
    assert {h.nwk.src64 for h in with_src64} == {PPMID.eui64}  # type: ignore[union-attr]


def test_routed_uses_a_listed_router_or_an_unlisted_repeater() -> None:
    for listed, eui64 in ((False, UNLISTED_REPEATER_EUI64), (True, "00DB1234567890C1")):
        result, capture = run("upgrade", "routed", listed_router=listed)
        securing = Counter(r.han.nwk.security.source64 for r in frames(capture)  # type: ignore[union-attr]
                           if r.han is not None and r.han.nwk is not None)
        assert securing[eui64] > 1000  # the repeater relays both ways
        assert upgraded(result)


def test_routed_blocks_fit_the_extended_source() -> None:
    result, capture = run("upgrade", "routed")
    sizes = {len(r.han.zcl.fields.get("data", b""))  # type: ignore[union-attr]
             for r in zcl_frames(frames(capture), "image_block_response")}
    assert max(sizes) == 56
    assert received_files(trace(capture), "ppmid") == ota_files(DUT, "ppmid")
    assert upgraded(result)


def test_routed_broadcast_is_repeated_by_the_routers() -> None:
    records = frames(run("upgrade", "routed,broadcast-notify")[1])
    notifies = zcl_frames(records, "image_notify")
    senders = {r.han.mac.src16 for r in notifies}  # type: ignore[union-attr]
    assert senders >= {CHF.short, 0x7E01, PPMID.short}
    assert {r.han.nwk.src16 for r in notifies} == {CHF.short}  # type: ignore[union-attr]


# ---- rejoin and reset -------------------------------------------------------------------


def _annces(records: list[FrameRecord]) -> list[tuple[FrameRecord, int, str]]:
    """(record, NWK address announced, IEEE address announced) of every Device_annce."""
    found = []
    for record in records:
        han = record.han
        if han is None or han.aps is None or han.aps.cluster != DEVICE_ANNCE:
            continue
        assert han.aps.dst_ep == 0 and han.aps.profile == 0
        assert han.nwk is not None and han.nwk.dst16 == NWK_BROADCAST_RX_ON
        payload = plaintext_frame(record.raw, KEYS)[-14:-2]
        found.append((record, int.from_bytes(payload[1:3], "little"),
                      eui64_from_air(payload[3:11])))
    return found


def test_rejoin_announces_a_new_short_address_queries_and_resumes() -> None:
    result, capture = run("upgrade", "rejoin")
    records = frames(capture)
    ((annce, new_short, ieee),) = _annces(records)
    assert ieee == PPMID.eui64 and new_short != PPMID.short
    assert annce.han.nwk.src16 == new_short  # type: ignore[union-attr]
    requests = [r for r in zcl_frames(records, "image_block_request")]
    before = [r.han.zcl.fields["file_offset"] for r in requests  # type: ignore[union-attr]
              if r.number < annce.number]
    after = [r for r in records if r.number > annce.number and r.han is not None
             and r.han.zcl is not None and r.han.nwk.src16 == new_short]  # type: ignore[union-attr]
    assert after[0].han.zcl.command == "query_next_image_request"  # type: ignore[union-attr]
    offsets = [r.han.zcl.fields["file_offset"] for r in after  # type: ignore[union-attr]
               if r.han.zcl.command == "image_block_request"]  # type: ignore[union-attr]
    assert 0 < offsets[0] <= max(before) + 64  # resumed from FileOffset, not from 0
    answers = [r for r in zcl_frames(records, "image_block_response") if r.number > annce.number]
    assert {r.han.nwk.dst16 for r in answers} == {new_short}  # type: ignore[union-attr]
    assert upgraded(result)


def test_a_reset_without_rejoin_queries_again_after_the_restart() -> None:
    result, capture = run("upgrade-lossy")
    events = trace(capture)
    queries = list({q.seq: q for q in events.of("query_next_image_request",
                                                src="ppmid")}.values())  # retries once
    blocks = events.of("image_block_request", src="ppmid")
    assert len(queries) == 2 and not _annces(frames(capture))
    gap_end = next(b.time for a, b in itertools.pairwise(blocks)
                   if b.time - a.time > 5)
    assert gap_end - 2 < queries[1].time < gap_end  # the new query ends the silence
    resumed = next(b for b in blocks if b.time > queries[1].time)
    assert resumed.fields["file_offset"] > 0
    assert upgraded(result)


def test_rejoin_after_the_lossy_reset() -> None:
    result, capture = run("upgrade-lossy", "rejoin")
    assert len(_annces(frames(capture))) == 1
    assert upgraded(result)


# ---- self-scheduled, broadcast notify, pages, APS security ------------------------------


def test_self_scheduled_queries_before_the_image_and_after_the_upgrade_get_no_image() -> None:
    result, capture = run("upgrade", "self-scheduled")
    events = trace(capture)
    notify = events.of("image_notify", dst="ppmid")[0]
    end = events.of("upgrade_end_response", dst="ppmid")[0]
    answers = {e.seq: e.fields["status"] for e in events.of("query_next_image_response",
                                                            dst="ppmid")}
    queries = events.of("query_next_image_request", src="ppmid")
    early = [q for q in queries if q.time < notify.time]
    late = [q for q in queries if q.time > end.time]
    assert early and {answers[q.seq] for q in early} == {ota.NO_IMAGE_AVAILABLE}
    assert late and {q.fields["file_version"] for q in late} == {IMAGE.file_version}
    assert {answers[q.seq] for q in late} == {ota.NO_IMAGE_AVAILABLE}
    assert len(events.of("query_next_image_request", src="hcalcs")) >= 5
    assert upgraded(result)


def test_broadcast_notify_is_payload_type_0_and_every_client_asks() -> None:
    result, capture = run("upgrade", "broadcast-notify")
    events = trace(capture)
    (notify,) = events.of("image_notify")
    assert notify.dst == hex(NWK_BROADCAST_RX_ON)
    assert notify.fields == {"payload_type": 0, "query_jitter": 100}
    for device in ("ppmid", "hcalcs", "ihd"):
        assert [q for q in events.of("query_next_image_request", src=device)
                if q.time > notify.time]
    assert upgraded(result)


def test_page_requests_are_served_a_page_at_the_response_spacing() -> None:
    result, capture = run("upgrade", "page-request")
    events = trace(capture)
    pages = events.of("image_page_request", src="ppmid")
    assert not events.of("image_block_request") and len(pages) > 100
    page = pages[3]
    assert page.fields["page_size"] == 512
    spacing = page.fields["response_spacing"] / 1000
    answers = [e for e in events.of("image_block_response", dst="ppmid")
               if e.seq == page.seq and page.time < e.time < page.time + 5]
    assert [a.fields["file_offset"] for a in answers] == list(
        range(page.fields["file_offset"], page.fields["file_offset"] + 512, 64))
    gaps = [b.time - a.time for a, b in itertools.pairwise(answers)]
    # the CHF spaces its sends; CSMA backs each off by up to 7 unit periods on the air
    assert min(gaps) >= spacing - ((1 << MAX_BACKOFF_EXPONENT) - 1) * BACKOFF_S
    assert received_files(events, "ppmid")[0] == ota_files(DUT, "ppmid")[0]
    assert upgraded(result)


def test_aps_encrypted_ota_frames_use_the_link_key_and_fit_their_blocks() -> None:
    result, capture = run("upgrade", "aps-encrypted")
    records = frames(capture)
    ota_frames = [r.han for r in records if r.han is not None and r.han.aps is not None
                  and r.han.aps.cluster == ota.CLUSTER_ID]
    assert ota_frames and all(h.aps.security is not None  # type: ignore[union-attr]
                              and h.aps.security.key_id == 0  # type: ignore[union-attr]
                              for h in ota_frames)
    metering = [r.han for r in records if r.han is not None and r.han.aps is not None
                and r.han.aps.cluster == 0x0702]
    assert metering and all(h.aps.security is None for h in metering)  # type: ignore[union-attr]
    blocks = [h.zcl.fields.get("data", b"") for h in ota_frames  # type: ignore[union-attr]
              if h.zcl.command == "image_block_response"]  # type: ignore[union-attr]
    assert max(map(len, blocks)) == 64 - APS_SECURITY_OVERHEAD
    # the DUT's link key is the well-known ZigBeeAlliance09, which the capture's decoder
    # always tries (as Wireshark does): with the network key alone the OTA frames decode
    without_link_key = frames(capture, KeyRing((DUT.network_key,)))
    assert all(r.han.zcl is not None for r in without_link_key if r.han is not None
               and r.han.aps is not None and r.han.aps.cluster == ota.CLUSTER_ID)
    assert upgraded(result)


@pytest.mark.slow
def test_every_variant_together_still_upgrades_without_an_undecodable_frame() -> None:
    result, capture = run("two-devices", ",".join(VARIANTS))
    records = frames(capture)
    assert not [r for r in records if r.error]
    assert all(crc16_kermit(r.raw[:-2]) == int.from_bytes(r.raw[-2:], "little")
               for r in records)
    assert len(alerts(result)) == 2 and all(a.activate_image == 0 for a in alerts(result))



# ---- the suite's --target emulator options ----------------------------------------------


def test_the_emulator_target_takes_the_knobs(tmp_path: Path) -> None:
    from hanota.targets.base import TargetOptions
    from hanota.targets.emulator import EmulatorTarget

    options = TargetOptions(dut=DUT, out_dir=tmp_path, extra={
        "sniffer": SnifferOptions(miss=0.2), "han": HanOptions(variants=frozenset({"routed"}))})
    target = EmulatorTarget(options)
    assert "variant routed" in target.description and "misses 20%" in target.description
    target.trace(SITUATION_OF["read-version"])
    assert target.runs["read-version"]["frames"] > len(epbs(
        target.capture_path("read-version").read_bytes()))


@pytest.mark.slow
def test_the_suite_passes_the_knobs_to_the_emulator(tmp_path: Path) -> None:
    run = run_suite("emulator", dut=SMALL_DUT, out=tmp_path, select="VER-6 and chf",
                    extra=("--han-variant", "routed", "--sniffer-fcs", "none"))
    assert run.scenarios and all("variant routed, sniffer FCS none" in s["source"]
                                 for s in run.scenarios)
    refused = run_suite("emulator", dut=SMALL_DUT, out=tmp_path / "bad", select="VER-6",
                        extra=("--han-variant", "teleport"))
    assert not refused.scenarios and "unknown HAN variant" in refused.output
