"""The emulated DCC's DUIS delivery: each WAN message of a run POSTed to a receive endpoint.

Why: a supplier receives the CHF's GBCS as DUIS pushed by the DCC (or DCC Boxed) to its
endpoint; ``hanota emulate --duis-post URL`` does the same, so a live run can judge the
WAN rules with the HAN frames streamed over ZEP. Mapping (DUIS schema element names):

- alert -> ``DeviceAlertMessage`` (AlertCode: the GBCS alert code, e.g. ``8F8A``),
  ResponseID ``CHF:recipient:counter``;
- response -> ``ResponseMessage`` of SRV 11.2 with the GBCS in ``GBCSPayload``,
  RequestID ``supplier:device:command counter`` (pairs it with its request) and
  ResponseID ``device:supplier:counter``;
- command -> ``ResponseMessage`` of SRV 11.2 with the GBCS in ``LocalCommand`` (how DUIS
  returns a copy of the command sent, Command Variant 3), RequestID as its response's.

The ResponseDateTime is the message's virtual time to the microsecond, so a live trace
places it against the HAN frames exactly as a replay of the ``.gbcs.hex`` file does.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable

from hanota.emulators.wan import WanMessage
from hanota.layers.duis import (
    DEVICE_ALERT,
    RESPONSE,
    DuisId,
    DuisMessage,
    format_duis_time,
    write_duis,
)
from hanota.layers.gbcs import decode_gbcs

SERVICE_REFERENCE_READ_FIRMWARE_VERSION = "11.2"
POST_TIMEOUT_S = 10.0


def duis_message(message: WanMessage) -> DuisMessage:
    """The DUIS Response that delivers one of the emulated CHF's WAN messages."""
    decoded = decode_gbcs(message.data)
    apdu = decoded.apdu
    stamp = format_duis_time(message.time)
    common = {"response_code": "I0", "response_date_time": stamp, "time": message.time,
              "gbcs": message.data}
    if message.kind == "alert":
        alert_code = getattr(decoded.payload, "alert_code", None)
        if alert_code is None:
            raise ValueError(f"alert 0x{apdu.message_code:04X} carries no alert code")
        return DuisMessage(
            body=DEVICE_ALERT, alert_code=f"{alert_code:04X}",
            response_id=DuisId(apdu.originator, apdu.recipient, apdu.originator_counter),
            **common)
    if message.kind == "response":
        supplier, device = apdu.recipient, apdu.originator
        request = DuisId(supplier, device, apdu.originator_counter)
        return DuisMessage(
            body=RESPONSE, request_id=request,
            response_id=DuisId(device, supplier, apdu.originator_counter),
            service_reference=SERVICE_REFERENCE_READ_FIRMWARE_VERSION,
            service_reference_variant=SERVICE_REFERENCE_READ_FIRMWARE_VERSION, **common)
    return DuisMessage(
        body=RESPONSE, gbcs_holder="LocalCommand",
        request_id=DuisId(apdu.originator, apdu.recipient, apdu.originator_counter),
        service_reference=SERVICE_REFERENCE_READ_FIRMWARE_VERSION,
        service_reference_variant=SERVICE_REFERENCE_READ_FIRMWARE_VERSION, **common)


def post_duis(url: str, messages: Iterable[WanMessage]) -> list[str]:
    """POST each message as one DUIS document (``application/xml``), in order; returns
    one line per message (status, or the refusal the receiver gave)."""
    report = []
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    for message in messages:
        body = write_duis(duis_message(message)).encode("utf-8")
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/xml"})
        try:
            with opener.open(request, timeout=POST_TIMEOUT_S) as answer:
                report.append(f"{message.kind} -> {answer.status}")
        except urllib.error.HTTPError as error:
            reason = error.read().decode("utf-8", "replace").strip()
            raise ValueError(f"DUIS POST of a {message.kind} refused: {error.code} {reason}"
                             ) from None
        except (urllib.error.URLError, OSError) as error:
            raise ValueError(f"DUIS POST to {url} failed: {error}") from None
    return report
