"""The emulated OTA clients: PPMID and HCALCS (targets of SECMP0007) and the IHD.

Why one class for all three: they run the same standard ZCL OTA client (SCOPE-3); what
differs is configuration (hardware version sent, version event) and the one fault
profile a node may carry, which appears as an explicit ``has_fault`` hook where the
client departs from the standard.
"""

from __future__ import annotations

from dataclasses import dataclass

from hanota.dut.description import Node
from hanota.dut.images import part_of
from hanota.emulators.chf import METERING_CLUSTER, UNSUPPORTED_ATTRIBUTE
from hanota.emulators.clock import Timer
from hanota.emulators.station import PROCESSING_S, Han, Station
from hanota.layers import ota
from hanota.layers.model import DecodeError, Zcl
from hanota.layers.otafile import integrity_ok, parse_ota_file
from hanota.layers.zcl import make_zcl

PACING_MARGIN_S = 0.005  # covers the MAC's random backoff, so on-air spacing keeps the period
RESPONSE_TIMEOUT_S = 5.0  # no answer to a request in this time: send it again
MAX_FAILURES = 3  # unanswered requests in a row before the client gives up (ABORT)
RESTART_S = 2.0  # activation: off the air while the new image boots
ACTIVATION_GRACE_S = 0.1  # the MAC ACK of the Upgrade End Response goes out first
RESET_OFF_S = 8.0  # an unplanned reset (exchange upgrade-lossy)
RESTART_QUERY_S = 1.0  # back after a reset: Query Next Image Request this much later
SELF_QUERY_FIRST_S = (0.2, 0.9)  # self-scheduled: the first query, before any delivery
BROADCAST_DRAW = (1, 100)  # a broadcast Image Notify is answered if a draw <= QueryJitter
METER_READ_PERIOD_S = 60.0
METER_READ_ATTRIBUTES = (0x0000, 0x0400)  # CurrentSummationDelivered, InstantaneousDemand
UPGRADE_TIME_WAIT = 0xFFFFFFFF
NO_DOWNLOADED_VERSION = 0xFFFFFFFF
STATUS_NORMAL, STATUS_DOWNLOADING, STATUS_COMPLETE, STATUS_WAIT_FOR_MORE = 0, 1, 2, 5


@dataclass
class Download:
    """An image being received: who offers it, what it is, how far it got."""

    server: Node
    manufacturer_code: int
    image_type: int
    file_version: int
    size: int
    data: bytearray
    offset: int = 0
    skipped: bool = False
    overlapped: bool = False


@dataclass
class Pending:
    """The one request awaiting its answer (ZCL sequence number echoed by the answer)."""

    command: str
    seq: int
    peer: Node
    timer: Timer
    fields: dict


