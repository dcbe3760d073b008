"""The emulator's rogue CAD builds its frames with scapy and secures them with
hanota.layers.scapy_secure; the frames on the air are what the codec builds for the same fields,
so the rogue-cad reference capture is unchanged. Its two variants: a rogue the DUT
description does not list, and a rogue spoofing the CHF's short address 0x0000 that still
secures with its own EUI-64, as a real node must.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from hanota.dut.description import load_dut
from hanota.emulators import emulate
from hanota.emulators.air import Air
from hanota.emulators.cad import UNLISTED_EUI64, UNLISTED_SHORT, RogueCad
from hanota.emulators.clock import VirtualClock
from hanota.emulators.station import Han
from hanota.layers.codec import MAC_DATA, build_frame, parse_frame
from hanota.layers.model import HanFrame
from hanota.layers.scapy_ota import ZclOta, dissect
from hanota.layers.security import KeyRing

PCAPS = Path(__file__).resolve().parent.parent / "pcaps"
DUT = load_dut(PCAPS / "dut.toml")
KEYS = KeyRing((DUT.network_key,), DUT.link_keys)
PPMID, CAD = DUT.nodes["ppmid"], DUT.nodes["cad"]
ATTACK = ["image_notify", "query_next_image_response", "image_block_response",
          "upgrade_end_response"]


def attack(make: type[RogueCad] | None = None, **options: object) -> list[tuple[bytes, HanFrame]]:
    """Run one attack on the PPMID; the distinct data frames on the air, decoded."""
    clock = VirtualClock()
    rng = random.Random(0)
    air = Air(clock, rng)
    psdus: list[bytes] = []
    air.sinks.append(lambda _time, psdu: psdus.append(psdu))
    han = Han(DUT, clock, air, rng, KEYS)
    cad = RogueCad.unlisted(han, **options) if make is None else RogueCad(han, CAD, **options)
    cad.attack(PPMID)
    clock.run(until=30.0)
    frames: list[tuple[bytes, HanFrame]] = []
    for psdu in dict.fromkeys(psdus):  # no one ACKs: each frame is sent 4 times
        frame = parse_frame(psdu, KEYS)
        if frame.mac.frame_type == MAC_DATA:
            frames.append((psdu, frame))
    return frames


def _sources(frame: HanFrame) -> tuple[int | None, int, str | None]:
    assert frame.nwk is not None and frame.nwk.security is not None
    return frame.mac.src16, frame.nwk.src16, frame.nwk.security.source64


def test_the_listed_cad_sends_what_the_codec_builds() -> None:
    frames = attack(RogueCad)
    assert [frame.zcl.command for _, frame in frames if frame.zcl] == ATTACK
    for psdu, frame in frames:
        assert _sources(frame) == (CAD.short, CAD.short, CAD.eui64)
        assert psdu == build_frame(frame, KEYS)  # re-encoding the decoded fields
        assert frame.zcl is not None
        assert dissect(psdu, KEYS)[ZclOta].command_identifier == frame.zcl.command_id


def test_a_rogue_absent_from_the_dut_description() -> None:
    frames = attack()
    assert [frame.zcl.command for _, frame in frames if frame.zcl] == ATTACK
    assert UNLISTED_EUI64 not in {node.eui64 for node in DUT.nodes.values()}
    for _, frame in frames:
        assert _sources(frame) == (UNLISTED_SHORT, UNLISTED_SHORT, UNLISTED_EUI64)
        assert frame.nwk is not None and frame.nwk.dst16 == PPMID.short


@pytest.mark.parametrize("listed", [False, True])
def test_a_rogue_spoofing_the_chf_secures_with_its_own_eui64(listed: bool) -> None:
    frames = attack(RogueCad, spoof_short=0x0000) if listed else attack(spoof_short=0x0000)
    own = CAD.eui64 if listed else UNLISTED_EUI64
    assert own != DUT.chf.eui64
    assert [frame.zcl.command for _, frame in frames if frame.zcl] == ATTACK
    for _, frame in frames:
        assert _sources(frame) == (0x0000, 0x0000, own)


def test_frame_counters_and_sequence_numbers_advance_per_frame() -> None:
    frames = [frame for _, frame in attack(spoof_short=0x0000)]
    counters = [frame.nwk.security.frame_counter for frame in frames
                if frame.nwk and frame.nwk.security]
    assert counters == list(range(counters[0], counters[0] + len(ATTACK)))
    assert len({frame.mac.seq for frame in frames}) == len(ATTACK)


def test_an_unlisted_rogue_cannot_take_a_listed_identity() -> None:
    han = Han(DUT, VirtualClock(), Air(VirtualClock(), random.Random(0)), random.Random(0), KEYS)
    with pytest.raises(ValueError, match="node 'ppmid'"):
        RogueCad.unlisted(han, short=PPMID.short)
    with pytest.raises(ValueError, match="node 'chf'"):
        RogueCad.unlisted(han, eui64=DUT.chf.eui64)


def test_the_rogue_cad_reference_capture_is_unchanged() -> None:
    capture = io.BytesIO()
    emulate(DUT, "rogue-cad", capture)
    assert capture.getvalue() == (PCAPS / "rogue-cad.pcapng").read_bytes()
