"""GBCS messages written as text: hex (with or without separators), base64, and the
project's time-prefixed hex lines.

Why several forms: a supplier's tools show GBCS as the DCC's RTDS does (one hex string),
as DUIS carries it (base64), as Wireshark or a log copies it (``DF:09:01``, ``DF 09 01``),
and the suite writes its own alerts as ``UNIX-time HEX`` lines under a ``#`` comment. A
GBCS message starts with 0xDD or 0xDF, which tells hex from base64 (a hex string is also
valid base64 text; its base64 reading would not start with either tag).

Text in, bytes out: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from hanota.layers.gbcs_apdu import TAG_GENERAL_CIPHERING, TAG_GENERAL_SIGNING

GBCS_TAGS = (TAG_GENERAL_CIPHERING, TAG_GENERAL_SIGNING)
HEX_TEXT = re.compile(r"(?:0[xX])?[0-9A-Fa-f]{2}(?:[\s:\-]?[0-9A-Fa-f]{2})*")
BASE64_TEXT = re.compile(r"[A-Za-z0-9+/\s]+={0,2}\s*")
TIME_PREFIX = re.compile(r"(\d+\.\d*)\s+(\S.*)")


class GbcsTextError(ValueError):
    """Text that holds no GBCS message: says which line and why."""


@dataclass(frozen=True, slots=True)
class TextMessage:
    """One GBCS message found in text: its bytes, its time (UNIX seconds) when a prefix
    gave one, and the line it starts on (1-based)."""

    data: bytes
    time: float | None
    line: int


def gbcs_bytes(text: str) -> bytes:
    """One message from hex (separators: spaces, colons, hyphens; optional ``0x``) or
    base64; it must start with 0xDD or 0xDF."""
    compact = text.strip()
    if HEX_TEXT.fullmatch(compact):
        data = bytes.fromhex(re.sub(r"[\s:\-]", "", compact.removeprefix("0x")
                                    .removeprefix("0X")))
        if data[:1] and data[0] in GBCS_TAGS:
            return data
    if BASE64_TEXT.fullmatch(compact):
        try:
            data = base64.b64decode("".join(compact.split()), validate=True)
        except binascii.Error:
            data = b""
        if data[:1] and data[0] in GBCS_TAGS:
            return data
    shown = compact if len(compact) <= 40 else compact[:37] + "..."
    raise GbcsTextError(f"{shown!r} is neither hex nor base64 of a GBCS message "
                        "(one starting with 0xDD or 0xDF)")


def _timed(line: str) -> tuple[float | None, str]:
    """Split ``UNIX-time MESSAGE`` (the time written with a decimal point)."""
    match = TIME_PREFIX.fullmatch(line)
    if match is None:
        return None, line
    return float(match.group(1)), match.group(2)


def parse_gbcs_text(text: str) -> list[TextMessage]:
    """Every GBCS message of a text.

    One message per line (blank lines and ``#`` comments skipped), each optionally
    preceded by its UNIX time; or, when the lines are not messages on their own, one
    message wrapped over several lines (hex or base64 cut at a fixed width). A text of
    comments only holds no message.
    """
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)]
    lines = [(number, line) for number, line in lines if line and not line.startswith("#")]
    if not lines:  # e.g. the suite's file of an exchange with no WAN message
        return []
    messages: list[TextMessage] = []
    first_error: GbcsTextError | None = None
    for number, line in lines:
        when, body = _timed(line)
        try:
            messages.append(TextMessage(gbcs_bytes(body), when, number))
        except GbcsTextError as error:
            first_error = first_error or GbcsTextError(f"line {number}: {error}")
    if first_error is None:
        return messages
    if any(_timed(line)[0] is not None for _, line in lines):
        raise first_error
    try:
        return [TextMessage(gbcs_bytes(" ".join(line for _, line in lines)), None,
                            lines[0][0])]
    except GbcsTextError:
        raise first_error from None
