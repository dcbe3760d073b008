"""The exchanges of the contract: each a short script of what the supplier, the DCC and
the nodes do, on the virtual clock.

Why scripts over one HAN: every exchange runs the same node logic; a script only says
who gets which image when, and what goes wrong on purpose (a reset, a silent CHF, a
switched-off PPMID), so a fault profile applied to a node shows in every exchange.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hanota.dut.description import Image
from hanota.dut.images import needs_split
from hanota.emulators.cad import RogueCad
from hanota.emulators.chf import CommsHub
from hanota.emulators.client import OtaClient
from hanota.emulators.station import Han, Station
from hanota.emulators.wan import cs08_command

SCENARIOS: dict[str, str] = {
    "upgrade": "image ppmid for the PPMID: notify, query, paced blocks with a WAIT_FOR_DATA "
               "episode and a meter read, end, read-back, CCS08 + CS08 alerts; the HCALCS "
               "queries and gets NO_IMAGE_AVAILABLE",
    "upgrade-large": "image ppmid-large above the image store limit, sent as several OTA "
                     "files (REQUIRE_MORE_IMAGE for all but the last part)",
    "upgrade-hw-mismatch": "image whose hardware range excludes the PPMID: NO_IMAGE_AVAILABLE, "
                           "CCS08 0x8F89 response code 2",
    "upgrade-no-hw-version": "like upgrade, the PPMID's query carries no hardware version",
    "upgrade-invalid-image": "image with a wrong integrity code: INVALID_IMAGE, old version "
                             "kept, CCS08 0x8F89 response code 3",
    "upgrade-lossy": "upgrade with 10 % frame loss and a PPMID reset mid-download: resumes "
                     "from FileOffset",
    "upgrade-abandoned": "the CHF goes silent mid-download: the PPMID ends with ABORT, "
                         "CCS08 0x8F89 response code 3",
    "downgrade": "image with a lower file version: accepted or refused (Upgrade End Request "
                 "ABORT without download) per PICS downgrade_accepted",
    "read-version": "SR 11.2 CS08 command answered after a HAN read; again with the PPMID "
                    "switched off: Read Failure",
    "rogue-cad": "the CAD offers firmware (notify, unsolicited responses), ignored; then a "
                 "genuine upgrade through the CHF",
    "ihd-refused": "an image for the IHD is refused; the IHD's own query gets "
                   "NO_IMAGE_AVAILABLE",
    "two-devices": "PPMID and HCALCS images from two suppliers, interleaved downloads, own "
                   "alerts to each requester",
    "version-event": "like upgrade, the PPMID also reports its new CurrentFileVersion itself",
}

LOSSY_LOSS = 0.10
RESET_AT_FRACTION = 0.4
ABANDON_AT_FRACTION = 0.5
SWITCH_OFF_AT_S = 120.0
METER_READS_FROM_S = 30.0
WATCH_PERIOD_S = 5.0


@dataclass
class Stage:
    """The nodes of one run and what the script still waits for."""

    han: Han
    chf: CommsHub
    clients: dict[str, OtaClient]
    cad: RogueCad | None
    repeaters: dict[str, Station] = field(default_factory=dict)
    expected_responses: int = 0
    steps_left: int = 0

    def at(self, when: float, action: Callable[..., object], *args: object) -> None:
        """Run ``action`` at virtual time ``when``; the run lasts at least until then."""
        self.steps_left += 1

        def step() -> None:
            self.steps_left -= 1
            action(*args)

        self.han.clock.call_at(when, step)

    def finished(self) -> bool:
        wan = self.chf.wan.messages
        responses = sum(message.kind == "response" for message in wan)
        return (self.steps_left == 0 and responses >= self.expected_responses
                and all(transfer.closed for transfer in self.chf.transfers.values()))


def _image(stage: Stage, target: str, wanted: Callable[[Image], bool], what: str) -> str:
    dut = stage.han.dut
    for image in dut.images.values():
        if image.target == target and wanted(image):
            return image.name
    raise ValueError(f"the DUT description has no image {what} for {target!r}")


def _ppmid(stage: Stage) -> OtaClient:
    return next(c for c in stage.clients.values() if c.node.kind == "ppmid")


def _hcalcs(stage: Stage) -> OtaClient:
    return next(c for c in stage.clients.values() if c.node.kind == "hcalcs")


def _in_range(image: Image, hardware: int | None) -> bool:
    low, high = image.min_hardware_version, image.max_hardware_version
    return hardware is None or ((low is None or hardware >= low)
                                and (high is None or hardware <= high))


def _upgrade_image(stage: Stage, client: OtaClient, *, large: bool = False) -> str:
    """The image an ordinary upgrade of ``client`` uses: newer, sound, within its hardware
    range, and within the CHF's image store (or above it, for the large-image exchange)."""
    dut = stage.han.dut
    current, hardware = client.current_version, client.node.hardware_version

    def wanted(image: Image) -> bool:
        return (image.file_version > current and not image.corrupt
                and _in_range(image, hardware) and needs_split(dut, image) == large)

    what = "above the image store limit" if large else "for an ordinary upgrade"
    return _image(stage, client.node.name, wanted, what)


def _deliver(stage: Stage, image: str, supplier: str | None = None) -> None:
    pixit = stage.han.dut.pixit
    stage.at(1.0, stage.chf.deliver_image, image, supplier or pixit.supplier_id)


