"""The emulated HAN: a Comms Hub (OTA server + GBCS alerts), PPMID, HCALCS, IHD and CAD
exchanging real encrypted 802.15.4 frames on a virtual clock.

It is the default target of the suite and the generator of its reference captures.
``emulate`` runs one exchange of ``SCENARIOS`` with the fault ``PROFILES`` chosen per
node, writes every frame to a pcapng stream (link type 195) and returns the GBCS messages
that crossed the WAN. The knobs of ``hanota.emulators.knobs`` (all off by default) make the
capture what an imperfect sniffer saw (``SnifferOptions``) and the HAN one of the
imperfect HANs a test house meets (``HanOptions``: routed, rejoin, ...).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from hanota.dut.description import Dut
from hanota.emulators.air import Air, AirConditions
from hanota.emulators.cad import RogueCad
from hanota.emulators.chf import CommsHub
from hanota.emulators.client import OtaClient
from hanota.emulators.clock import EPOCH_UNIX, VirtualClock
from hanota.emulators.knobs import VARIANTS, HanOptions, SnifferOptions
from hanota.emulators.profiles import PROFILES, FaultProfile
from hanota.emulators.repeater import Repeater
from hanota.emulators.routing import repeater_for, routed_chain
from hanota.emulators.scenarios import (
    DEFAULT_LOSS,
    METER_READS_FROM_S,
    SCENARIOS,
    SCRIPTS,
    Stage,
    apply_variant_scripts,
)
from hanota.emulators.sniffer import Sniffer, sniffer_rng
from hanota.emulators.station import Han
from hanota.emulators.wan import WanMessage
from hanota.layers import ota
from hanota.layers.capture import pcapng_header, pcapng_packet, pcapng_statistics
from hanota.layers.security import KeyRing

__all__ = [
    "PROFILES",
    "SCENARIOS",
    "VARIANTS",
    "EmulationResult",
    "FaultProfile",
    "HanOptions",
    "SnifferOptions",
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
    frames: int  # put on the air
    virtual_seconds: float
    wan: list[WanMessage]
    captured: int = -1  # written to the capture (-1: every frame, a perfect sniffer)


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
        elif node.kind == "cad" and not han.has_variant("rogue-unlisted"):
            cad = RogueCad(han, node, fault, spoof_short=_spoofed(han))
    if han.has_variant("rogue-unlisted"):
        cad = RogueCad.unlisted(han, spoof_short=_spoofed(han))
    stage = Stage(han, chf, clients, cad)
    routers = [node for node in (*dut.nodes.values(), *han.extra_nodes) if node.kind == "router"]
    stage.repeaters = {node.name: Repeater(han, node) for node in routers}
    for station in (chf, *clients.values(), *stage.repeaters.values()):
        station.start_link_status(han.rng.uniform(0.0, 1.0))
    _configure_variants(han, stage)
    return stage


def _spoofed(han: Han) -> int | None:
    """The short address a rogue claims: the Comms Hub's in the rogue-spoofs-chf variant."""
    return han.dut.chf.short if han.has_variant("rogue-spoofs-chf") else None


def _configure_variants(han: Han, stage: Stage) -> None:
    """The HAN variants that are node configuration (the scripted ones, such as the
    rejoin variant's reset, are in ``scenarios.apply_variant_scripts``)."""
    clients = stage.clients.values()
    if han.routes is not None:
        for name in han.routes.routers():
            station = stage.clients.get(name) or stage.repeaters[name]
            station.relays = True
    if han.has_variant("aps-encrypted"):
        for station in (stage.chf, *clients):
            station.aps_secured = frozenset((ota.CLUSTER_ID,))
    if han.has_variant("page-request"):
        for client in clients:
            client.page_size = han.options.page_size
    if han.has_variant("broadcast-notify"):
        stage.chf.broadcast_notify = True
    if han.has_variant("self-scheduled"):
        for client in clients:
            if client.node.kind in ("ppmid", "hcalcs"):
                client.start_self_schedule(han.options.query_period_s)


def _han(dut: Dut, clock: VirtualClock, air: Air, rng: random.Random,
         options: HanOptions) -> Han:
    keys = KeyRing((dut.network_key,), dut.link_keys)
    if "routed" not in options.variants:
        return Han(dut, clock, air, rng, keys, options)
    repeater, listed = repeater_for(dut)
    return Han(dut, clock, air, rng, keys, options, routed_chain(dut, repeater),
               () if listed else (repeater,))


def emulate(
    dut: Dut,
    scenario: str,
    capture: BinaryIO,
    *,
    profiles: Mapping[str, str] | None = None,
    seed: int = 0,
    loss: float | None = None,
    on_frame: Callable[[float, bytes], None] | None = None,
    sniffer: SnifferOptions | None = None,
    options: HanOptions | None = None,
) -> EmulationResult:
    """Run one exchange; what the sniffer hears goes to ``capture`` (pcapng, UNIX times
    of the virtual clock starting 2026-01-01T00:00:00Z) and to ``on_frame(time, psdu)``.

    ``loss`` None uses the exchange's own (10 % for upgrade-lossy, else none). The same
    DUT, exchange, profiles, seed and knobs give the same capture bytes. ``sniffer``
    (default: hears and writes every frame) never changes what the nodes do.
    """
    if scenario not in SCRIPTS:
        raise ValueError(f"unknown exchange {scenario!r}; known: {', '.join(SCENARIOS)}")
    profiles = dict(profiles or {})
    _check_profiles(dut, profiles)
    options = options or HanOptions()
    clock = VirtualClock()
    rng = random.Random(seed)
    conditions = AirConditions(loss=DEFAULT_LOSS.get(scenario, 0.0) if loss is None else loss)
    air = Air(clock, rng, conditions)
    listener = None
    if sniffer is not None and not sniffer.perfect:
        listener = Sniffer(sniffer, sniffer_rng(sniffer, seed), capture, on_frame)
        air.sinks.append(listener)
    else:
        capture.write(pcapng_header(LINKTYPE_IEEE802_15_4_WITHFCS))
        write = capture.write

        def record(time: float, psdu: bytes) -> None:
            write(pcapng_packet(EPOCH_UNIX + time, psdu))

        air.sinks.append(record)
        if on_frame is not None:
            air.sinks.append(lambda time, psdu: on_frame(EPOCH_UNIX + time, psdu))
    han = _han(dut, clock, air, rng, options)
    stage = _build(dut, han, profiles)
    SCRIPTS[scenario](stage)
    apply_variant_scripts(stage, scenario)
    while clock.now < MAX_VIRTUAL_S:
        clock.run(until=clock.now + SLICE_S)
        if stage.finished():
            # Room after the last outcome, so a missing read-back shows as missing.
            clock.run(until=clock.now + dut.pixit.readback_timeout_s + GRACE_S)
            break
    heard = sniffer or SnifferOptions()
    stop = clock.now if heard.stop_s is None else min(heard.stop_s, clock.now)
    # The capture's own statement of when it listened (as dumpcap ends a capture): the
    # silence between the frames it holds was heard, not missed.
    capture.write(pcapng_statistics(EPOCH_UNIX + heard.start_s, EPOCH_UNIX + stop))
    wan = sorted(stage.chf.wan.messages, key=lambda message: message.time)
    captured = listener.heard if listener is not None else -1
    return EmulationResult(scenario, air.frames, clock.now, wan, captured)
