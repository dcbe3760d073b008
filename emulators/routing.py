"""The routed variant's topology: CHF - repeater - PPMID - HCALCS, one hop between
neighbours.

Why a chain: it is the smallest HAN in which both things a test house meets happen: a
device under test that reaches the CHF through a router it does not control (the
repeater), and a device that is itself a router for another (the PPMID relaying the
HCALCS). Every other node (IHD, CAD) stays one hop from everyone. The radio channel has
no geometry: a frame is addressed to its next hop at the MAC layer, and the sniffer
hears every hop.
"""

from __future__ import annotations

from hanota.dut.description import Dut, Node

# The repeater the routed variant adds when the DUT description lists no 'router' node:
# an address no default node uses, so a judge that knows only the DUT description meets
# an unknown relay, as it does on a real HAN whose routers nobody wrote down.
UNLISTED_REPEATER_EUI64 = "00DB12345678F00D"
UNLISTED_REPEATER_SHORT = 0x7E01


def repeater_for(dut: Dut) -> tuple[Node, bool]:
    """The repeater of the routed variant and whether the DUT description lists it."""
    listed = next((node for node in dut.nodes.values() if node.kind == "router"), None)
    if listed is not None:
        return listed, True
    used = {node.eui64 for node in dut.nodes.values()}, {n.short for n in dut.nodes.values()}
    if UNLISTED_REPEATER_EUI64 in used[0] or UNLISTED_REPEATER_SHORT in used[1]:
        raise ValueError("the DUT description uses the unlisted repeater's address: list a "
                         "node of kind 'router' instead")
    return Node("repeater", "router", UNLISTED_REPEATER_EUI64, UNLISTED_REPEATER_SHORT), False


class Routes:
    """Static next hops along a chain of node names; nodes off the chain are direct."""

    def __init__(self, chain: list[str]) -> None:
        self.chain = chain
        self._index = {name: index for index, name in enumerate(chain)}

    def next_hop(self, at: str, destination: str) -> str | None:
        """The neighbour ``at`` hands a frame for ``destination`` to; None: send direct."""
        here, there = self._index.get(at), self._index.get(destination)
        if here is None or there is None or abs(here - there) <= 1:
            return None
        return self.chain[here + (1 if there > here else -1)]

    def routers(self) -> list[str]:
        """Nodes that relay: every node of the chain between its two ends."""
        return self.chain[1:-1]


def routed_chain(dut: Dut, repeater: Node) -> Routes:
    """CHF, repeater, the first PPMID, the first HCALCS (those the DUT has)."""
    chain = [dut.chf.name, repeater.name]
    for kind in ("ppmid", "hcalcs"):
        node = next((n for n in dut.nodes.values() if n.kind == kind), None)
        if node is not None:
            chain.append(node.name)
    return Routes(chain)
