"""The emulated HAN: a Comms Hub (OTA server + GBCS alerts), PPMID, HCALCS, IHD and CAD
exchanging real encrypted 802.15.4 frames on a virtual clock.

It is the default target of the suite and the generator of its reference captures.
``emulate`` runs one exchange of ``SCENARIOS`` with the fault ``PROFILES`` chosen per
node, writes every frame to a pcapng stream (link type 195) and returns the GBCS messages
that crossed the WAN.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from emulators.air import Air, AirConditions
from emulators.cad import RogueCad
from emulators.chf import CommsHub
from emulators.client import OtaClient
from emulators.clock import EPOCH_UNIX, VirtualClock
from emulators.profiles import PROFILES, FaultProfile
from emulators.scenarios import DEFAULT_LOSS, METER_READS_FROM_S, SCENARIOS, SCRIPTS, Stage
from emulators.station import Han
from emulators.wan import WanMessage
from hanota.dut import Dut
from layers.capture import pcapng_header, pcapng_packet
from layers.security import KeyRing

__all__ = [
    "PROFILES",
    "SCENARIOS",
    "EmulationResult",
    "FaultProfile",
    "WanMessage",
    "emulate",
]

LINKTYPE_IEEE802_15_4_WITHFCS = 195
SLICE_S = 10.0  # how often the run checks whether the exchange has finished
GRACE_S = 60.0  # kept running after the last outcome (trailing ACKs, reads, late frames)
MAX_VIRTUAL_S = 8 * 3600.0


@dataclass
class EmulationResult:
    """What one run produced besides the capture."""

    scenario: str
    frames: int
    virtual_seconds: float
    wan: list[WanMessage]


def _check_profiles(dut: Dut, profiles: Mapping[str, str]) -> None:
    for node_name, profile_name in profiles.items():
        if node_name not in dut.nodes:
            raise ValueError(f"profile for unknown node {node_name!r}")
        if profile_name not in PROFILES:
            raise ValueError(f"unknown fault profile {profile_name!r}")


def _build(dut: Dut, han: Han, profiles: Mapping[str, str]) -> Stage:
    chf = CommsHub(han, dut.chf, profiles.get(dut.chf.name))
    clients: dict[str, OtaClient] = {}
    cad = None
    for node in dut.nodes.values():
        fault = profiles.get(node.name)
        if node.kind in ("ppmid", "hcalcs", "ihd"):
            client = OtaClient(han, node, fault)
            # The device under test as its PICS says; the others whenever they have one.
            client.send_hardware_version = (
                dut.pics.hardware_version_sent if node.name == dut.dut_node
                else node.hardware_version is not None
            )
            if node.kind == "ppmid":
                client.start_meter_reads(METER_READS_FROM_S)
            clients[node.name] = client
        elif node.kind == "cad":
            cad = RogueCad(han, node, fault)
    return Stage(han, chf, clients, cad)


def emulate(
    dut: Dut,
    scenario: str,
    capture: BinaryIO,
    *,
    profiles: Mapping[str, str] | None = None,
    seed: int = 0,
    loss: float | None = None,
    on_frame: Callable[[float, bytes], None] | None = None,
) -> EmulationResult:
    """Run one exchange; every frame goes to ``capture`` (pcapng, UNIX times of the
    virtual clock starting 2026-01-01T00:00:00Z) and to ``on_frame(time, psdu)``.

    ``loss`` None uses the exchange's own (10 % for upgrade-lossy, else none). The same
    DUT, exchange, profiles and seed give the same capture bytes.
    """
    if scenario not in SCRIPTS:
        raise ValueError(f"unknown exchange {scenario!r}; known: {', '.join(SCENARIOS)}")
    profiles = dict(profiles or {})
    _check_profiles(dut, profiles)
    clock = VirtualClock()
    rng = random.Random(seed)
    conditions = AirConditions(loss=DEFAULT_LOSS.get(scenario, 0.0) if loss is None else loss)
    air = Air(clock, rng, conditions)
    capture.write(pcapng_header(LINKTYPE_IEEE802_15_4_WITHFCS))
    write = capture.write

    def record(time: float, psdu: bytes) -> None:
        write(pcapng_packet(EPOCH_UNIX + time, psdu))

    air.sinks.append(record)
    if on_frame is not None:
        air.sinks.append(lambda time, psdu: on_frame(EPOCH_UNIX + time, psdu))
    han = Han(dut, clock, air, rng, KeyRing((dut.network_key,), dut.link_keys))
    stage = _build(dut, han, profiles)
    SCRIPTS[scenario](stage)
    while clock.now < MAX_VIRTUAL_S:
        clock.run(until=clock.now + SLICE_S)
        if stage.finished():
            # Room after the last outcome, so a missing read-back shows as missing.
            clock.run(until=clock.now + dut.pixit.readback_timeout_s + GRACE_S)
            break
    wan = sorted(stage.chf.wan.messages, key=lambda message: message.time)
    return EmulationResult(scenario, air.frames, clock.now, wan)
