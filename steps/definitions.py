"""Step definitions: thin, each calls one thing in verify/ (or picks the trace).

Text of the steps is what the .feature files say; the checks behind them are in
verify/checks/<area>.py, named in each step.
"""

from __future__ import annotations

from hanota.dut.situations import by_phrase
from hanota.steps.context import ScenarioContext
from hanota.targets.base import SituationNotRecorded
from hanota.verify.checks import (
    activation,
    block_transfer,
    concurrency,
    local_upgrade_ban,
    notification,
    scope,
    version_report,
)
from hanota.verify.verdicts import NotApplicable
from pytest_bdd import given, parsers, then

# ---- Given / When --------------------------------------------------------------------


@given(parsers.parse('the device "{node}"'))
def device_under_judgement(ota: ScenarioContext, node: str) -> None:
    """The PPMID/HCALCS the scenario is about; with DUT role "device" only the DUT's node
    is under test (another device is a reference, so device-side rules on it are N/A)."""
    ota.node = node
    dut = ota.dut
    if node not in dut.nodes:
        ota.not_applicable(f"the DUT description has no node {node!r}")
    if ota.role == "device" and dut.role == "device" and node != dut.dut_node:
        ota.not_applicable(f"{node} is not the device under test ({dut.dut_node})")


@given(parsers.parse("the image goes {delivery}"))
def image_delivery(ota: ScenarioContext, delivery: str) -> None:
    """"in parts": the scenario is about an image sent as several OTA files."""
    ota.image_in_parts = delivery == "in parts"


@given(parsers.parse("the PICS claims {option}"))
def pics_claims(ota: ScenarioContext, option: str) -> None:
    """A PICS gate before anything runs: NOT APPLICABLE when the option is not claimed."""
    if not getattr(ota.dut.pics, option):
        ota.not_applicable(f"the PICS does not claim {option}")


@given(parsers.parse("a capture of {phrase}"))
def capture_of(ota: ScenarioContext, phrase: str) -> None:
    """The trace of the situation (``hanota.dut.situations``): the emulator's run of it, the
    capture a capture set recorded for it, the replayed or live capture."""
    ota.situation = by_phrase(phrase)
    try:
        ota.trace = ota.target.trace(ota.situation)
    except SituationNotRecorded as missing:
        ota.inconclusive(str(missing))
    except ValueError as error:  # e.g. the DUT description lacks what the run needs
        ota.inconclusive(f"the {ota.target.name} target cannot provide the situation "
                         f"{ota.situation.id!r} for this DUT description: {error}")


@given("each device's update was requested by the supplier the DUT description names "
       "(PIXIT requesters)")
def requested_as_described(ota: ScenarioContext) -> None:
    ota.requesters = ota.dut.requesters()


# ---- Then: scope ---------------------------------------------------------------------


@then("the device downloads and activates its image through the Comms Hub")
def type1_upgrade(ota: ScenarioContext) -> None:
    ota.judge(scope.check_type1_upgrade, ota.node)


@then("the Comms Hub offers the IHD no image and refuses its query")
def ihd_excluded(ota: ScenarioContext) -> None:
    ota.judge(scope.check_ihd_excluded)


@then("the Comms Hub uses nothing but standard ZigBee OTA commands with the device")
def standard_cluster_only(ota: ScenarioContext) -> None:
    ota.judge(scope.check_standard_cluster_only, ota.node)


# ---- Then: notification ----------------------------------------------------------------


@then(parsers.parse("the Comms Hub sends the device a unicast Image Notify with a query "
                    "jitter of {low:d} to {high:d}"))
def image_notify(ota: ScenarioContext, low: int, high: int) -> None:
    ota.judge(notification.check_image_notify, ota.node, (low, high))


@then(parsers.parse("the device answers the Image Notify with a Query Next Image Request "
                    "within the query jitter (PIXIT query_jitter, read as seconds) and "
                    "{answer:d} s"))
