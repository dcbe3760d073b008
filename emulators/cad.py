"""The emulated CAD: a Consumer Access Device that tries to act as a local OTA server.

Why it exists: the local-upgrade ban (BAN-1..3) can only be shown by a node that offers
firmware without being the device's UpgradeServerID. It announces an image, pushes
unsolicited responses, and serves anyone who does ask, with an image whose integrity code
is wrong (it has no genuine image to give).
"""

from __future__ import annotations

import random

from emulators.station import PROCESSING_S, Han, Station
from hanota.dut import Node
from layers import ota
from layers.model import Zcl
from layers.otafile import (
    TAG_IMAGE_INTEGRITY_CODE,
    TAG_UPGRADE_IMAGE,
    OtaFile,
    SubElement,
    build_ota_file,
)
from layers.zcl import make_zcl

ROGUE_IMAGE_SIZE = 1024
ROGUE_VERSION_STEP = 0x00100000
STEP_S = 2.0  # spacing of the unsolicited frames


class RogueCad(Station):
    """A HAN node offering firmware it has no right to offer."""

    side = "cad"  # no fault profile applies: the CAD is the fault

    def __init__(self, han: Han, node: Node, fault: str | None = None) -> None:
        super().__init__(han, node, fault)
        self.offers: dict[str, bytes] = {}

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

    def _push(self, target: Node, command: str, fields: dict) -> None:
        if command == "upgrade_end_response":
            fields = {**fields, "current_time": self.clock.zigbee_utc}
        self.send_zcl(target, make_zcl(command, fields, self.next_zcl_seq()),
                      cluster=ota.CLUSTER_ID)

    def on_zcl(self, sender: Node, cluster: int, zcl: Zcl) -> None:
        if cluster != ota.CLUSTER_ID:
            return
        image = self._image_for(sender)
        fields = zcl.fields
        ident = {"manufacturer_code": sender.manufacturer_code,
                 "image_type": sender.image_type, "file_version": self._rogue_version(sender)}
        if zcl.command == "query_next_image_request":
            reply = make_zcl("query_next_image_response",
                             {"status": ota.SUCCESS, **ident, "image_size": len(image)}, zcl.seq)
        elif zcl.command == "image_block_request":
            offset = fields["file_offset"]
            size = min(fields["maximum_data_size"], 64)
            reply = make_zcl("image_block_response", {
                "status": ota.SUCCESS, **ident, "file_offset": offset,
                "data": image[offset : offset + size]}, zcl.seq)
        elif zcl.command == "upgrade_end_request" and fields["status"] == ota.SUCCESS:
            reply = make_zcl("upgrade_end_response", {
                **ident, "current_time": self.clock.zigbee_utc, "upgrade_time": 0}, zcl.seq)
        else:
            return
        self.later(PROCESSING_S, self.send_zcl, sender, reply, ota.CLUSTER_ID)