class OtaClient(Station):
    """ZCL OTA Upgrade client with UpgradeServerID bound to the CHF's EUI-64."""

    side = "device"

    def __init__(self, han: Han, node: Node, fault: str | None = None) -> None:
        super().__init__(han, node, fault)
        dut = han.dut
        self.upgrade_server_id = dut.chf.eui64
        self.current_version = node.current_version
        self.downloaded_version = NO_DOWNLOADED_VERSION
        self.minimum_block_period_ms = dut.pixit.minimum_block_period_ms
        self.status = STATUS_NORMAL
        self.send_hardware_version = False
        self.announce_version = False
        self.accepts_downgrade = dut.pics.downgrade_accepted
        self.download: Download | None = None
        self.pending: Pending | None = None
        self.failures = 0
        self.announced = False
        self.rejoins = False  # variant rejoin: a new short address after a reset
        self.page_size = 0  # variant page-request: bytes per Image Page Request (0: blocks)
        self._query_period = 0.0  # variant self-scheduled: seconds between own queries
        self._last_request = -1e9
        self._request_timer: Timer | None = None
        self._query_timer: Timer | None = None  # the query an Image Notify asked for

    # ---- helpers -----------------------------------------------------------------------

    @property
    def server(self) -> Node:
        return self.han.dut.chf

    @property
    def file_offset(self) -> int:
        return self.download.offset if self.download is not None else 0

    def _trusted(self, sender: Node) -> bool:
        return sender.eui64 == self.upgrade_server_id

    def _send(self, peer: Node, command: str, fields: dict, *, expect: bool = True) -> None:
        seq = self.next_zcl_seq()
        if expect:
            self._clear_pending()
            timer = self.later(RESPONSE_TIMEOUT_S, self._timed_out)
            self.pending = Pending(command, seq, peer, timer, fields)
        self.send_zcl(peer, make_zcl(command, fields, seq), ota.CLUSTER_ID)

    def _clear_pending(self) -> None:
        if self.pending is not None:
            self.pending.timer.cancel()
            self.pending = None

    def _answers(self, sender: Node, zcl: Zcl, command: str) -> bool:
        pending = self.pending
        return (pending is not None and pending.command == command and pending.seq == zcl.seq
                and pending.peer.eui64 == sender.eui64)

    # ---- starting a query --------------------------------------------------------------

    def query(self, peer: Node | None = None) -> None:
        """Query Next Image Request with the running version (and hardware version)."""
        if not self.online:
            return
        node = self.node
        fields = {
            "manufacturer_code": node.manufacturer_code,
            "image_type": node.image_type,
            "file_version": self.current_version,
        }
        if self.send_hardware_version and node.hardware_version is not None:
            fields["hardware_version"] = node.hardware_version
        self._send(peer or self.server, "query_next_image_request", fields)

    def start_self_schedule(self, period: float) -> None:
        """Query Next Image Request every ``period`` seconds of its own accord, the first
        before the supplier has delivered anything (variant self-scheduled)."""
        self._query_period = period
        self.later(self.han.rng.uniform(*SELF_QUERY_FIRST_S), self._scheduled_query)

    def _scheduled_query(self) -> None:
        idle = (self.pending is None and self._request_timer is None and self.download is None
                and self.status != STATUS_WAIT_FOR_MORE)
        if self.online and idle:
            self.query()
        self.later(self._query_period, self._scheduled_query)

    def start_meter_reads(self, first: float) -> None:
        """Read the meter (cluster 0x0702 on the CHF) every minute, as a PPMID does."""
        self.later(first, self._meter_read)

    def _meter_read(self) -> None:
        if self.online:
            zcl = make_zcl("read_attributes", {"attributes": list(METER_READ_ATTRIBUTES)},
                           self.next_zcl_seq(), cluster=METERING_CLUSTER)
            self.send_zcl(self.server, zcl, METERING_CLUSTER)
        self.later(METER_READ_PERIOD_S, self._meter_read)

    # ---- receiving -----------------------------------------------------------------------

    def on_zcl(self, sender: Node, cluster: int, zcl: Zcl) -> None:
        if cluster != ota.CLUSTER_ID:
            return
        handler = {
            "image_notify": self._on_image_notify,
            "query_next_image_response": self._on_query_next_image_response,
            "image_block_response": self._on_image_block_response,
            "upgrade_end_response": self._on_upgrade_end_response,
            "read_attributes": self._on_read_attributes,
            "default_response": self._on_default_response,
        }.get(zcl.command)
        if handler is not None:
            handler(sender, zcl)

    def _on_image_notify(self, sender: Node, zcl: Zcl) -> None:
        if not self._trusted(sender) and not self.has_fault("answers-cad-notify"):
            return  # BAN-1: firmware only from the UpgradeServerID
        if self.has_fault("ignores-notify"):
            return
        if (self.pending is not None or self._request_timer is not None
                or self._query_timer is not None):
            return  # already in an exchange, or about to query
        jitter = zcl.fields["query_jitter"]
        if self.received_broadcast and self.han.rng.randint(*BROADCAST_DRAW) > jitter:
            return  # ZCL OTA: a broadcast notify is answered by a QueryJitter share only
        jitter_ms = self.han.rng.uniform(0, jitter)
        self._query_timer = self.later(jitter_ms / 1000, self._query_after_jitter, sender)

    def _query_after_jitter(self, peer: Node) -> None:
        self._query_timer = None
        self.query(peer)

    def _on_query_next_image_response(self, sender: Node, zcl: Zcl) -> None:
        solicited = self._answers(sender, zcl, "query_next_image_request")
        trusted = self._trusted(sender)
        if solicited and not trusted:
            self._clear_pending()  # answered, but not by the CHF: nothing to act on
        taken_unsolicited = not trusted and self.has_fault("obeys-cad-responses")
        if not (solicited and trusted) and not taken_unsolicited:
            return  # BAN-2: nothing from a node other than the CHF, nothing unsolicited
        self._clear_pending()
        self.failures = 0
        fields = zcl.fields
        if fields["status"] != ota.SUCCESS:
            return
        node = self.node
        if (fields["manufacturer_code"], fields["image_type"]) != (
            node.manufacturer_code, node.image_type
        ):
            return  # not an image for this kind of device
        version = fields["file_version"]
        if version == self.current_version:
            return
        if version < self.current_version and not (
            self.accepts_downgrade or self.has_fault("accepts-downgrade")
        ):
            # ACT-4 refused: no download, the refusal said with Upgrade End Request ABORT.
            self._send(sender, "upgrade_end_request", {
                "status": ota.ABORT, "manufacturer_code": fields["manufacturer_code"],
                "image_type": fields["image_type"], "file_version": version,
            }, expect=False)
            if self.has_fault("downgrade-at-readback"):
                # The refusal is only said: it restarts into the lower version all the same.
                self.downloaded_version = version
                self.later(ACTIVATION_GRACE_S, self._activate)
            return
        download = self.download
        same = (download is not None and download.file_version == version
                and download.size == fields["image_size"]
                and download.server.eui64 == sender.eui64)
        if not same:
            self.download = Download(sender, fields["manufacturer_code"], fields["image_type"],
                                     version, fields["image_size"],
                                     bytearray(fields["image_size"]))
        self.status = STATUS_DOWNLOADING
        self._schedule_request(self._paced_delay())  # a resumed download keeps its pace

    def _schedule_request(self, delay: float) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
        self._request_timer = self.later(delay, self._request_block)

    def _paced_delay(self) -> float:
        """When the next block may be asked: the minimum block period after the last one."""
        if self.has_fault("no-pacing"):
            return PROCESSING_S
        earliest = self._last_request + self.minimum_block_period_ms / 1000 + PACING_MARGIN_S
        return max(earliest - self.clock.now, PROCESSING_S)

    def _request_block(self) -> None:
        self._request_timer = None
        download = self.download
        if download is None or not self.online:
            return
        self._last_request = self.clock.now
        maximum = self.han.dut.pixit.maximum_data_size
        if (self.fault == "overlap" and not download.overlapped
                and download.offset >= max(download.size // 4, maximum)):
            # Asks again for half of the block it already has, then on from there.
            download.overlapped = True
            download.offset -= maximum // 2
        fields = {
            "manufacturer_code": download.manufacturer_code,
            "image_type": download.image_type,
            "file_version": download.file_version,
            "file_offset": download.offset,
            "maximum_data_size": maximum,
        }
        if self.page_size:
            fields.update(page_size=self.page_size,
                          response_spacing=self.minimum_block_period_ms)
            self._send(download.server, "image_page_request", fields)
        else:
            fields["block_request_delay"] = self.minimum_block_period_ms
            self._send(download.server, "image_block_request", fields)

    def _on_image_block_response(self, sender: Node, zcl: Zcl) -> None:
        download = self.download
        if download is None:
            return
        paged = False
        if not self._answers(sender, zcl, "image_block_request"):
            paged = self._answers(sender, zcl, "image_page_request")
            if not paged:
                return
        if not self._trusted(sender) and not self.has_fault("obeys-cad-responses"):
            return
        fields = zcl.fields
        status = fields["status"]
        if paged and status == ota.SUCCESS:
            self._on_page_block(download, fields)
            return
        self._clear_pending()
        self.failures = 0
        if status == ota.WAIT_FOR_DATA:
            if fields["minimum_block_period"]:
                self.minimum_block_period_ms = fields["minimum_block_period"]
            wait = max(fields["request_time"] - fields["current_time"], 0)
            if self.has_fault("ignores-wait-for-data"):
                wait = 0
            self._schedule_request(max(wait, self._paced_delay()))
            return
        if status != ota.SUCCESS:
            self.download = None
            self.status = STATUS_NORMAL
            return
        if fields["file_offset"] != download.offset:
            self._schedule_request(self._paced_delay())  # not the block asked for: ask again
            return
        self._store(download, fields["data"])
        if download.offset >= download.size:
            self._downloaded()
        else:
            self._schedule_request(self._paced_delay())

    def _store(self, download: Download, data: bytes) -> None:
        """A block at the download's offset: keep it and move on."""
        end = download.offset + len(data)
        download.data[download.offset : end] = data
        download.offset = end
        if (self.has_fault("skips-offset") and not download.skipped
                and end >= download.size // 4 and end + 2 * len(data) < download.size):
            download.skipped = True
            download.offset += len(data)

    def _on_page_block(self, download: Download, fields: dict) -> None:
        """One Image Block Response of a page: kept if it is the next block; the page is
        over with its last block (whatever was lost before it: the next page request asks
        from the first byte missing) or when the file is complete."""
        pending = self.pending
        assert pending is not None
        data = fields["data"]
        if fields["file_offset"] == download.offset:
            self._store(download, data)
            self.failures = 0
        page_end = min(pending.fields["file_offset"] + self.page_size, download.size)
        if download.offset >= download.size:
            self._clear_pending()
            self._downloaded()
        elif fields["file_offset"] + len(data) >= page_end:
            self._clear_pending()
            self._schedule_request(self._paced_delay())
        else:
            pending.timer.cancel()
            pending.timer = self.later(RESPONSE_TIMEOUT_S, self._timed_out)

    def _downloaded(self) -> None:
        download = self.download
        assert download is not None
        data = bytes(download.data[: download.size])
        try:
            ota_file = parse_ota_file(data)
            valid = integrity_ok(data) is not False
        except DecodeError:
            ota_file, valid = None, False
        status = ota.SUCCESS
        if not valid and not self.has_fault("accepts-invalid-image"):
            status = ota.INVALID_IMAGE
            self.download = None
            self.status = STATUS_NORMAL
        elif ota_file is not None:
            index, count = part_of(ota_file)
            self.downloaded_version = download.file_version
            if index + 1 < count and not self.has_fault("single-part-end"):
                status = ota.REQUIRE_MORE_IMAGE
                self.download = None
                self.status = STATUS_WAIT_FOR_MORE
            else:
                self.status = STATUS_COMPLETE
        self._send(download.server, "upgrade_end_request", {
            "status": status,
            "manufacturer_code": download.manufacturer_code,
            "image_type": download.image_type,
            "file_version": download.file_version,
        })

    def _on_default_response(self, sender: Node, zcl: Zcl) -> None:
        """The CHF's acknowledgement of an Upgrade End Request other than SUCCESS."""
        if self._answers(sender, zcl, "upgrade_end_request"):
            self._clear_pending()

    def _on_upgrade_end_response(self, sender: Node, zcl: Zcl) -> None:
        if not self._answers(sender, zcl, "upgrade_end_request"):
            return  # BAN-2: an unsolicited Upgrade End Response activates nothing
        self._clear_pending()
        fields = zcl.fields
        upgrade_time, current = fields["upgrade_time"], fields["current_time"]
        if upgrade_time == UPGRADE_TIME_WAIT:
            return
        delay = max(upgrade_time - current, 0) if upgrade_time else 0
        self.later(delay + ACTIVATION_GRACE_S, self._activate)

    def _activate(self) -> None:
        """Restart into the downloaded image: off the air, then back with the new version."""
        self.download = None
        self.status = STATUS_NORMAL
        self.han.air.power(self.radio, False)
        if not self.has_fault("reports-old-version"):
            self.current_version = self.downloaded_version
        self.later(RESTART_S, self._back_after_restart)

    def _back_after_restart(self) -> None:
        self.han.air.power(self.radio, True)
        if self.announce_version:
            self._report_version()

    def _report_version(self) -> None:
        """ZCL Report Attributes of CurrentFileVersion (the version-event option, VER-5)."""
        record = {"attribute": ota.CURRENT_FILE_VERSION,
                  "data_type": ota.ATTRIBUTE_TYPES[ota.CURRENT_FILE_VERSION],
                  "value": self.current_version}
        zcl = make_zcl("report_attributes", {"records": [record]}, self.next_zcl_seq())
        self.announced = True
        self.send_zcl(self.server, zcl, ota.CLUSTER_ID)

    def _attribute(self, attribute: int) -> object | None:
        download = self.download
        return {
            ota.UPGRADE_SERVER_ID: self.upgrade_server_id,
            ota.FILE_OFFSET: self.file_offset,
            ota.CURRENT_FILE_VERSION: self.current_version,
            ota.CURRENT_ZIGBEE_STACK_VERSION: self.node.stack_version,
            ota.DOWNLOADED_FILE_VERSION: (download.file_version if download is not None
                                          else self.downloaded_version),
            ota.IMAGE_UPGRADE_STATUS: self.status,
            ota.MANUFACTURER_ID: self.node.manufacturer_code,
            ota.IMAGE_TYPE_ID: self.node.image_type,
            ota.MINIMUM_BLOCK_PERIOD: self.minimum_block_period_ms,
        }.get(attribute)

    def _on_read_attributes(self, sender: Node, zcl: Zcl) -> None:
        if self.announced and self.has_fault("silent-after-event"):
            return
        records = []
        for attribute in zcl.fields["attributes"]:
            value = self._attribute(attribute)
            if value is None:
                records.append({"attribute": attribute, "status": UNSUPPORTED_ATTRIBUTE,
                                "data_type": None, "value": None})
            else:
                records.append({"attribute": attribute, "status": 0,
                                "data_type": ota.ATTRIBUTE_TYPES[attribute], "value": value})
        response = make_zcl("read_attributes_response", {"records": records}, zcl.seq)
        self.later(PROCESSING_S, self.send_zcl, sender, response, ota.CLUSTER_ID)

    # ---- failures ------------------------------------------------------------------------

    def _timed_out(self) -> None:
        pending = self.pending
        self.pending = None
        if pending is None or not self.online:
            return
        self.failures += 1
        if self.failures >= MAX_FAILURES:
            self._give_up(pending)
            return
        if pending.command in ("image_block_request", "image_page_request"):
            if self.has_fault("restarts-from-zero") and self.download is not None:
                self.download.offset = 0
            self._request_block()
        else:
            self._send(pending.peer, pending.command, pending.fields)

    def _give_up(self, pending: Pending) -> None:
        """FRAG-4: a download the client cannot finish ends with ABORT, never activation."""
        self.failures = 0
        download = self.download
        self.status = STATUS_NORMAL
        if download is None or pending.command not in ("image_block_request",
                                                       "image_page_request"):
            return
        self.download = None
        self._send(download.server, "upgrade_end_request", {
            "status": ota.ABORT,
            "manufacturer_code": download.manufacturer_code,
            "image_type": download.image_type,
            "file_version": download.file_version,
        }, expect=False)

    def reset(self, off_for: float = RESET_OFF_S) -> None:
        """An unplanned reset: off the air; back (rejoining with a new short address in
        the rejoin variant), it queries again and resumes the download from FileOffset."""
        self._clear_pending()
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None
        self.han.air.power(self.radio, False)
        self.later(off_for, self._back_after_reset)

    def _back_after_reset(self) -> None:
        self.han.air.power(self.radio, True)
        if self.rejoins:
            self.rejoin()
        if self.download is not None and self.has_fault("restarts-from-zero"):
            self.download.offset = 0
        self.later(RESTART_QUERY_S, self._query_after_restart)

    def _query_after_restart(self) -> None:
        """A restarted client asks its server again; the answer (the same image) resumes
        the download it kept (``_on_query_next_image_response``)."""
        if self.pending is None and self._request_timer is None:
            self.query()
