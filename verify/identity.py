"""Who sent a frame and to whom: node names from NWK addresses, the DUT description and
what the air teaches (rule 2 of verify/README.md).

Why not the EUI-64 of the NWK auxiliary header: NWK security is applied hop by hop, so on
a routed frame that EUI-64 names the router that secured the last hop. The originator is
the NWK source; its EUI-64 is known when the NWK header carries it (extended source) or
when the frame is first-hop (MAC source = NWK source, so the hop that secured it is the
originator). A name is given to every address, known or not, so that two different
unlisted nodes never compare equal and an unlisted node never matches "any node".
"""

from __future__ import annotations

from dataclasses import dataclass

from hanota.dut.description import Dut
from hanota.layers.model import HanFrame

UNKNOWN = "unknown:"
BROADCAST_MIN = 0xFFF8


def is_known(name: str | None) -> bool:
    """Whether ``name`` is a node of the DUT description (not an unlisted one)."""
    return name is not None and not name.startswith(UNKNOWN)


def unknown_eui64(eui64: str) -> str:
    return f"{UNKNOWN}{eui64}"


def unknown_short(short: int) -> str:
    return f"{UNKNOWN}0x{short:04X}"


@dataclass(frozen=True, slots=True)
class Origin:
    """A frame's sender as the frame shows it.

    ``short``: NWK source (or MAC source when there is no NWK header); ``eui64``: the
    originator's EUI-64 when the frame proves it; ``hop64``: the EUI-64 that secured this
    hop (NWK auxiliary header), kept apart; ``relayed``: MAC source differs from NWK source.
    """

    short: int | None
    eui64: str | None
    hop64: str | None
    relayed: bool


def origin_of(han: HanFrame) -> Origin:
    """The originator of ``han``, never confusing it with the securing hop (the model's
    ``originator64`` and ``securing64`` say which is which)."""
    mac, nwk = han.mac, han.nwk
    if nwk is None or nwk.src16 is None:  # no NWK header, or an inter-PAN stub
        return Origin(mac.src16, mac.src64, None, False)
    return Origin(nwk.src16, han.originator64, han.securing64, han.first_hop is False)


class Directory:
    """Names for the addresses of one trace, learning bindings as the trace is read.

    A binding short -> EUI-64 is learnt from a frame that proves both (a first-hop
    secured frame, an NWK extended source, a Device_annce), so a device that rejoined
    with a new short address keeps its name, and frames TO it resolve too. A listed
    node's short address is never re-bound by a frame from another EUI-64 (a node
    spoofing the Comms Hub's 0x0000 stays unknown); a Device_annce re-binds explicitly.
    """

    def __init__(self, dut: Dut) -> None:
        self.dut = dut
        self._by_eui64 = {node.eui64: node.name for node in dut.nodes.values()}
        self._short_names: dict[int, str] = {node.short: node.name for node in dut.nodes.values()}
        self._claimed: dict[int, set[str]] = {}

    def source(self, origin: Origin) -> str | None:
        """The sender's name, learning what the frame proves about its address."""
        if origin.eui64 is not None:
            name = self._by_eui64.get(origin.eui64) or unknown_eui64(origin.eui64)
            if origin.short is not None:
                self._learn(origin.short, name)
            return name
        if origin.short is None:
            return None
        return self._short_names.get(origin.short) or unknown_short(origin.short)

    def destination(self, short: int | None) -> str | None:
        """The addressee's name; None for broadcasts and frames without an address."""
        if short is None or short >= BROADCAST_MIN:
            return None
        return self._short_names.get(short) or unknown_short(short)

    def announce(self, short: int, eui64: str) -> None:
        """A Device_annce: ``eui64`` now answers at ``short`` (after a rejoin)."""
        name = self._by_eui64.get(eui64) or unknown_eui64(eui64)
        self._short_names[short] = name

    def ambiguous(self, short: int | None) -> bool:
        """Whether frames from several EUI-64s claimed ``short`` (a spoofed address)."""
        return short is not None and len(self._claimed.get(short, ())) > 1

    def _learn(self, short: int, name: str) -> None:
        claimants = self._claimed.setdefault(short, set())
        claimants.add(name)
        current = self._short_names.get(short)
        if current is None or (not is_known(current) and is_known(name)):
            self._short_names[short] = name
        elif is_known(name) and current != name and self._listed_short(short) != current:
            self._short_names[short] = name  # a listed node rejoined at this address

    def _listed_short(self, short: int) -> str | None:
        node = self.dut.node_by_short(short)
        return node.name if node is not None else None