def device_queries(ota: ScenarioContext, answer: int) -> None:
    ota.judge(notification.check_device_queries, ota.node, float(answer))


@then("the Comms Hub answers SUCCESS with the held image's manufacturer code, image type, "
      "file version and size")
def query_answered(ota: ScenarioContext) -> None:
    ota.judge(notification.check_query_answered, ota.node)


@then("every device that is not the image's target gets NO_IMAGE_AVAILABLE")
def non_target_refused(ota: ScenarioContext) -> None:
    ota.judge(notification.check_non_target_refused)


@then("the Comms Hub answers NO_IMAGE_AVAILABLE and reports Hardware Version Mismatch")
def hardware_mismatch(ota: ScenarioContext) -> None:
    ota.judge(notification.check_hardware_mismatch, ota.node)


@then("a query without hardware version still gets the image")
def hardware_optional(ota: ScenarioContext) -> None:
    ota.judge(notification.check_hardware_optional, ota.node)


# ---- Then: block transfer --------------------------------------------------------------


@then("every block response serves exactly the requested bytes of the OTA file")
def block_responses(ota: ScenarioContext) -> None:
    ota.judge(block_transfer.check_block_responses, ota.node)


@then("the device's block requests cover the file without gaps or overlaps")
def block_requests(ota: ScenarioContext) -> None:
    ota.judge(block_transfer.check_block_requests, ota.node, ota.image_in_parts)


@then("every WAIT_FOR_DATA carries a current time, a later request time and a block period")
def wait_for_data_sent(ota: ScenarioContext) -> None:
    ota.judge(block_transfer.check_wait_for_data_sent, ota.node)


@then("the device waits until the request time and asks again for the same offset")
def wait_for_data_honoured(ota: ScenarioContext) -> None:
    ota.judge(block_transfer.check_wait_for_data_honoured, ota.node)


@then("the device asks for blocks no faster than the minimum block period the Comms Hub "
      "gave")
def pacing(ota: ScenarioContext) -> None:
    ota.judge(block_transfer.check_pacing, ota.node)


@then("after a lost request or a reset the device resumes from its last good offset, "
      "never from zero")
def resume(ota: ScenarioContext) -> None:
    ota.judge(block_transfer.check_resume, ota.node)


@then("the device ends the download with ABORT or a time-out and never activates it")
def unfinished_download(ota: ScenarioContext) -> None:
    ota.judge(block_transfer.check_unfinished_download, ota.node)


@then("the device answers REQUIRE_MORE_IMAGE for every part but the last")
def large_image_device(ota: ScenarioContext) -> None:
    ota.judge(block_transfer.check_large_image_device, ota.node)


@then("the Comms Hub sends the image as several OTA files within its store limit (PIXIT "
      "image_store_limit)")
def large_image_chf(ota: ScenarioContext) -> None:
    ota.judge(block_transfer.check_large_image_chf, ota.node)


@then(parsers.parse("a meter read during the download is answered within {seconds:d} s"))
def han_served(ota: ScenarioContext, seconds: int) -> None:
    ota.judge(block_transfer.check_han_served, ota.node, float(seconds))


# ---- Then: activation ------------------------------------------------------------------


@then("the Comms Hub answers Upgrade End Request SUCCESS with upgrade_time 0 or equal to "
      "current_time")
def upgrade_now(ota: ScenarioContext) -> None:
    ota.judge(activation.check_upgrade_now, ota.node)


@then("the device runs the image's version and still answers the Comms Hub")
def new_version_running(ota: ScenarioContext) -> None:
    ota.judge(activation.check_new_version_running, ota.node)


@then("the device refuses the corrupt image with INVALID_IMAGE and keeps its version")
def invalid_image_refused(ota: ScenarioContext) -> None:
    ota.judge(activation.check_invalid_image_refused, ota.node)


@then("the Comms Hub reports the refused image as a failure")
def invalid_image_reported(ota: ScenarioContext) -> None:
    ota.judge(activation.check_invalid_image_reported, ota.node)


