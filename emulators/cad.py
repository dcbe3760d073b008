"""The emulated CAD: a Consumer Access Device that tries to act as a local OTA server.

Why it exists: the local-upgrade ban (BAN-1..3) can only be shown by a node that offers
firmware without being the device's UpgradeServerID. It announces an image, pushes
unsolicited responses, and serves anyone who does ask, with an image whose integrity code
is wrong (it has no genuine image to give).

Why its frames are built with scapy: a test house crafts its own stimulus the same way
(a scapy packet secured with ``hanota.layers.scapy_secure.secure``), so the emulator's rogue uses
that path and keeps it honest; the bytes are those the codec would build for the same
fields. Two variants of the attack: a rogue the DUT description does not list
(``RogueCad.unlisted``), and a rogue that puts the CHF's short address 0x0000 in its MAC
and NWK source (``spoof_short``) while securing with its own EUI-64 in the NWK auxiliary
header, as a real node must (it cannot secure in the CHF's name).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from hanota.dut.description import Node
from hanota.emulators.station import (
    NWK_RADIUS,
    PROCESSING_S,
    SMART_ENERGY_PROFILE,
    Han,
    Station,
)
from hanota.layers import ota
from hanota.layers.model import Zcl
from hanota.layers.otafile import (
    TAG_IMAGE_INTEGRITY_CODE,
    TAG_UPGRADE_IMAGE,
    OtaFile,
    SubElement,
    build_ota_file,
)

if TYPE_CHECKING:
    from scapy.packet import Packet

ROGUE_IMAGE_SIZE = 1024
ROGUE_VERSION_STEP = 0x00100000
STEP_S = 2.0  # spacing of the unsolicited frames
# The built-in identity of a rogue the DUT description does not list.
UNLISTED_NAME = "rogue"
UNLISTED_EUI64 = "00DB12345678CAD0"
UNLISTED_SHORT = 0x7CAD
MAC_ADDRESS_SHORT = 2
NWK_DISCOVER_ROUTE = 1
NWK_PROTOCOL_PRO = 2


class RogueCad(Station):
    """A HAN node offering firmware it has no right to offer.

    ``spoof_short``: the short address written as MAC and NWK source of every frame it
    sends (0x0000 impersonates the CHF); its NWK auxiliary header still carries its own
    EUI-64 and frame counter.
    """

    side = "cad"  # no fault profile applies: the CAD is the fault

    def __init__(
        self, han: Han, node: Node, fault: str | None = None, *, spoof_short: int | None = None
    ) -> None:
        super().__init__(han, node, fault)
        self.offers: dict[str, bytes] = {}
        self.spoof_short = spoof_short

    @classmethod
    def unlisted(
        cls, han: Han, fault: str | None = None, *, spoof_short: int | None = None,
        eui64: str = UNLISTED_EUI64, short: int = UNLISTED_SHORT,
    ) -> RogueCad:
        """A rogue whose identity the DUT description does not list (built in, or given).

        Its EUI-64 and short address must not be any node's: the rogue is a stranger on
        the HAN, not a second radio of a known node.
        """
        for node in han.dut.nodes.values():
            if node.eui64 == eui64 or node.short == short:
                raise ValueError(f"the unlisted rogue's identity {eui64}/0x{short:04X} is "
                                 f"node {node.name!r}'s: give another")
        node = Node(name=UNLISTED_NAME, kind="cad", eui64=eui64, short=short)
        return cls(han, node, fault, spoof_short=spoof_short)

    def _image_for(self, target: Node) -> bytes:
        """A rogue OTA file for ``target``: plausible header, integrity code of zeros."""
        if target.name not in self.offers:
            ota_file = OtaFile(
                manufacturer_code=target.manufacturer_code,
                image_type=target.image_type,
                file_version=self._rogue_version(target),
                header_string="not from the comms hub",
                elements=[
                    SubElement(TAG_UPGRADE_IMAGE,
                               random.Random(target.name).randbytes(ROGUE_IMAGE_SIZE)),
                    SubElement(TAG_IMAGE_INTEGRITY_CODE, bytes(16)),
                ],
            )
            self.offers[target.name] = build_ota_file(ota_file)
        return self.offers[target.name]

    @staticmethod
    def _rogue_version(target: Node) -> int:
        return target.current_version + ROGUE_VERSION_STEP

    def attack(self, target: Node) -> None:
        """Image Notify, then unsolicited QNI Response, Image Block Response and Upgrade
        End Response, each a few seconds apart (BAN-1, BAN-2)."""
        image = self._image_for(target)
        version = self._rogue_version(target)
        ident = {"manufacturer_code": target.manufacturer_code,
                 "image_type": target.image_type, "file_version": version}
        steps = (
            ("image_notify", {"payload_type": 3, "query_jitter": 100, **ident}),
            ("query_next_image_response",
             {"status": ota.SUCCESS, **ident, "image_size": len(image)}),
            ("image_block_response",
             {"status": ota.SUCCESS, **ident, "file_offset": 0, "data": image[:64]}),
            ("upgrade_end_response", {**ident, "current_time": 0, "upgrade_time": 0}),
        )
        for index, (command, fields) in enumerate(steps):
            self.later(index * STEP_S, self._push, target, command, fields)

    def _push(self, target: Node, command: str, fields: dict[str, Any]) -> None:
        if command == "upgrade_end_response":
            fields = {**fields, "current_time": self.clock.zigbee_utc}
        self._send(target, command, fields, self.next_zcl_seq())

    def on_zcl(self, sender: Node, cluster: int, zcl: Zcl) -> None:
        if cluster != ota.CLUSTER_ID:
            return
        image = self._image_for(sender)
        fields = zcl.fields
        ident = {"manufacturer_code": sender.manufacturer_code,
                 "image_type": sender.image_type, "file_version": self._rogue_version(sender)}
        if zcl.command == "query_next_image_request":
            command = "query_next_image_response"
            reply = {"status": ota.SUCCESS, **ident, "image_size": len(image)}
        elif zcl.command == "image_block_request":
            offset = fields["file_offset"]
            size = min(fields["maximum_data_size"], 64)
            command = "image_block_response"
            reply = {"status": ota.SUCCESS, **ident, "file_offset": offset,
                     "data": image[offset : offset + size]}
        elif zcl.command == "upgrade_end_request" and fields["status"] == ota.SUCCESS:
            command = "upgrade_end_response"
            reply = {**ident, "current_time": self.clock.zigbee_utc, "upgrade_time": 0}
        else:
            return
        self.later(PROCESSING_S, self._send, sender, command, reply, zcl.seq)

    # ---- the frame, built the scapy way -----------------------------------------------

    def _packet(self, dst: Node, command: str, fields: dict[str, Any], seq: int) -> Packet:
        """The scapy packet of one OTA command to ``dst``, before security, with this
        node's next MAC/NWK/APS sequence numbers (a unicast APS data frame, MAC ACK
        requested, as every emulated node sends).

        Scapy is imported here, not with the module: it costs a third of a second and only
        a CAD that attacks needs it.
        """
        from hanota.layers.scapy_ota import ZclOta, ota_packet
        from scapy.layers.dot15d4 import Dot15d4Data, Dot15d4FCS
        from scapy.layers.zigbee import ZigbeeAppDataPayload, ZigbeeNWK

        self._mac_seq = (self._mac_seq + 1) & 0xFF
        self._nwk_seq = (self._nwk_seq + 1) & 0xFF
        self._aps_counter = (self._aps_counter + 1) & 0xFF
        source = self.node.short if self.spoof_short is None else self.spoof_short
        return (
            Dot15d4FCS(fcf_frametype=1, fcf_ackreq=1, fcf_panidcompress=1,
                       fcf_destaddrmode=MAC_ADDRESS_SHORT, fcf_srcaddrmode=MAC_ADDRESS_SHORT,
                       seqnum=self._mac_seq)
            / Dot15d4Data(dest_panid=self.han.dut.pan_id, dest_addr=dst.short, src_addr=source)
            / ZigbeeNWK(discover_route=NWK_DISCOVER_ROUTE, proto_version=NWK_PROTOCOL_PRO,
                        frametype=0, flags=0, destination=dst.short, source=source,
                        radius=NWK_RADIUS, seqnum=self._nwk_seq)
            / ZigbeeAppDataPayload(frame_control=0, delivery_mode=0, aps_frametype=0,
                                   dst_endpoint=dst.endpoint, profile=SMART_ENERGY_PROFILE,
                                   src_endpoint=self.node.endpoint, counter=self._aps_counter)
            / ZclOta(disable_default_response=1, transaction_sequence=seq)
            / ota_packet(command, fields)
        )

    def _send(self, dst: Node, command: str, fields: dict[str, Any], seq: int) -> None:
        """Secure the packet with the network key and this node's own EUI-64 and frame
        counter, and put it on the air."""
        from hanota.layers.scapy_secure import secure

        packet = self._packet(dst, command, fields, seq)
        self._frame_counter += 1
        psdu = secure(packet, self.han.keys, source64=self.node.eui64,
                      frame_counter=self._frame_counter, key_seq=self.han.dut.network_key_seq)
        self.han.air.send(self.radio, psdu, dst.short, self._mac_seq)
