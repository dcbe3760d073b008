"""``hanota gbcs``: decode GBCS messages (0xDF / 0xDD), check signatures and GMAC tags.

A test house looks at the CHF's alerts with this, in whatever form it holds them: a DUIS
XML response or alert (several per file, or a directory of them), base64, hex with or
without separators, or the suite's own ``UNIX-time HEX`` files. It says which field
broke and where when a message does not decode; with a keystore directory (``--certs``)
it says whether the signature verifies with the originator's digital-signing
certificate and whether the General Ciphering GMAC verifies with the parties'
key-agreement keys.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hanota.layers.duis import DuisMessage
from hanota.layers.gbcs import GbcsMessage, decode_gbcs, verify_apdu
from hanota.layers.gbcs_gmac import GMAC_NO_KEY, gmac_status
from hanota.layers.gbcs_text import GbcsTextError
from hanota.layers.gbcs_usecases import use_case_of
from hanota.layers.model import DecodeError
from hanota.layers.wan_text import WanInput, parse_wan_text
from hanota.targets.keystore import RTDS_ACCESS_CONTROL_BROKER, Keystore, load_keystore
from hanota.targets.wan_input import read_wan_inputs

CRA_NAMES = {1: "command", 2: "response", 3: "alert"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", metavar="INPUT",
                        help="a file or directory (DUIS XML, hex, base64, UNIX-time HEX "
                        "lines), or a hex / base64 string")
    parser.add_argument("--json", action="store_true", help="print one JSON object per message")
    parser.add_argument(
        "--certs", type=Path, metavar="DIR",
        help="keystore: <eui-64>-ds.pem certificates (signatures), <eui-64>-ka.pem and "
        "<eui-64>-ka.key key-agreement keys (GMAC)",
    )
    parser.add_argument("--acb", default=RTDS_ACCESS_CONTROL_BROKER, metavar="EUI64",
                        help="the access control broker whose KA key protects remote "
                        f"parties' commands (default: the RTDS's, {RTDS_ACCESS_CONTROL_BROKER})")


def _read(argument: str) -> list[WanInput]:
    """Messages from a file or directory, else from the argument's own text."""
    path = Path(argument)
    try:
        exists = path.exists()
    except OSError:  # a long hex string is too long to be a file name
        exists = False
    if exists:
        return read_wan_inputs(path)
    try:
        return parse_wan_text(argument, "argument")
    except GbcsTextError:
        shown = argument if len(argument) <= 40 else argument[:37] + "..."
        raise ValueError(f"{shown!r} is neither a file nor hex or base64 of a GBCS "
                         "message") from None


def _signature_status(data: bytes, message: GbcsMessage, keystore: Keystore | None) -> str:
    apdu = message.apdu
    if not apdu.signature_field:
        return "absent (pre-command)"
    if apdu.signature is None:
        return "unsigned"
    if keystore is None:
        return "present"
    certificate = keystore.signing_certificate(apdu.originator)
    if certificate is None:
        return "no certificate for originator"
    return "valid" if verify_apdu(data, certificate) else "INVALID"


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _gbcs_summary(data: bytes, keystore: Keystore | None) -> dict[str, Any]:
    message = decode_gbcs(data)
    apdu = message.apdu
    summary: dict[str, Any] = {
        "framing": "general_ciphering" if message.ciphering else "general_signing",
        "cra_flag": apdu.cra_flag,
        "cra": CRA_NAMES[apdu.cra_flag],
        "originator_counter": apdu.originator_counter,
        "transaction_id": apdu.transaction_id.hex().upper(),
        "originator": apdu.originator,
        "recipient": apdu.recipient,
        "message_code": f"0x{apdu.message_code:04X}",
        "use_case": use_case_of(apdu.message_code),
    }
    if apdu.date_time is not None:
        summary["date_time"] = apdu.date_time.hex().upper()
    optional = ("supplementary_remote_party_id", "supplementary_remote_party_counter",
                "supplementary_originator_counter")
    summary |= {name: getattr(apdu, name) for name in optional
                if getattr(apdu, name) is not None}
    if apdu.key_agreement_certificate is not None:
        summary["key_agreement_certificate"] = f"{len(apdu.key_agreement_certificate)} bytes"
    if message.payload is not None:
        summary["payload"] = {
            name: _plain(getattr(message.payload, name))
            for name in message.payload.__dataclass_fields__
        }
    else:
        summary["payload"] = f"not decoded (use case {use_case_of(apdu.message_code)})"
        summary["content"] = apdu.content.hex().upper()
    if message.ciphering is not None:
        summary["gmac_tag"] = message.ciphering.gmac_tag.hex().upper()
        summary["gmac"] = GMAC_NO_KEY if keystore is None else \
            gmac_status(data, keystore.key_agreement)
    summary["signature"] = _signature_status(data, message, keystore)
    return summary


def _duis_summary(duis: DuisMessage) -> dict[str, Any]:
    summary: dict[str, Any] = {"duis": duis.body, "response_code": duis.response_code,
                               "response_date_time": duis.response_date_time}
    optional = {"service_reference_variant": duis.service_reference_variant,
                "alert_code": duis.alert_code, "gbcs_in": duis.gbcs_holder,
                "request_id": duis.request_id and str(duis.request_id),
                "response_id": duis.response_id and str(duis.response_id)}
    summary |= {name: value for name, value in optional.items() if value is not None}
    summary["xml_signature"] = "present (not verified)" if duis.xml_signature else "absent"
    return summary


def _summary(item: WanInput, keystore: Keystore | None) -> dict[str, Any]:
    summary: dict[str, Any] = {"source": item.source}
    if item.time is not None:
        moment = datetime.fromtimestamp(item.time, UTC)
        summary["time"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if item.duis is not None:
        summary |= _duis_summary(item.duis)
    if item.data is None:
        summary["gbcs"] = f"none ({item.duis.body if item.duis else 'message'} carries no GBCS)"
        return summary
    return summary | _gbcs_summary(item.data, keystore)


def _print_text(summary: dict[str, Any]) -> None:
    for name, value in summary.items():
        if isinstance(value, dict):
            print(f"{name}:")
            for field, field_value in value.items():
                shown = f"0x{field_value:04X}" if field == "alert_code" else field_value
                print(f"  {field}: {shown}")
        else:
            print(f"{name}: {value}")


def run(args: argparse.Namespace) -> int:
    keystore = None
    if args.certs is not None:
        try:
            keystore = load_keystore(args.certs, args.acb)
        except ValueError as error:
            print(f"hanota gbcs: unusable keystore: {error}", file=sys.stderr)
            return 2
    try:
        items = _read(args.message)
    except (ValueError, OSError) as error:
        print(f"hanota gbcs: cannot read: {error}", file=sys.stderr)
        return 1
    if not items:
        print(f"hanota gbcs: {args.message} holds no GBCS message", file=sys.stderr)
        return 1
    failed = False
    for number, item in enumerate(items, start=1):
        try:
            summary = _summary(item, keystore)
        except (DecodeError, ValueError) as error:
            print(f"hanota gbcs: cannot decode {item.source}: {error}", file=sys.stderr)
            failed = True
            continue
        if args.json:
            print(json.dumps(summary))
            continue
        if len(items) > 1:
            print(f"--- message {number} of {len(items)}")
        _print_text(summary)
    return 1 if failed else 0