def _upgrade(stage: Stage) -> None:
    _deliver(stage, _upgrade_image(stage, _ppmid(stage)))
    hcalcs = _hcalcs(stage)
    hcalcs.send_hardware_version = False  # NOTIFY-3 seen on a query without one
    stage.at(20.0, hcalcs.query)


def _upgrade_large(stage: Stage) -> None:
    _deliver(stage, _upgrade_image(stage, _ppmid(stage), large=True))


def _hw_mismatch(stage: Stage) -> None:
    ppmid = _ppmid(stage)
    hardware = ppmid.node.hardware_version or 0
    _deliver(stage, _image(stage, ppmid.node.name, lambda image: not _in_range(image, hardware),
                           "excluding its hardware version"))


def _no_hw_version(stage: Stage) -> None:
    _ppmid(stage).send_hardware_version = False
    _upgrade(stage)


def _invalid(stage: Stage) -> None:
    ppmid = _ppmid(stage)
    _deliver(stage, _image(stage, ppmid.node.name, lambda i: i.corrupt, "marked corrupt"))


def _watch(stage: Stage, condition: Callable[[], bool], action: Callable[[], None]) -> None:
    """Run ``action`` once, at the first check (every few seconds) where ``condition``."""

    def check() -> None:
        if condition():
            action()
        else:
            stage.han.clock.call_later(WATCH_PERIOD_S, check)

    stage.han.clock.call_later(WATCH_PERIOD_S, check)


def _reset_mid_download(stage: Stage, client: OtaClient) -> None:
    """Reset ``client`` once, when its download has got RESET_AT_FRACTION of the way."""

    def progressed() -> bool:
        download = client.download
        return download is not None and download.offset >= RESET_AT_FRACTION * download.size

    _watch(stage, progressed, client.reset)


def _lossy(stage: Stage) -> None:
    ppmid = _ppmid(stage)
    _reset_mid_download(stage, ppmid)
    _deliver(stage, _upgrade_image(stage, ppmid))


def _abandoned(stage: Stage) -> None:
    stage.chf.stop_serving_at = ABANDON_AT_FRACTION
    _deliver(stage, _upgrade_image(stage, _ppmid(stage)))


def _downgrade(stage: Stage) -> None:
    ppmid = _ppmid(stage)
    current = ppmid.current_version
    _deliver(stage, _image(stage, ppmid.node.name, lambda i: i.file_version < current,
                           "with a lower file version than the current"))


def _read_version(stage: Stage) -> None:
    dut = stage.han.dut
    ppmid = _ppmid(stage)
    supplier = dut.pixit.supplier_id
    stage.expected_responses = 2
    stage.at(1.0, stage.chf.wan_command, cs08_command(supplier, ppmid.node.eui64, 1))
    stage.at(SWITCH_OFF_AT_S, stage.han.air.power, ppmid.radio, False)
    stage.at(SWITCH_OFF_AT_S + 10, stage.chf.wan_command,
             cs08_command(supplier, ppmid.node.eui64, 2))


def _rogue_cad(stage: Stage) -> None:
    if stage.cad is None:
        raise ValueError("the DUT description has no node of kind 'cad'")
    stage.at(1.0, stage.cad.attack, _ppmid(stage).node)
    stage.at(60.0, stage.chf.deliver_image, _upgrade_image(stage, _ppmid(stage)),
             stage.han.dut.pixit.supplier_id)


def _ihd_refused(stage: Stage) -> None:
    ihd = next(c for c in stage.clients.values() if c.node.kind == "ihd")
    _deliver(stage, _image(stage, ihd.node.name, lambda i: True, "at all"))
    stage.at(10.0, ihd.query)


def _two_devices(stage: Stage) -> None:
    pixit = stage.han.dut.pixit
    hcalcs = _hcalcs(stage)
    _deliver(stage, _upgrade_image(stage, _ppmid(stage)), pixit.supplier_id)
    _deliver(stage, _upgrade_image(stage, hcalcs), pixit.second_supplier_id)


def _version_event(stage: Stage) -> None:
    _ppmid(stage).announce_version = True
    _upgrade(stage)


SCRIPTS: dict[str, Callable[[Stage], None]] = {
    "upgrade": _upgrade,
    "upgrade-large": _upgrade_large,
    "upgrade-hw-mismatch": _hw_mismatch,
    "upgrade-no-hw-version": _no_hw_version,
    "upgrade-invalid-image": _invalid,
    "upgrade-lossy": _lossy,
    "upgrade-abandoned": _abandoned,
    "downgrade": _downgrade,
    "read-version": _read_version,
    "rogue-cad": _rogue_cad,
    "ihd-refused": _ihd_refused,
    "two-devices": _two_devices,
    "version-event": _version_event,
}
DEFAULT_LOSS = {"upgrade-lossy": LOSSY_LOSS}
RESETTING = {"upgrade-lossy"}  # exchanges whose script resets the PPMID mid-download


def apply_variant_scripts(stage: Stage, scenario: str) -> None:
    """What a HAN variant adds to an exchange's script. rejoin: the PPMID rejoins with
    a new short address after its reset, and resets mid-download where the exchange has
    no reset of its own."""
    han = stage.han
    if han.has_variant("rejoin") and any(c.node.kind == "ppmid" for c in stage.clients.values()):
        ppmid = _ppmid(stage)
        ppmid.rejoins = True
        if scenario not in RESETTING:
            _reset_mid_download(stage, ppmid)
