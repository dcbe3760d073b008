"""A HAN node's network stack: builds every frame to bytes, parses every frame from bytes.

Why each node goes through the codec both ways: the emulator is the generator of the
suite's reference captures, so what one node "says" to another must be exactly what is
on the air, encrypted with the network key, and nothing may pass between nodes as Python
objects. Subclasses (CHF, OTA clients, CAD) only see decoded ``HanFrame``s.

Addresses are each node's own knowledge: a node learns a neighbour's new short address
from the frames it hears (a Device_annce, or any frame whose EUI-64 it can tie to its
NWK source), as a real stack's address map does. NWK security is per hop: a router
decrypts a frame addressed to someone else and sends it on secured with its own frame
counter and EUI-64, the NWK source, destination and sequence number untouched.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hanota.dut.description import Dut, Node
from hanota.emulators.air import BROADCAST, Air, Done
from hanota.emulators.clock import Timer, VirtualClock
from hanota.emulators.knobs import HanOptions
from hanota.emulators.profiles import PROFILES
from hanota.emulators.routing import Routes
from hanota.layers.codec import build_frame, parse_frame
from hanota.layers.model import Aps, DecodeError, HanFrame, Mac, Nwk, Security, Zcl
from hanota.layers.security import KEY_ID_LINK, KeyRing, eui64_to_air

SMART_ENERGY_PROFILE = 0x0109
KEY_ID_NETWORK = 1
NWK_RADIUS = 30
NWK_BROADCAST_MIN = 0xFFF8
NWK_BROADCAST_RX_ON = 0xFFFD  # every node whose receiver is on when idle
NWK_BROADCAST_ROUTERS = 0xFFFC
NWK_COMMAND = 1
NWK_LINK_STATUS = 0x08
LINK_STATUS_FIRST_AND_LAST = 0x60  # one frame of the list, no entries listed
LINK_STATUS_PERIOD_S = 15.0
"""nwkLinkStatusPeriod (ZigBee PRO): every router and the coordinator say every 15 s
that they are there. Why emulated: a real HAN is never silent, and a node's steady
frames are what lets a capture prove that it sent nothing else in between."""
BROADCAST_ENDPOINT = 0xFF
PROCESSING_S = 0.010  # a node's time from receiving a request to sending its answer
RELAY_S = 0.002  # a router's time from receiving a frame to sending it on
REBROADCAST_JITTER_S = 0.020  # nwkcMaxBroadcastJitter, rounded
# Bytes a frame grows by: APS security with an extended nonce (aux header 13, MIC 4) and
# the NWK extended source. The CHF shrinks its blocks by them to stay within 127 bytes.
APS_SECURITY_OVERHEAD = 17
NWK_SRC64_OVERHEAD = 8
ZDO_PROFILE = 0x0000
ZDO_ENDPOINT = 0
DEVICE_ANNCE = 0x0013
# Device_annce capability: full-function device, mains powered, receiver on when idle,
# security capable, address allocated (a PPMID or HCALCS on mains).
CAPABILITY_MAINS_ROUTER = 0x8E


@dataclass
class Han:
    """What all nodes share: the DUT description, clock, air, keys, seeded randomness,
    the HAN's variant options and (routed variant) its topology."""

    dut: Dut
    clock: VirtualClock
    air: Air
    rng: random.Random
    keys: KeyRing
    options: HanOptions = field(default_factory=HanOptions)
    routes: Routes | None = None
    extra_nodes: tuple[Node, ...] = ()  # on the air, absent from the DUT description
    by_eui64: dict[str, Node] = field(init=False)
    by_short: dict[int, Node] = field(init=False)
    by_name: dict[str, Node] = field(init=False)
    src64_share: float = field(init=False)

    def __post_init__(self) -> None:
        nodes = [*self.dut.nodes.values(), *self.extra_nodes]
        self.by_eui64 = {node.eui64: node for node in nodes}
        self.by_short = {node.short: node for node in nodes}
        self.by_name = {node.name: node for node in nodes}
        self.src64_share = self.options.src64_share

    def has_variant(self, name: str) -> bool:
        return name in self.options.variants

    def free_short(self) -> int:
        """A short address no radio uses (a rejoining device's new one)."""
        while True:
            short = self.rng.randrange(1, NWK_BROADCAST_MIN)
            if short not in self.air.radios:
                return short


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
        self._aps_frame_counter = 0
        self._zdo_seq = 0
        self.relays = False  # routed variant: this node forwards frames for others
        self.aps_secured: frozenset[int] = frozenset()  # clusters sent APS-secured
        self.addresses = {eui64: other.short for eui64, other in han.by_eui64.items()}
        self.nodes_at = dict(han.by_short)
        self._broadcasts_seen: set[tuple[int, int]] = set()
        self.received_broadcast = False  # whether the frame on_zcl handles was a broadcast

    def has_fault(self, name: str) -> bool:
        """Whether this node runs the named fault profile (the hook every fault checks)."""
        return self.fault == name

    @property
    def online(self) -> bool:
        return self.radio.online

    @property
    def short(self) -> int:
        return self.radio.short

    def next_zcl_seq(self) -> int:
        self._zcl_seq = (self._zcl_seq + 1) & 0xFF
        return self._zcl_seq

    # ---- sending ---------------------------------------------------------------------------

    def send_zcl(
        self, dst: Node, zcl: Zcl, cluster: int, done: Done | None = None,
    ) -> None:
        """Build one APS data frame carrying ``zcl`` to ``dst``, NWK-secured, and send it
        to ``dst`` or to the next hop of the route to it."""
        destination = self.addresses.get(dst.eui64, dst.short)
        aps_security = None
        if cluster in self.aps_secured:
            self._aps_frame_counter += 1
            aps_security = Security(KEY_ID_LINK, self._aps_frame_counter, self.node.eui64)
        self._aps_counter = (self._aps_counter + 1) & 0xFF
        aps = Aps(cluster, SMART_ENERGY_PROFILE, dst.endpoint, self.node.endpoint,
                  self._aps_counter, 0, False, aps_security)
        hop = destination if self.han.routes is None else self._next_hop(dst.name, destination)
        self._originate(destination, hop, aps, zcl, done=done)

    def broadcast_zcl(self, zcl: Zcl, cluster: int) -> None:
        """A ZCL frame to every node whose receiver is on (NWK 0xFFFD, APS endpoint 0xFF):
        never APS-secured (a link key is between two nodes)."""
        aps = Aps(cluster, SMART_ENERGY_PROFILE, BROADCAST_ENDPOINT, self.node.endpoint,
                  self._next_aps_counter())
        self._originate(NWK_BROADCAST_RX_ON, BROADCAST, aps, zcl)

    def start_link_status(self, first: float) -> None:
        """Send NWK Link Status from ``first`` seconds on, every ``LINK_STATUS_PERIOD_S``."""
        self.later(first, self._link_status)

    def _link_status(self) -> None:
        """An NWK Link Status command to the routers (0xFFFC), radius 1: never relayed,
        no APS, NWK-secured like every frame of the network."""
        if self.online:
            self._mac_seq = (self._mac_seq + 1) & 0xFF
            self._nwk_seq = (self._nwk_seq + 1) & 0xFF
            self._frame_counter += 1
            dut = self.han.dut
            frame = HanFrame(
                Mac(1, self._mac_seq, dut.pan_id, BROADCAST, self.short, False),
                Nwk(NWK_BROADCAST_ROUTERS, self.short, self._nwk_seq, 1, NWK_COMMAND, None,
                    None, Security(KEY_ID_NETWORK, self._frame_counter, self.node.eui64,
                                   dut.network_key_seq)),
            )
            psdu = build_frame(frame, self.han.keys,
                               payload=bytes((NWK_LINK_STATUS, LINK_STATUS_FIRST_AND_LAST)))
            self.han.air.send(self.radio, psdu, BROADCAST, self._mac_seq, ack_request=False)
        self.later(LINK_STATUS_PERIOD_S, self._link_status)

    def announce(self) -> None:
        """ZDO Device_annce (broadcast): new NWK address, IEEE address, capability. The
        NWK header carries the extended source, as stacks do for this command."""
        self._zdo_seq = (self._zdo_seq + 1) & 0xFF
        payload = (bytes((self._zdo_seq,)) + self.short.to_bytes(2, "little")
                   + eui64_to_air(self.node.eui64) + bytes((CAPABILITY_MAINS_ROUTER,)))
        aps = Aps(DEVICE_ANNCE, ZDO_PROFILE, ZDO_ENDPOINT, ZDO_ENDPOINT,
                  self._next_aps_counter())
        self._originate(NWK_BROADCAST_RX_ON, BROADCAST, aps, None, payload=payload,
                        src64=self.node.eui64)

    def rejoin(self) -> None:
        """Back on the network with a new short address, announced to everyone."""
        short = self.han.free_short()
        self.han.air.readdress(self.radio, short)
        self.addresses[self.node.eui64] = short
        self.nodes_at[short] = self.node
        self.announce()

    def _next_aps_counter(self) -> int:
        self._aps_counter = (self._aps_counter + 1) & 0xFF
        return self._aps_counter

    def _next_hop(self, name: str, destination: int) -> int:
        routes = self.han.routes
        hop = routes.next_hop(self.node.name, name) if routes is not None else None
        if hop is None:
            return destination
        neighbour = self.han.by_name[hop]
        return self.addresses.get(neighbour.eui64, neighbour.short)

    def _nwk_src64(self) -> str | None:
        """The originator's EUI-64 for the NWK header, on the configured share of frames."""
        share = self.han.src64_share
        if share >= 1.0 or self.han.rng.random() < share:
            return self.node.eui64
        return None

    def _originate(
        self, destination: int, hop: int, aps: Aps, zcl: Zcl | None, *,
        payload: bytes = b"", done: Done | None = None, src64: str | None = None,
    ) -> None:
        """A frame this node is the NWK source of, to ``destination`` through ``hop``."""
        self._mac_seq = (self._mac_seq + 1) & 0xFF
        self._nwk_seq = (self._nwk_seq + 1) & 0xFF
        self._frame_counter += 1
        han = self.han
        dut = han.dut
        me = self.node
        short = self.radio.short
        broadcast = hop == BROADCAST
        if src64 is None and han.src64_share:
            src64 = self._nwk_src64()
        frame = HanFrame(
            Mac(1, self._mac_seq, dut.pan_id, hop, short, not broadcast),
            Nwk(
                destination, short, self._nwk_seq, NWK_RADIUS, 0, None, src64,
                Security(KEY_ID_NETWORK, self._frame_counter, me.eui64, dut.network_key_seq),
            ),
            aps,
            zcl,
        )
        psdu = build_frame(frame, han.keys, payload=payload)
        han.air.send(self.radio, psdu, hop, self._mac_seq, ack_request=not broadcast, done=done)

    def _forward(self, frame: HanFrame, hop: int) -> None:
        """Send on a frame of another node: own MAC addresses, sequence number, frame
        counter and EUI-64 in the NWK aux header; NWK addresses and sequence kept, the
        radius one less."""
        nwk = frame.nwk
        assert nwk is not None
        self._mac_seq = (self._mac_seq + 1) & 0xFF
        self._frame_counter += 1
        dut = self.han.dut
        broadcast = hop == BROADCAST
        relayed = HanFrame(
            Mac(1, self._mac_seq, dut.pan_id, hop, self.short, not broadcast),
            Nwk(nwk.dst16, nwk.src16, nwk.seq, nwk.radius - 1, nwk.frame_type, nwk.dst64,
                nwk.src64,
                Security(KEY_ID_NETWORK, self._frame_counter, self.node.eui64,
                         dut.network_key_seq)),
            frame.aps,
            frame.zcl,
        )
        psdu = build_frame(relayed, self.han.keys)
        self.han.air.send(self.radio, psdu, hop, self._mac_seq, ack_request=not broadcast)

    def later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        return self.clock.call_later(delay, callback, *args)

    # ---- receiving -------------------------------------------------------------------------

    def _on_psdu(self, psdu: bytes) -> None:
        try:
            frame = parse_frame(psdu, self.han.keys)
        except DecodeError:
            return  # like a real stack: a frame it cannot authenticate or parse is dropped
        nwk = frame.nwk
        if nwk is None or frame.aps is None:
            return
        broadcast = nwk.dst16 >= NWK_BROADCAST_MIN
        if broadcast:
            if not self._first_copy(nwk):
                return
            if self.relays:
                self._rebroadcast(frame)
        elif nwk.dst16 != self.radio.short:
            if self.relays:
                self._relay(frame)
            return
        self.received_broadcast = broadcast
        sender = self._sender(frame, nwk)
        zcl = frame.zcl
        if sender is not None and zcl is not None:
            self.on_zcl(sender, frame.aps.cluster, zcl)

    def _first_copy(self, nwk: Nwk) -> bool:
        """A broadcast heard for the first time (routers repeat them: later copies are
        dropped, a router repeats the first); never one's own."""
        if nwk.src16 == self.short:
            return False
        if self.han.routes is None:
            return True
        key = (nwk.src16, nwk.seq)
        if key in self._broadcasts_seen:
            return False
        self._broadcasts_seen.add(key)
        return True

    def _relay(self, frame: HanFrame) -> None:
        nwk = frame.nwk
        assert nwk is not None
        if nwk.radius <= 1 or frame.zcl is None:
            return  # only ZCL frames are routed in the emulated HAN
        node = self.nodes_at.get(nwk.dst16)
        hop = self._next_hop(node.name, nwk.dst16) if node is not None else nwk.dst16
        self.later(RELAY_S, self._forward, frame, hop)

    def _rebroadcast(self, frame: HanFrame) -> None:
        nwk = frame.nwk
        if nwk is not None and nwk.radius > 1 and frame.zcl is not None:
            jitter = self.han.rng.uniform(0, REBROADCAST_JITTER_S)
            self.later(jitter, self._forward, frame, BROADCAST)

    def _sender(self, frame: HanFrame, nwk: Nwk) -> Node | None:
        """The NWK originator: by the NWK extended source, else (one hop) by the EUI-64
        that secured the frame, else by the NWK source in this node's address map. A
        proven EUI-64 no node has is a stranger, never the node whose short address it
        uses (a rogue spoofing the Comms Hub's 0x0000 is not the Comms Hub)."""
        security = nwk.security
        by_eui64 = self.han.by_eui64
        proven = nwk.src64
        if proven is None and security is not None and frame.mac.src16 == nwk.src16:
            proven = security.source64
        node = by_eui64.get(proven) if proven is not None else None
        if proven is not None and node is None:
            return Node(name=f"unknown:{proven}", kind="unknown", eui64=proven,
                        short=nwk.src16)
        if node is None:
            return self.nodes_at.get(nwk.src16)
        if self.addresses.get(node.eui64) != nwk.src16:
            self.addresses[node.eui64] = nwk.src16  # a new short address: learnt
            self.nodes_at[nwk.src16] = node
        return node

    def on_zcl(self, sender: Node, cluster: int, zcl: Zcl) -> None:
        """A decoded ZCL frame from ``sender`` (its NWK originator)."""
