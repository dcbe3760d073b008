"""The stateful capture decoder (layers/dissector.py): keys learnt from Transport Key
(ZigBee R22 4.4.11.1, secured with the key-transport key of the default trust-centre
link key or of an install-code key, R22 4.6.3.4 / B.6), key sequence numbers and Switch
Key (R22 4.4.11.5), EUI-64s learnt for APS nonces, APS fragments reassembled (R22
2.2.8.4.5), MAC retries marked (802.15.4-2015 6.7.4.3: macMaxFrameRetries); and the
parallel decoder's look-ahead, which must leave the state exactly as decoding does."""

from __future__ import annotations

import dataclasses
import io
import json
import struct
from pathlib import Path

import pytest
from hanota.layers.aesmmo import install_code_link_key
from hanota.layers.capture import CaptureRecord
from hanota.layers.codec import build_frame, crc16_kermit, mac_ack
from hanota.layers.dissector import RETRY_WINDOW, Dissector
from hanota.layers.model import Aps, HanFrame, Mac, MicFailure, Nwk, Security
from hanota.layers.security import KeyRing
from hanota.layers.zcl import encode_zcl, make_zcl
from hanota.targets.pcap import decode_records
from hypothesis import given, settings
from hypothesis import strategies as st
from ota_frames import DEVICE_EUI64, OTA_CASES, sample_frame
from stack_frames import (
    BUILD_KEYS,
    DEVICE_SHORT,
    NETWORK_KEY,
    NEXT_NETWORK_KEY,
    ROUTER_SHORT,
    TC_EUI64,
    aps_command,
    build,
    device_annce,
    fragments,
    ota_notify,
    relayed_block_request,
    transport_network_key,
    tunnel,
)

from hanota import decode_cmd
from hanota.cli import main as hanota_main

NETWORK_ONLY = KeyRing((NETWORK_KEY,), ())
INSTALL_CODE = "83FED3407A939723A5C639B26916D505C3B5"  # oracles.md example (with CRC)


def _notify(seq: int, key: bytes = NETWORK_KEY, key_seq: int = 0) -> bytes:
    mac, nwk, aps, zcl = ota_notify(seq)
    assert nwk.security is not None
    nwk = dataclasses.replace(nwk, security=dataclasses.replace(nwk.security, key_seq=key_seq))
    return build(HanFrame(mac, nwk, aps, zcl), KeyRing((key,), ()))


def test_network_key_learnt_from_transport_key_with_the_default_link_key() -> None:
    dissector = Dissector()
    assert dissector.dissect(_notify(1), number=1).han.error is not None  # no key yet
    learnt = dissector.dissect(build(transport_network_key(2)), number=2).han
    assert learnt.error is None and learnt.aps_command is not None
    after = dissector.dissect(_notify(3), number=3).han
    assert after.error is None and after.zcl is not None
    (key,) = dissector.learnt
    assert (key.number, key.role, key.key, key.key_seq, key.device) == (
        2, "network", NETWORK_KEY, 0, DEVICE_EUI64)


def test_without_the_default_link_key_nothing_is_learnt() -> None:
    dissector = Dissector(default_link_key=False)
    han = dissector.dissect(build(transport_network_key(2)), number=2).han
    assert isinstance(han.error, MicFailure) and han.error.layer == "aps"
    assert isinstance(dissector.dissect(_notify(3), number=3).han.error, MicFailure)
    assert dissector.learnt == []


def test_network_key_learnt_with_an_install_code_link_key() -> None:
    link = install_code_link_key(bytes.fromhex(INSTALL_CODE))
    raw = build(transport_network_key(2), KeyRing((), (link,)))
    dissector = Dissector(KeyRing.from_hex([f"ic:{INSTALL_CODE}"]), default_link_key=False)
    assert dissector.dissect(raw, number=1).han.error is None
    assert dissector.dissect(_notify(3), number=2).han.zcl is not None


def test_key_sequence_numbers_pick_the_key_and_switch_key_is_followed() -> None:
    dissector = Dissector(NETWORK_ONLY)
    dissector.dissect(build(tunnel(1, NEXT_NETWORK_KEY, 1)), number=1)
    assert [(k.key_seq, k.key) for k in dissector.learnt] == [(1, NEXT_NETWORK_KEY)]
    assert dissector.nwk_candidates(1)[0] == NEXT_NETWORK_KEY
    assert dissector.nwk_candidates(0)[0] == NETWORK_KEY
    switch = build(aps_command(2, "switch_key", {"key_seq": 1}, dst16=0xFFFD, key_id=None))
    dissector.dissect(switch, number=2)
    assert dissector.active_key_seq == 1 and dissector.switches == [(2, 1)]
    assert dissector.nwk_candidates(7)[0] == NEXT_NETWORK_KEY  # unknown seq: the active key
    assert dissector.dissect(_notify(3, NEXT_NETWORK_KEY, 1), number=3).han.zcl is not None
    assert dissector.dissect(_notify(4), number=4).han.zcl is not None  # old key still known


