"""A HAN node's network stack: builds every frame to bytes, parses every frame from bytes.

Why each node goes through the codec both ways: the emulator is the generator of the
suite's reference captures, so what one node "says" to another must be exactly what is
on the air, encrypted with the network key, and nothing may pass between nodes as Python
objects. Subclasses (CHF, OTA clients, CAD) only see decoded ``HanFrame``s.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulators.air import Air, Done
from emulators.clock import Timer, VirtualClock
from emulators.profiles import PROFILES
from hanota.dut import Dut, Node
from layers.codec import build_frame, parse_frame
from layers.model import Aps, DecodeError, HanFrame, Mac, Nwk, Security, Zcl
from layers.security import KeyRing

SMART_ENERGY_PROFILE = 0x0109
KEY_ID_NETWORK = 1
NWK_RADIUS = 30
PROCESSING_S = 0.010  # a node's time from receiving a request to sending its answer


@dataclass
class Han:
    """What all nodes share: the DUT description, clock, air, keys, seeded randomness."""

    dut: Dut
    clock: VirtualClock
    air: Air
    rng: random.Random
    keys: KeyRing
    by_eui64: dict[str, Node] = field(init=False)
    by_short: dict[int, Node] = field(init=False)

    def __post_init__(self) -> None:
        self.by_eui64 = {node.eui64: node for node in self.dut.nodes.values()}
        self.by_short = {node.short: node for node in self.dut.nodes.values()}


class Station:
    """Base of every emulated node: addressing, counters, fault profile, send and receive."""

    side = "device"

    def __init__(self, han: Han, node: Node, fault: str | None = None) -> None:
        if fault is not None:
            profile = PROFILES.get(fault)
            if profile is None:
                raise ValueError(f"unknown fault profile {fault!r}")
            if profile.side != self.side:
                raise ValueError(
                    f"profile {fault!r} is for the {profile.side} side, node {node.name!r} is "
                    f"{self.side}"
                )
        self.han = han
        self.node = node
        self.fault = fault
        self.clock = han.clock
        self.radio = han.air.attach(node.short, self._on_psdu)
        self._mac_seq = han.rng.randrange(256)
        self._nwk_seq = han.rng.randrange(256)
        self._aps_counter = han.rng.randrange(256)
        self._zcl_seq = han.rng.randrange(256)
        self._frame_counter = han.rng.randrange(1 << 16)

    def has_fault(self, name: str) -> bool:
        """Whether this node runs the named fault profile (the hook every fault checks)."""
        return self.fault == name

    @property
    def online(self) -> bool:
        return self.radio.online

    def next_zcl_seq(self) -> int:
        self._zcl_seq = (self._zcl_seq + 1) & 0xFF
        return self._zcl_seq

    def send_zcl(
        self, dst: Node, zcl: Zcl, cluster: int, done: Done | None = None,
    ) -> None:
        """Build one APS data frame carrying ``zcl`` to ``dst``, NWK-secured, and send it."""
        self._mac_seq = (self._mac_seq + 1) & 0xFF
        self._nwk_seq = (self._nwk_seq + 1) & 0xFF
        self._aps_counter = (self._aps_counter + 1) & 0xFF
        self._frame_counter += 1
        dut = self.han.dut
        me = self.node
        frame = HanFrame(
            Mac(1, self._mac_seq, dut.pan_id, dst.short, me.short, True),
            Nwk(
                dst.short, me.short, self._nwk_seq, NWK_RADIUS, 0, None, None,
                Security(KEY_ID_NETWORK, self._frame_counter, me.eui64, dut.network_key_seq),
            ),
            Aps(cluster, SMART_ENERGY_PROFILE, dst.endpoint, me.endpoint, self._aps_counter),
            zcl,
        )
        psdu = build_frame(frame, self.han.keys)
        self.han.air.send(self.radio, psdu, dst.short, self._mac_seq, done=done)

    def later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        return self.clock.call_later(delay, callback, *args)

    def _on_psdu(self, psdu: bytes) -> None:
        try:
            frame = parse_frame(psdu, self.han.keys)
        except DecodeError:
            return  # like a real stack: a frame it cannot authenticate or parse is dropped
        zcl = frame.zcl
        if zcl is None or frame.nwk is None or frame.aps is None:
            return
        security = frame.nwk.security
        source = security.source64 if security is not None else None
        sender = self.han.by_eui64.get(source) if source else None
        if sender is None:
            sender = self.han.by_short.get(frame.nwk.src16)
        if sender is not None:
            self.on_zcl(sender, frame.aps.cluster, zcl)

    def on_zcl(self, sender: Node, cluster: int, zcl: Zcl) -> None:
        """A decoded ZCL frame from ``sender`` (identified by the EUI-64 that secured it)."""
