"""Every check of the suite run on one trace, as the Gherkin scenarios run them: the
judge of a whole capture in one call, for tests that change captures the way real ones
differ and require that a conformant implementation never gets a FAIL.
"""

from __future__ import annotations

from collections.abc import Callable

from hanota.dut.description import DEVICE_KINDS
from hanota.verify.checks import (
    activation,
    block_transfer,
    concurrency,
    local_upgrade_ban,
    notification,
    scope,
    version_report,
)
from hanota.verify.trace import Trace
from hanota.verify.verdicts import Evidence, Verdict

NODE_CHECKS = [
    scope.check_type1_upgrade, scope.check_standard_cluster_only,
    notification.check_image_notify, notification.check_device_queries,
    notification.check_query_answered, notification.check_hardware_mismatch,
    notification.check_hardware_optional,
    block_transfer.check_block_responses, block_transfer.check_block_requests,
    block_transfer.check_wait_for_data_sent, block_transfer.check_wait_for_data_honoured,
    block_transfer.check_pacing, block_transfer.check_resume,
    block_transfer.check_unfinished_download, block_transfer.check_large_image_device,
    block_transfer.check_large_image_chf, block_transfer.check_han_served,
    activation.check_upgrade_now, activation.check_new_version_running,
    activation.check_invalid_image_refused, activation.check_invalid_image_reported,
    activation.check_downgrade,
    version_report.check_readback, version_report.check_version_answered,
    version_report.check_cs08_alert, version_report.check_sr112,
    version_report.check_event_then_read_device, version_report.check_read_decides,
    local_upgrade_ban.check_rogue_notify_ignored, local_upgrade_ban.check_rogue_responses_ignored,
    local_upgrade_ban.check_genuine_after_rogue,
]
TRACE_CHECKS = [scope.check_ihd_excluded, notification.check_non_target_refused,
                version_report.check_alert_signatures, concurrency.check_own_images]


def _runs(trace: Trace) -> list[tuple[str, Callable[..., Evidence], tuple]]:
    devices = [n for n, node in trace.dut.nodes.items() if node.kind in DEVICE_KINDS]
    runs = [(f"{check.__name__}[{name}]", check, (trace, name))
            for check in NODE_CHECKS for name in devices]
    runs += [(f"check_ccs08_alert[{name}, {row}]", version_report.check_ccs08_alert,
              (trace, name, row)) for name in devices for row in version_report.OUTCOMES]
    runs += [(f"check_block_requests[{name}, in parts]", block_transfer.check_block_requests,
              (trace, name, True)) for name in devices]
    requesters = {devices[0]: trace.dut.pixit.supplier_id}
    if len(devices) > 1:
        requesters[devices[1]] = trace.dut.pixit.second_supplier_id
    runs.append(("check_alerts_to_requester", concurrency.check_alerts_to_requester,
                 (trace, requesters)))
    runs += [(check.__name__, check, (trace,)) for check in TRACE_CHECKS]
    return runs


def judge_all(trace: Trace) -> dict[str, str]:
    """Every check's verdict on ``trace``: PASS, FAIL, INCONCLUSIVE, NOT APPLICABLE, or
    ERROR with the exception (a defect: nothing may escape a check but a verdict)."""
    verdicts = {}
    for label, check, args in _runs(trace):
        try:
            check(*args).conclude()
        except Verdict as verdict:
            verdicts[label] = f"{verdict.label or 'FAIL'}: {verdict.reason}"
            continue
        except Exception as error:
            verdicts[label] = f"ERROR: {type(error).__name__}: {error}"
            continue
        verdicts[label] = "PASS"
    return verdicts


def failures(verdicts: dict[str, str]) -> dict[str, str]:
    """The FAIL and ERROR verdicts."""
    return {label: v for label, v in verdicts.items() if v.startswith(("FAIL", "ERROR"))}