@then("the device accepts or refuses the lower version as its PICS declares "
      "(downgrade_accepted)")
def downgrade(ota: ScenarioContext) -> None:
    ota.judge(activation.check_downgrade, ota.node)


# ---- Then: version report --------------------------------------------------------------


@then(parsers.parse("the Comms Hub reads CurrentFileVersion after the read-back time-out "
                    "(PIXIT readback_timeout_s) and within {grace:d} s of it"))
def readback(ota: ScenarioContext, grace: int) -> None:
    ota.judge(version_report.check_readback, ota.node, float(grace))


@then(parsers.parse("the device answers the read with its running version within "
                    "{answer:d} s"))
def version_answered(ota: ScenarioContext, answer: int) -> None:
    ota.judge(version_report.check_version_answered, ota.node, float(answer))


@then(parsers.parse("the CS08 alert carries the version read, and activateImage "
                    "{success:d} (Success) when it equals the image's file version, else "
                    "{failure:d} (Failure)"))
def cs08_alert(ota: ScenarioContext, success: int, failure: int) -> None:
    ota.judge(version_report.check_cs08_alert, ota.node, (success, failure))


@then(parsers.parse("the HAN shows {outcome} and the CCS08 alert carries alert code "
                    "{alert_code} and response code {response_codes}"))
def ccs08_alert(ota: ScenarioContext, outcome: str, alert_code: str,
                response_codes: str) -> None:
    """The expected codes come from the Examples row; a DUT description's PIXIT
    ccs08_response_codes, where it gives the outcome, overrides the row's reading."""
    codes = {int(code) for code in response_codes.split(" or ")}
    ota.judge(version_report.check_ccs08_alert, ota.node, outcome, int(alert_code, 16),
              codes)


@then(parsers.parse("each CS08 command is answered after a read: Read Success ({success:d}) "
                    "with the version read, or Read Failure ({failure:d})"))
def sr112(ota: ScenarioContext, success: int, failure: int) -> None:
    ota.judge(version_report.check_sr112, ota.node, (success, failure))


@then("the device still answers the Comms Hub's read after announcing its version")
def event_then_read_device(ota: ScenarioContext) -> None:
    ota.judge(version_report.check_event_then_read_device, ota.node)


@then("the Comms Hub still reads the version and reports the value read")
def read_decides(ota: ScenarioContext) -> None:
    ota.judge(version_report.check_read_decides, ota.node)


@then("every GBCS alert from the Comms Hub carries a valid signature")
def alert_signatures(ota: ScenarioContext) -> None:
    ota.judge(version_report.check_alert_signatures)


# ---- Then: local-upgrade ban -----------------------------------------------------------


@then("the device sends the rogue node no query")
def rogue_notify_ignored(ota: ScenarioContext) -> None:
    ota.judge(local_upgrade_ban.check_rogue_notify_ignored, ota.node)


@then("the device neither downloads from nor activates anything the rogue node offers")
def rogue_responses_ignored(ota: ScenarioContext) -> None:
    ota.judge(local_upgrade_ban.check_rogue_responses_ignored, ota.node)


@then("the device keeps its version and a genuine upgrade through the Comms Hub works")
def genuine_after_rogue(ota: ScenarioContext) -> None:
    ota.judge(local_upgrade_ban.check_genuine_after_rogue, ota.node)


@then("the internet update path is reported as outside this suite")
def cad_update_path(ota: ScenarioContext) -> None:
    try:
        local_upgrade_ban.check_cad_update_path(ota.dut)
    except NotApplicable as verdict:
        ota.not_applicable(verdict.reason)


# ---- Then: concurrency -----------------------------------------------------------------


@then("each device gets its own image and its own alerts")
def own_images(ota: ScenarioContext) -> None:
    ota.judge(concurrency.check_own_images)


@then("each device's alerts go to the supplier that requested its update")
def alerts_to_requester(ota: ScenarioContext) -> None:
    ota.judge(concurrency.check_alerts_to_requester, ota.requesters)
