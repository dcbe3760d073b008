"""The emulated Comms Hub Function: ZigBee OTA Upgrade server and GBCS alert side.

Why one class with explicit fault hooks: every CHF fault profile is one departure at one
decision (which image to offer, what to put in a field, whether to read back), so each
appears as ``if self.has_fault(...)`` exactly where a real CHF would get it wrong, next to
the conformant behaviour it replaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hanota.dut.description import DEVICE_KINDS, Image, Node
from hanota.dut.images import ImageIdentity, identity, ota_files
from hanota.emulators.clock import Timer
from hanota.emulators.station import (
    APS_SECURITY_OVERHEAD,
    NWK_SRC64_OVERHEAD,
    PROCESSING_S,
    Han,
    Station,
)
from hanota.emulators.wan import Wan
from hanota.layers import ota
from hanota.layers.gbcs import decode_gbcs
from hanota.layers.gbcs_payloads import (
    ALERT_FIRMWARE_TRANSFER_FAIL,
    ALERT_FIRMWARE_TRANSFER_SUCCESS,
    CCS08_FILE_TRANSFER_FAILURE,
    CCS08_HARDWARE_VERSION_MISMATCH,
    CCS08_SUCCESS,
    CS08_READ_FAILURE,
    CS08_READ_SUCCESS,
)
from hanota.layers.model import Zcl
from hanota.layers.zcl import make_zcl

METERING_CLUSTER = 0x0702
# Metering attributes the CHF (holding the meter's mirror) answers: id -> (type, value).
METER_ATTRIBUTES = {0x0000: (0x25, 123_456_789), 0x0400: (0x2A, 1_250)}
UNSUPPORTED_ATTRIBUTE = 0x86
MAX_BLOCK_DATA = 64  # what fits a 127-byte frame with NWK security and an extended nonce
NOTIFY_AFTER_DELIVERY_S = 1.0
NOTIFY_RETRY_S = 30.0  # no query this long after an Image Notify: notify again
NOTIFY_ATTEMPTS = 3
PART_FETCH_S = 5.0  # fetching the next part of a large image from the DCC
WAIT_FOR_DATA_S = 10  # how long the buffer stays busy in a WAIT_FOR_DATA episode
TRANSFER_TIMEOUT_S = 120.0  # no request from the device this long: the transfer failed
READ_TIMEOUT_S = 5.0
READ_ATTEMPTS = 3
DELAYED_ACTIVATION_S = 60  # fault delayed-activation: upgrade_time this far ahead
BROADCAST_QUERY_JITTER = 100  # variant broadcast-notify: every client that hears answers


@dataclass
class Transfer:
    """One image held for one device, from delivery to the alerts."""

    image: Image
    target: Node
    supplier: str
    files: list[bytes]
    announced: ImageIdentity  # what the Query Next Image Response says (a fault may lie)
    part: int = 0
    waited: bool = False
    busy_until: float = -1.0
    request_time: int = 0
    blocks_served: int = 0
    served_in_part: int = 0
    page: list[Timer] | None = None  # the Image Block Responses of a page still to go
    notified: int = 0
    queried: bool = False
    wrong_offset_served: bool = False
    abandoned: bool = False
    end_status: int | None = None
    device_version: int | None = None
    closed: bool = False
    watchdog: Timer | None = None

    @property
    def file(self) -> bytes:
        return self.files[self.part]


class CommsHub(Station):
    """OTA server for the PPMID/HCALCS, metering mirror for HAN reads, WAN alert sender."""

    side = "chf"

    def __init__(self, han: Han, node: Node, fault: str | None = None) -> None:
        super().__init__(han, node, fault)
        self.wan = Wan(han.clock, node.eui64)
        self.transfers: dict[str, Transfer] = {}
        self.version_cache: dict[str, int] = {}
        self.stop_serving_at: float | None = None  # scenario upgrade-abandoned: fraction
        self.broadcast_notify = False  # variant broadcast-notify
        self._reads: dict[tuple[str, int], tuple[Callable[[int | None], None], Timer]] = {}

    # ---- WAN: deliveries and commands ---------------------------------------------------

    def deliver_image(self, image_name: str, supplier: str) -> bool:
        """SR 11.1: the DCC delivers an image for a device. Refused for an IHD (SCOPE-2)
        or a non-device target; otherwise held, and the target is notified."""
        dut = self.han.dut
        image = dut.images[image_name]
        target = dut.nodes[image.target]
        in_scope = target.kind in DEVICE_KINDS or (
            target.kind == "ihd" and self.has_fault("serves-ihd")
        )
        if not in_scope:
            return False
        split = False if self.has_fault("no-large-image-split") else None
        announced = identity(dut, image)
        if self.has_fault("serves-wrong-version"):
            announced = ImageIdentity(
                announced.manufacturer_code, announced.image_type, announced.file_version + 1
            )
        transfer = Transfer(image, target, supplier, ota_files(dut, image_name, split=split),
                            announced)
        self.transfers[target.name] = transfer
        self.later(NOTIFY_AFTER_DELIVERY_S, self._notify, transfer)
        self._arm_watchdog(transfer)
        return True

    def wan_command(self, data: bytes) -> None:
        """SR 11.2: a CS08 command from a supplier; answered with a CS08 response."""
        apdu = decode_gbcs(data).apdu
        self.wan.log(apdu.originator, apdu.recipient, "command", data)
        device = self.han.dut.node_by_eui64(apdu.recipient)
        if device is None:
            return
        if self.has_fault("sr112-from-cache"):
            cached = self.version_cache.get(device.name, device.current_version)
            self.later(PROCESSING_S, self.wan.cs08_response, data, cached, CS08_READ_SUCCESS)
            return

        def answer(version: int | None) -> None:
            if version is None:
                self.wan.cs08_response(data, 0, CS08_READ_FAILURE)
            else:
                self.wan.cs08_response(data, version, CS08_READ_SUCCESS)

        self.read_version(device, answer)

    # ---- HAN: receiving --------------------------------------------------------------------

    def on_zcl(self, sender: Node, cluster: int, zcl: Zcl) -> None:
        if cluster == METERING_CLUSTER and zcl.command == "read_attributes":
            self._answer_meter_read(sender, zcl)
            return
        if cluster != ota.CLUSTER_ID:
            return
        handler = {
            "query_next_image_request": self._on_query_next_image,
            "image_block_request": self._on_image_block_request,
            "image_page_request": self._on_image_page_request,
            "upgrade_end_request": self._on_upgrade_end_request,
            "read_attributes_response": self._on_read_attributes_response,
        }.get(zcl.command)
        if handler is not None:
            handler(sender, zcl)

    def _reply(self, sender: Node, command: str, fields: dict, seq: int) -> None:
        zcl = make_zcl(command, fields, seq)
        self.later(PROCESSING_S, self.send_zcl, sender, zcl, ota.CLUSTER_ID)

    def _open(self, name: str) -> Transfer | None:
        transfer = self.transfers.get(name)
        return transfer if transfer is not None and not transfer.closed else None

    def _offer_for(self, device: Node) -> Transfer | None:
        own = self._open(device.name)
        others = [t for t in self.transfers.values()
                  if not t.closed and t.target.name != device.name]
        other = others[0] if others and device.kind in DEVICE_KINDS else None
        mixed = own is not None and other is not None and device.name != self.han.dut.dut_node
        if self.has_fault("mixes-images") and mixed:
            return other  # the device under test's image offered to the other device too
        if own is not None:
            return own
        if self.has_fault("serves-non-target") and other is not None:
            return other
        return None

    def _on_query_next_image(self, sender: Node, zcl: Zcl) -> None:
        fields = zcl.fields
        self.version_cache[sender.name] = fields["file_version"]
        offer = self._offer_for(sender)
        hardware = fields.get("hardware_version") if fields["field_control"] & 1 else None
        refused = offer is None
        if offer is not None:
            image = offer.image
            low, high = image.min_hardware_version, image.max_hardware_version
            outside = hardware is not None and (
                (low is not None and hardware < low) or (high is not None and hardware > high)
            )
            if hardware is None and self.has_fault("requires-hw-version"):
                refused = True
            elif outside and not self.has_fault("ignores-hw-version"):
                refused = True
                if offer.target.name == sender.name:
                    offer.end_status = ota.NO_IMAGE_AVAILABLE
                    self._alert_ccs08(offer, ALERT_FIRMWARE_TRANSFER_FAIL,
                                      CCS08_HARDWARE_VERSION_MISMATCH)
        if offer is not None and offer.announced.file_version == fields["file_version"]:
            refused = True  # it already runs the held image (a self-scheduled query)
        if refused or offer is None:
            self._reply(sender, "query_next_image_response",
                        {"status": ota.NO_IMAGE_AVAILABLE}, zcl.seq)
            return
        if offer.target.name == sender.name:
            offer.queried = True
            offer.device_version = fields["file_version"]
            self._arm_watchdog(offer)
        announced = offer.announced
        self._reply(sender, "query_next_image_response", {
            "status": ota.SUCCESS,
            "manufacturer_code": announced.manufacturer_code,
            "image_type": announced.image_type,
            "file_version": announced.file_version,
            "image_size": len(offer.file),
        }, zcl.seq)

    def _transfer_for_request(self, fields: dict) -> Transfer | None:
        for transfer in self.transfers.values():
            announced = transfer.announced
            if (not transfer.closed
                    and announced.file_version == fields["file_version"]
                    and announced.image_type == fields["image_type"]
                    and announced.manufacturer_code == fields["manufacturer_code"]):
                return transfer
        return None

    def _block_capacity(self) -> int:
        """Image data that fits one Image Block Response of this HAN: 64 bytes, less the
        APS security and NWK extended source its frames may carry."""
        capacity = MAX_BLOCK_DATA
        if ota.CLUSTER_ID in self.aps_secured:
            capacity -= APS_SECURITY_OVERHEAD
        if self.han.src64_share:
            capacity -= NWK_SRC64_OVERHEAD
        return capacity

    def _serving(self, sender: Node, zcl: Zcl) -> Transfer | None:
        """The transfer an Image Block / Page Request asks for, when it is to be served
        now; otherwise the answer (ABORT, WAIT_FOR_DATA or silence) is given here."""
        fields = zcl.fields
        transfer = self._transfer_for_request(fields)
        if transfer is None:
            self._reply(sender, "image_block_response", {"status": ota.ABORT}, zcl.seq)
            return None
        offset = fields["file_offset"]
        data_file = transfer.file
        if transfer.abandoned or (self.stop_serving_at is not None
                                  and offset >= self.stop_serving_at * len(data_file)):
            transfer.abandoned = True
            return None  # exchange upgrade-abandoned: the CHF goes silent mid-download
        if transfer.target.name == sender.name:
            self._arm_watchdog(transfer)
        if offset >= len(data_file):
            self._reply(sender, "image_block_response", {"status": ota.ABORT}, zcl.seq)
            return None
        now = self.clock.now
        if not transfer.waited and offset >= len(data_file) // 2:
            transfer.waited = True
            transfer.busy_until = now + WAIT_FOR_DATA_S - 1
            transfer.request_time = self.clock.zigbee_utc + WAIT_FOR_DATA_S
        if now < transfer.busy_until:
            self._reply(sender, "image_block_response", self._wait_for_data(transfer), zcl.seq)
            return None
        return transfer

    def _block(self, transfer: Transfer, fields: dict, start: int, size: int) -> dict:
        transfer.blocks_served += 1
        transfer.served_in_part += 1
        return {
            "status": ota.SUCCESS,
            "manufacturer_code": fields["manufacturer_code"],
            "image_type": fields["image_type"],
            "file_version": fields["file_version"],
            "file_offset": start,
            "data": transfer.file[start : start + size],
        }

    def _on_image_block_request(self, sender: Node, zcl: Zcl) -> None:
        transfer = self._serving(sender, zcl)
        if transfer is None:
            return
        fields = zcl.fields
        offset = fields["file_offset"]
        size = min(fields["maximum_data_size"], self._block_capacity())
        start = offset
        if (self.has_fault("wrong-offset") and not transfer.wrong_offset_served
                and offset >= 8 * size and offset + 2 * size <= len(transfer.file)):
            transfer.wrong_offset_served = True
            start = offset + size
        self._reply(sender, "image_block_response", self._block(transfer, fields, start, size),
                    zcl.seq)

    def _on_image_page_request(self, sender: Node, zcl: Zcl) -> None:
        """A page: Image Block Responses from the offset to the page's end, one every
        response_spacing ms, each with the request's sequence number. A new page request
        cancels what is left of the previous one."""
        transfer = self._serving(sender, zcl)
        if transfer is None:
            return
        for timer in transfer.page or ():
            timer.cancel()
        fields = zcl.fields
        size = min(fields["maximum_data_size"], self._block_capacity())
        end = min(fields["file_offset"] + fields["page_size"], len(transfer.file))
        spacing = fields["response_spacing"] / 1000
        transfer.page = [
            self.later(PROCESSING_S + index * spacing, self._send_page_block, sender, transfer,
                       fields, start, min(size, end - start), zcl.seq)
            for index, start in enumerate(range(fields["file_offset"], end, size))
        ]

    def _send_page_block(self, sender: Node, transfer: Transfer, fields: dict, start: int,
                         size: int, seq: int) -> None:
        if transfer.closed or transfer.abandoned:
            return
        zcl = make_zcl("image_block_response", self._block(transfer, fields, start, size), seq)
        self.send_zcl(sender, zcl, ota.CLUSTER_ID)

    def _wait_for_data(self, transfer: Transfer) -> dict:
        current = self.clock.zigbee_utc
        if self.has_fault("bad-wait-for-data"):
            return {"status": ota.WAIT_FOR_DATA, "current_time": current,
                    "request_time": current - WAIT_FOR_DATA_S, "minimum_block_period": 0}
        return {"status": ota.WAIT_FOR_DATA, "current_time": current,
                "request_time": transfer.request_time,
                "minimum_block_period": self.han.dut.pixit.minimum_block_period_ms}

    def _on_upgrade_end_request(self, sender: Node, zcl: Zcl) -> None:
        fields = zcl.fields
        status = fields["status"]
        transfer = self._open(sender.name)
        if transfer is not None and transfer.announced.file_version != fields["file_version"]:
            transfer = None
        ours = transfer is not None and transfer.end_status is None
        if ours and status == ota.REQUIRE_MORE_IMAGE:
            if transfer.served_in_part == 0:
                self._reply_default(sender, zcl)  # a retry of the part already ended
                return
            if transfer.part + 1 < len(transfer.files):
                self._reply_default(sender, zcl)
                transfer.part += 1
                transfer.waited = False
                transfer.served_in_part = 0
                transfer.notified = 0
                self.later(PART_FETCH_S, self._notify, transfer)
                self._arm_watchdog(transfer)
                return
        wait = self.han.dut.pixit.readback_timeout_s
        if ours:
            transfer.end_status = status
            self._disarm_watchdog(transfer)

        def read_back_later(_: bool = True) -> None:
            if ours:
                self.later(wait, self._read_back, transfer)

        if status != ota.SUCCESS:
            self._reply_default(sender, zcl)
            read_back_later()
            return
        current = self.clock.zigbee_utc
        delay = DELAYED_ACTIVATION_S if self.has_fault("delayed-activation") else 0
        wait += delay
        response = make_zcl("upgrade_end_response", {
            "manufacturer_code": fields["manufacturer_code"],
            "image_type": fields["image_type"],
            "file_version": fields["file_version"],
            "current_time": current,
            "upgrade_time": current + delay if delay else 0,
        }, zcl.seq)
        # VER-1: the read-back time-out runs from the activation, i.e. from the moment the
        # Upgrade End Response has left (its MAC ACK or last retry).
        self.later(PROCESSING_S, self.send_zcl, sender, response, ota.CLUSTER_ID,
                   read_back_later)

    def _reply_default(self, sender: Node, zcl: Zcl) -> None:
        response = make_zcl("default_response", {"command_id": zcl.command_id, "status": 0},
                            zcl.seq, direction=1)
        self.later(PROCESSING_S, self.send_zcl, sender, response, ota.CLUSTER_ID)

    def _on_read_attributes_response(self, sender: Node, zcl: Zcl) -> None:
        pending = self._reads.pop((sender.name, zcl.seq), None)
        if pending is None:
            return
        callback, timer = pending
        timer.cancel()
        version = next((record["value"] for record in zcl.fields["records"]
                        if record["attribute"] == ota.CURRENT_FILE_VERSION
                        and record["status"] == 0), None)
        if version is not None:
            self.version_cache[sender.name] = version
        callback(version)

    def _answer_meter_read(self, sender: Node, zcl: Zcl) -> None:
        downloading = any(t.blocks_served and t.end_status is None and not t.closed
                          for t in self.transfers.values())
        if downloading and self.has_fault("starves-han"):
            return
        records = []
        for attribute in zcl.fields["attributes"]:
            if attribute in METER_ATTRIBUTES:
                data_type, value = METER_ATTRIBUTES[attribute]
                records.append({"attribute": attribute, "status": 0, "data_type": data_type,
                                "value": value})
            else:
                records.append({"attribute": attribute, "status": UNSUPPORTED_ATTRIBUTE,
                                "data_type": None, "value": None})
        response = make_zcl("read_attributes_response", {"records": records}, zcl.seq,
                            cluster=METERING_CLUSTER)
        self.later(PROCESSING_S, self.send_zcl, sender, response, METERING_CLUSTER)

    # ---- HAN: initiating -------------------------------------------------------------------

    def _notify(self, transfer: Transfer) -> None:
        if transfer.closed or self.has_fault("never-notifies"):
            return
        transfer.queried = False
        transfer.notified += 1
        if transfer.notified < NOTIFY_ATTEMPTS:
            self.later(NOTIFY_RETRY_S, self._notify_again, transfer)
        if self.broadcast_notify:
            zcl = make_zcl("image_notify", {"payload_type": 0,
                                            "query_jitter": BROADCAST_QUERY_JITTER},
                           self.next_zcl_seq())
            self.broadcast_zcl(zcl, ota.CLUSTER_ID)
            return
        announced = identity(self.han.dut, transfer.image)
        fields = {
            "payload_type": 3,
            "query_jitter": self.han.dut.pixit.query_jitter,
            "manufacturer_code": announced.manufacturer_code,
            "image_type": announced.image_type,
            "file_version": announced.file_version,
        }
        self.send_zcl(transfer.target, make_zcl("image_notify", fields, self.next_zcl_seq()),
                      ota.CLUSTER_ID)
        bystander = self._bystander(transfer)
        if self.has_fault("notify-non-target") and transfer.notified == 1 and bystander:
            self.send_zcl(bystander, make_zcl("image_notify", fields, self.next_zcl_seq()),
                          ota.CLUSTER_ID)

    def _bystander(self, transfer: Transfer) -> Node | None:
        """A device the held image is not for (fault notify-non-target notifies it)."""
        return next((node for node in self.han.dut.nodes.values()
                     if node.kind in DEVICE_KINDS and node.name != transfer.target.name), None)

    def _notify_again(self, transfer: Transfer) -> None:
        """An Image Notify lost or ignored: notify again while no query has come."""
        if not transfer.queried and transfer.served_in_part == 0:
            self._notify(transfer)

    def read_version(self, device: Node, callback: Callable[[int | None], None],
                     attempts: int = READ_ATTEMPTS) -> None:
        """ZCL Read Attributes of CurrentFileVersion; ``callback(None)`` if never answered."""
        seq = self.next_zcl_seq()
        zcl = make_zcl("read_attributes", {"attributes": [ota.CURRENT_FILE_VERSION]}, seq)

        def timed_out() -> None:
            self._reads.pop((device.name, seq), None)
            if attempts > 1:
                self.read_version(device, callback, attempts - 1)
            else:
                callback(None)

        timer = self.later(READ_TIMEOUT_S, timed_out)
        self._reads[(device.name, seq)] = (callback, timer)
        self.send_zcl(device, zcl, ota.CLUSTER_ID)

    def _read_back(self, transfer: Transfer) -> None:
        if transfer.end_status == ota.SUCCESS and self.has_fault("never-reads-back"):
            self._report(transfer, None)
            return
        self.read_version(transfer.target, lambda version: self._report(transfer, version))

    # ---- outcome ---------------------------------------------------------------------------

    def _arm_watchdog(self, transfer: Transfer) -> None:
        self._disarm_watchdog(transfer)
        transfer.watchdog = self.later(TRANSFER_TIMEOUT_S, self._transfer_timed_out, transfer)

    @staticmethod
    def _disarm_watchdog(transfer: Transfer) -> None:
        if transfer.watchdog is not None:
            transfer.watchdog.cancel()
            transfer.watchdog = None

    def _transfer_timed_out(self, transfer: Transfer) -> None:
        if transfer.closed or transfer.end_status is not None:
            return
        transfer.end_status = ota.ABORT
        self._alert_ccs08(transfer, ALERT_FIRMWARE_TRANSFER_FAIL, CCS08_FILE_TRANSFER_FAILURE)

    def _report(self, transfer: Transfer, version: int | None) -> None:
        """CCS08 (and after an activation CS08 0x8F8B) matching what happened on the HAN."""
        if transfer.end_status != ota.SUCCESS:
            self._alert_ccs08(transfer, ALERT_FIRMWARE_TRANSFER_FAIL, CCS08_FILE_TRANSFER_FAILURE)
            return
        # The transfer succeeded (CCS08); whether the image runs is the CS08 alert's to say.
        self._alert_ccs08(transfer, ALERT_FIRMWARE_TRANSFER_SUCCESS, CCS08_SUCCESS)
        if self.has_fault("never-reads-back"):
            return
        activated = version == transfer.announced.file_version
        reported, outcome = (version or 0), (0 if activated else 1)
        if self.has_fault("success-on-mismatch"):
            reported = transfer.device_version or transfer.target.current_version
            outcome = 0
        self.wan.cs08_alert(self._recipient(transfer), reported, outcome,
                            signed=not self.has_fault("unsigned-alert"))

    def _recipient(self, transfer: Transfer) -> str:
        if self.has_fault("alerts-wrong-supplier"):
            return self.han.dut.pixit.supplier_id
        return transfer.supplier

    def _alert_ccs08(self, transfer: Transfer, alert_code: int, response_code: int) -> None:
        transfer.closed = True
        self._disarm_watchdog(transfer)
        if self.has_fault("wrong-alert-code"):
            if alert_code == ALERT_FIRMWARE_TRANSFER_SUCCESS:
                alert_code = ALERT_FIRMWARE_TRANSFER_FAIL
                response_code = CCS08_FILE_TRANSFER_FAILURE
            else:
                alert_code, response_code = ALERT_FIRMWARE_TRANSFER_SUCCESS, CCS08_SUCCESS
        self.wan.ccs08(self._recipient(transfer), transfer.target.eui64,
                       transfer.image.file_version, alert_code, response_code,
                       signed=not self.has_fault("unsigned-alert"))
