"""The sniffer: what a capture at one place of the HAN holds, separate from the air.

Why separate: on a real HAN the frames a node receives and the frames the test house's
sniffer records are two different sets. The sniffer may miss a frame the receiver got
(and the other way round: the air's own loss stays in ``hanota.emulators.air``), may record a
frame with bit errors, may drop the FCS, and starts and stops whenever the operator
pressed the button. ``Sniffer`` is a sink of ``Air``: every frame put on the air passes
it, and it decides, with its OWN random generator, what the capture gets, so the HAN
behaves the same with and without it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import BinaryIO

from hanota.emulators.clock import EPOCH_UNIX
from hanota.emulators.knobs import FCS_NONE, FCS_STRIPPED, SnifferOptions
from hanota.layers.capture import (
    LINKTYPE_IEEE802_15_4_NOFCS,
    LINKTYPE_IEEE802_15_4_WITHFCS,
    pcapng_header,
    pcapng_packet,
)

FCS_LENGTH = 2
MAX_FLIPPED_BITS = 3
SNIFFER_SEED_SALT = 0x5F1FF3  # the sniffer's generator differs from the air's of one seed

FrameSink = Callable[[float, bytes], None]


def linktype(options: SnifferOptions) -> int:
    return LINKTYPE_IEEE802_15_4_NOFCS if options.fcs == FCS_NONE \
        else LINKTYPE_IEEE802_15_4_WITHFCS


def sniffer_rng(options: SnifferOptions, run_seed: int) -> random.Random:
    seed = options.seed if options.seed is not None else run_seed
    return random.Random(seed * 1_000_003 + SNIFFER_SEED_SALT)


class Sniffer:
    """``(time, psdu)`` sink: writes what the sniffer heard to a pcapng capture and hands
    the same frames (with their FCS, as a ZEP sniffer in CRC mode sends them) to
    ``on_frame(unix_time, psdu)``."""

    def __init__(self, options: SnifferOptions, rng: random.Random, capture: BinaryIO,
                 on_frame: FrameSink | None = None) -> None:
        self.options = options
        self.rng = rng
        self.write = capture.write
        self.on_frame = on_frame
        self.heard = 0
        self.missed = 0
        self.corrupted = 0
        capture.write(pcapng_header(linktype(options)))

    def __call__(self, time: float, psdu: bytes) -> None:
        options = self.options
        if time < options.start_s or (options.stop_s is not None and time > options.stop_s):
            return
        rng = self.rng
        if options.miss and rng.random() < options.miss:
            self.missed += 1
            return
        if options.corrupt and rng.random() < options.corrupt:
            psdu = self._flip_bits(psdu)
            self.corrupted += 1
        self.heard += 1
        unix = EPOCH_UNIX + time
        if options.fcs == FCS_STRIPPED:
            self.write(pcapng_packet(unix, psdu[:-FCS_LENGTH], original_length=len(psdu)))
        elif options.fcs == FCS_NONE:
            self.write(pcapng_packet(unix, psdu[:-FCS_LENGTH]))
        else:
            self.write(pcapng_packet(unix, psdu))
        if self.on_frame is not None:
            self.on_frame(unix, psdu)

    def _flip_bits(self, psdu: bytes) -> bytes:
        """One to three bit errors in the frame before its FCS: the FCS no longer fits."""
        damaged = bytearray(psdu)
        body_bits = 8 * (len(psdu) - FCS_LENGTH)
        for bit in self.rng.sample(range(body_bits), min(body_bits, self.rng.randint(
                1, MAX_FLIPPED_BITS))):
            damaged[bit >> 3] ^= 1 << (bit & 7)
        return bytes(damaged)