def test_device_annce_teaches_the_eui64_an_aps_nonce_needs() -> None:
    """A relayed APS-secured frame whose aux header leaves the EUI-64 out (no extended
    nonce, R22 4.5.1) can only be decrypted with the originator's EUI-64, learnt from
    its Device_annce."""
    frame = HanFrame(
        Mac(1, 9, 0x1A2B, 0x0000, ROUTER_SHORT, True),
        Nwk(0x0000, DEVICE_SHORT, 9, 29, 0, src64=DEVICE_EUI64),
        Aps(0x0019, 0x0109, 1, 1, 9, security=Security(0, 55, None)),
        make_zcl("upgrade_end_request", dict(OTA_CASES[17][2]), 9),
    )
    sent = build_frame(frame, BUILD_KEYS, fcs=False)  # APS nonce from the NWK src64 ...
    header_end = 9 + 8
    body = bytearray(sent[:header_end] + sent[header_end + 8:])  # ... then sent without it
    body[9 + 1] &= ~0x10  # NWK frame control: no extended source
    raw = bytes(body) + crc16_kermit(bytes(body)).to_bytes(2, "little")
    dissector = Dissector(NETWORK_ONLY)
    assert isinstance(dissector.dissect(raw, number=1).han.error, MicFailure)
    dissector.dissect(build(device_annce(2)), number=2)
    assert dissector.addresses[DEVICE_SHORT] == DEVICE_EUI64
    decoded = dissector.dissect(raw, time=5.0, number=3).han
    assert decoded.zcl is not None and decoded.nwk is not None and decoded.nwk.src64 is None


def _fragment_frames() -> tuple[list[bytes], bytes]:
    record = {"attribute": 6, "status": 0, "data_type": 0x41, "value": bytes(range(120))}
    zcl = make_zcl("read_attributes_response", {"records": [record]}, 5, cluster=0,
                   direction=1)
    payload = encode_zcl(zcl, 0)
    return [build(frame) for frame in fragments(50, payload, 50)], payload


def test_fragments_reassemble_in_any_order_and_only_when_complete() -> None:
    blocks, _ = _fragment_frames()
    assert len(blocks) == 3
    dissector = Dissector(NETWORK_ONLY)
    first = dissector.dissect(blocks[0], time=1.0, number=1)
    third = dissector.dissect(blocks[2], time=2.0, number=2)
    assert first.han.zcl is None and third.han.zcl is None and third.fragments == ()
    second = dissector.dissect(blocks[1], time=3.0, number=3)
    assert second.fragments == (1, 3, 2)  # frame numbers in block order
    assert second.han.zcl is not None
    assert second.han.zcl.fields["records"][0]["value"] == bytes(range(120))
    lonely = Dissector(NETWORK_ONLY)
    assert lonely.dissect(blocks[1], number=1).han.zcl is None  # no first block: no frame


def test_mac_retries_are_marked_with_the_first_copy() -> None:
    raw = build(sample_frame(*OTA_CASES[8][1:]))
    dissector = Dissector(NETWORK_ONLY)
    assert dissector.dissect(raw, time=10.0, number=1).retransmission_of is None
    assert dissector.dissect(raw, time=10.01, number=2).retransmission_of == 1
    assert dissector.dissect(raw, time=10.02, number=3).retransmission_of == 1
    # an ack between copies changes nothing; acks themselves are never retries
    assert dissector.dissect(mac_ack(1), time=10.03, number=4).retransmission_of is None
    assert dissector.dissect(mac_ack(1), time=10.031, number=5).retransmission_of is None
    # a copy after the window is a new frame (a stack resending on its own)
    late = 10.02 + RETRY_WINDOW + 0.01
    assert dissector.dissect(raw, time=late, number=6).retransmission_of is None
    other = build(sample_frame(*OTA_CASES[9][1:]))  # same source, other bytes
    assert dissector.dissect(other, time=late + 0.001, number=7).retransmission_of is None
    assert dissector.dissect(raw, time=late + 0.002, number=8).retransmission_of is None


def test_a_retried_block_is_not_a_new_block() -> None:
    blocks, _ = _fragment_frames()
    dissector = Dissector(NETWORK_ONLY)
    dissector.dissect(blocks[0], time=1.0, number=1)
    dissector.dissect(blocks[1], time=1.1, number=2)
    retry = dissector.dissect(blocks[1], time=1.11, number=3)
    assert retry.retransmission_of == 2 and retry.fragments == ()
    done = dissector.dissect(blocks[2], time=1.2, number=4)
    assert done.fragments == (1, 2, 4)


def _mixed_capture() -> list[bytes]:
    """Everything the decoder learns from, between ordinary traffic."""
    blocks, _ = _fragment_frames()
    frames = [_notify(1), mac_ack(1), build(transport_network_key(2)), _notify(3),
              build(tunnel(4, NEXT_NETWORK_KEY, 1)), _notify(5, NEXT_NETWORK_KEY, 1)]
    frames.append(frames[-1])  # a MAC retry (frame 7 repeats frame 6)
    frames += [build(device_annce(6)), *blocks[:2], _notify(7), blocks[1], blocks[2],
               build(sample_frame(*OTA_CASES[9][1:]))]
    return frames


