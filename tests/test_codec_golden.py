"""Golden frames (tests/data/frames, tshark-checked when recorded): the encoder still
produces them byte for byte, and the decoder reads them back without tshark present."""

from __future__ import annotations

from pathlib import Path

import pytest
from hanota.layers.codec import build_frame, parse_frame
from hanota.layers.model import HanFrame
from hanota.layers.security import KeyRing
from ota_frames import ALL_CASES, LINK_KEY_HEX, NETWORK_KEY_HEX, OTA_CASES, sample_frame

KEYS = KeyRing.from_hex([f"nwk:{NETWORK_KEY_HEX}", f"link:{LINK_KEY_HEX}"])
GOLDEN = dict(
    line.split() for line in (Path(__file__).parent / "data/frames/ota_secured.txt")
    .read_text().splitlines() if line.strip()
)


def _frames() -> dict[str, HanFrame]:
    frames = {
        label: sample_frame(command, fields, number + 1)
        for number, (label, command, fields) in enumerate(ALL_CASES)
    }
    _, command, fields = OTA_CASES[17]
    frames["aps_link_key"] = sample_frame(command, fields, 90, aps_key_id=0)
    return frames


FRAMES = _frames()


def test_every_case_has_a_golden_frame() -> None:
    assert set(GOLDEN) == set(FRAMES)


@pytest.mark.parametrize("label", sorted(FRAMES))
def test_golden_frame_is_built_and_decoded(label: str) -> None:
    raw = bytes.fromhex(GOLDEN[label])
    assert build_frame(FRAMES[label], KEYS) == raw
    parsed = parse_frame(raw, KEYS)
    assert parsed.zcl is not None and FRAMES[label].zcl is not None
    assert parsed.zcl.command == FRAMES[label].zcl.command
    assert build_frame(parsed, KEYS) == raw
