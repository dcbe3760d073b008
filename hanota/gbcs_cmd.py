"""``hanota gbcs``: decode one GBCS message (0xDF / 0xDD) and check its signature.

A test house looks at the CHF's alerts with this; it says which field broke and where when
a message does not decode, and whether the signature verifies with the originator's
digital-signing certificate when given a directory of certificates.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from layers.gbcs import GbcsMessage, decode_gbcs, load_certificate_pem, verify_apdu
from layers.model import DecodeError

CRA_NAMES = {1: "command", 2: "response", 3: "alert"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", metavar="FILE_OR_HEX", help=".HEX file or hex string")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--certs",
        type=Path,
        metavar="DIR",
        help="directory of certificates named <eui-64 lower case>-ds.pem",
    )


def _read_message(argument: str) -> bytes:
    """Bytes from a file of hex text or from the argument itself (whitespace ignored)."""
    path = Path(argument)
    try:
        is_file = path.is_file()
    except OSError:  # a long hex string is too long to be a file name
        is_file = False
    text = path.read_text(encoding="ascii") if is_file else argument
    compact = "".join(text.split())
    if compact.lower().startswith("0x"):
        compact = compact[2:]
    if not compact or any(c not in string.hexdigits for c in compact) or len(compact) % 2:
        raise ValueError(f"{argument!r} is neither a file nor an even number of hex digits")
    return bytes.fromhex(compact)


def _find_certificate(directory: Path, eui: str) -> x509.Certificate | None:
    """The originator's certificate: ``<eui>-ds.pem``, else a ``*.pem`` naming the EUI."""
    named = directory / f"{eui.lower()}-ds.pem"
    if named.is_file():
        return load_certificate_pem(named.read_bytes())
    for candidate in sorted(directory.glob("*.pem")):
        try:
            certificate = load_certificate_pem(candidate.read_bytes())
        except ValueError:
            continue
        if eui.lower() in certificate.subject.rfc4514_string().lower():
            return certificate
    return None


def _signature_status(data: bytes, message: GbcsMessage, directory: Path) -> str:
    if message.apdu.signature is None:
        return "unsigned"
    certificate = _find_certificate(directory, message.apdu.originator)
    if certificate is None:
        return "no certificate for originator"
    return "valid" if verify_apdu(data, certificate) else "INVALID"


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _summary(message: GbcsMessage) -> dict[str, Any]:
    apdu = message.apdu
    summary: dict[str, Any] = {
        "framing": "general_ciphering" if message.ciphering else "general_signing",
        "cra_flag": apdu.cra_flag,
        "cra": CRA_NAMES[apdu.cra_flag],
        "originator_counter": apdu.originator_counter,
        "transaction_id": f"{apdu.cra_flag:02X}{apdu.originator_counter:016X}",
        "originator": apdu.originator,
        "recipient": apdu.recipient,
        "message_code": f"0x{apdu.message_code:04X}",
    }
    if apdu.supplementary_remote_party_id is not None:
        summary["supplementary_remote_party_id"] = apdu.supplementary_remote_party_id
        summary["supplementary_remote_party_counter"] = apdu.supplementary_remote_party_counter
    if message.payload is not None:
        summary["use_case"] = type(message.payload).__name__
        summary["payload"] = {
            name: _plain(getattr(message.payload, name))
            for name in message.payload.__dataclass_fields__
        }
    else:
        summary["content"] = apdu.content.hex().upper()
    if message.ciphering is not None:
        summary["gmac_tag"] = message.ciphering.gmac_tag.hex().upper()
    return summary


def _print_text(summary: dict[str, Any]) -> None:
    for name, value in summary.items():
        if name == "payload":
            for field, field_value in value.items():
                shown = f"0x{field_value:04X}" if field == "alert_code" else field_value
                print(f"  {field}: {shown}")
        else:
            print(f"{name}: {value}")


def run(args: argparse.Namespace) -> int:
    try:
        data = _read_message(args.message)
        message = decode_gbcs(data)
    except (DecodeError, ValueError, OSError) as error:
        print(f"hanota gbcs: cannot decode: {error}", file=sys.stderr)
        return 1
    summary = _summary(message)
    if args.certs is not None:
        if not args.certs.is_dir():
            print(f"hanota gbcs: {args.certs} is not a directory", file=sys.stderr)
            return 2
        try:
            summary["signature"] = _signature_status(data, message, args.certs)
        except ValueError as error:
            print(f"hanota gbcs: unusable certificate: {error}", file=sys.stderr)
            return 2
    else:
        summary["signature"] = "present" if message.apdu.signature else "unsigned"
    if args.json:
        print(json.dumps(summary))
    else:
        _print_text(summary)
    return 0