def _pcap(frames: list[bytes], gap: float = 0.01) -> bytes:
    """Link type 195, ``gap`` seconds apart (ota_frames.pcap_bytes spaces them by 1 s,
    beyond the retry window)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 195))
    for number, frame in enumerate(frames):
        micros = round(number * gap * 1e6)
        out += struct.pack("<IIII", 1_700_000_000 + micros // 1_000_000, micros % 1_000_000,
                           len(frame), len(frame))
        out += frame
    return bytes(out)


def test_observing_leaves_the_state_decoding_leaves() -> None:
    """The parallel decoder's workers observe the others' records: any mix of observed
    and decoded records must decode the decoded ones exactly as one decoder does."""
    raws = _mixed_capture()
    reference = Dissector(KeyRing((), ()))
    expected = [reference.dissect(raw, time=i * 0.01, number=i) for i, raw in enumerate(raws)]
    for stride in (2, 3):
        for offset in range(stride):
            worker = Dissector(KeyRing((), ()))
            for i, raw in enumerate(raws):
                if i % stride == offset:
                    assert worker.dissect(raw, time=i * 0.01, number=i) == expected[i], i
                else:
                    worker.observe(raw, time=i * 0.01, number=i)


POOL = [*_mixed_capture(), build(relayed_block_request(30, with_src64=True)),
        build(relayed_block_request(31, with_src64=False)), build(tunnel(32)),
        build(transport_network_key(33, NEXT_NETWORK_KEY, 1, nwk_secured=True)),
        _notify(34, NEXT_NETWORK_KEY, 1), build(device_annce(35, 0x1234, TC_EUI64))]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(POOL) - 1), st.booleans(),
                          st.floats(0, 0.3)), max_size=30))
def test_any_mix_of_observed_and_decoded_frames_decodes_as_one_decoder(
    script: list[tuple[int, bool, float]],
) -> None:
    """Random captures from the pool (repeats within the retry window included): a
    worker that observes some frames and decodes the others decodes those exactly as a
    decoder that decoded them all."""
    reference, worker = Dissector(NETWORK_ONLY), Dissector(NETWORK_ONLY)
    now = 0.0
    for number, (index, decode, gap) in enumerate(script, 1):
        now += gap
        raw = POOL[index]
        expected = reference.dissect(raw, time=now, number=number)
        if decode:
            assert worker.dissect(raw, time=now, number=number) == expected
        else:
            worker.observe(raw, time=now, number=number)


def test_parallel_decode_prints_what_one_process_prints(tmp_path: Path, capsys,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    raws = _mixed_capture() * 3
    capture = tmp_path / "mixed.pcap"
    capture.write_bytes(_pcap(raws))
    outputs = []
    for jobs in ("1", "2", "3"):
        monkeypatch.setattr(decode_cmd, "PARALLEL_BATCH", 2)
        assert hanota_main(["decode", str(capture), "--json", "--jobs", jobs]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] == outputs[2]
    lines = [json.loads(line) for line in outputs[0].splitlines()]
    assert any(line["stack_command"] == "aps:transport_key" for line in lines)
    assert any(line["retransmission_of"] is not None for line in lines)
    assert any(line["fragments"] for line in lines)


def test_decode_records_fill_the_frame_records() -> None:
    raws = _mixed_capture()
    records = [CaptureRecord(i + 1, i * 0.01, 195, raw) for i, raw in enumerate(raws)]
    frames = list(decode_records(records))
    by_number = {frame.number: frame for frame in frames}
    assert by_number[1].error is not None and by_number[1].han is not None  # before the key
    assert by_number[4].error is None and by_number[4].han.zcl is not None  # learnt in 3
    assert by_number[6].error is None and by_number[6].han.zcl is not None  # learnt in 5
    assert by_number[7].retransmission_of == 6
    completed = [frame for frame in frames if frame.fragments]
    assert len(completed) == 1 and completed[0].han.zcl is not None
    text = io.StringIO()
    decode_cmd.write_lines(frames, decode_cmd.text_line, text)
    lines = text.getvalue().splitlines()
    assert "APS command transport_key" in lines[2]
    assert "(retransmission of frame 6)" in lines[6]
    assert "ZDO device_annce" in lines[7] and "0xFFFD(rx-on-when-idle devices)" in lines[7]
    assert "ERROR: frame 1: nwk.mic" in lines[0] and "0x0000 → 0x4C21" in lines[0]


def test_tc_eui64_is_learnt_from_first_hop_frames() -> None:
    dissector = Dissector(NETWORK_ONLY)
    dissector.dissect(_notify(1), number=1)
    assert dissector.addresses == {0x0000: TC_EUI64}
