"""The routed variant's repeater: a mains-powered ZigBee router that only relays.

Why a node of its own: the device under test may reach the Comms Hub through a router
that is nobody's device under test and may not even be in the DUT description; its
frames (relayed, re-secured with its own frame counter and EUI-64) are on the air, and
the suite must attribute what it relays to the originator, not to it.
"""

from __future__ import annotations

from hanota.dut.description import Node
from hanota.emulators.station import Han, Station


class Repeater(Station):
    """Relays unicasts along the route and repeats broadcasts; answers nothing itself."""

    side = "router"  # no fault profile applies

    def __init__(self, han: Han, node: Node) -> None:
        super().__init__(han, node)
        self.relays = True
