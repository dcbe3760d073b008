"""The WAN side as a supplier's test team holds it, in any of its written forms.

Why one entry point: ``--alerts`` and ``hanota gbcs`` take whatever the team has: DUIS XML
responses and alerts (the DCC's and DCC Boxed's delivery), base64 GBCS (as DUIS carries
it), hex with or without separators (RTDS vectors, logs), or the suite's own
``UNIX-time HEX`` files. XML is recognised by its first character; everything else is
read as GBCS text.

Text in, no I/O (``hanota.targets.wan_input`` reads files).
"""

from __future__ import annotations

from dataclasses import dataclass

from hanota.layers.duis import DuisMessage, looks_like_xml, parse_duis
from hanota.layers.gbcs_text import parse_gbcs_text


@dataclass(frozen=True, slots=True)
class WanInput:
    """One WAN message: its GBCS bytes (None for a DUIS message without GBCS, e.g. a DCC
    alert, kept as evidence), its time (UNIX seconds, None when the form gives none),
    where it came from (``name:line`` or ``name: Response n``) and its DUIS envelope."""

    data: bytes | None
    time: float | None
    source: str
    duis: DuisMessage | None = None


def parse_wan_text(text: str | bytes, name: str = "<text>") -> list[WanInput]:
    """Every WAN message of one text (a file's content, an HTTP body, an argument)."""
    if looks_like_xml(text):
        return [WanInput(message.gbcs, message.time, f"{name}: Response {message.position}",
                         message) for message in parse_duis(text)]
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    return [WanInput(message.data, message.time, f"{name}:{message.line}")
            for message in parse_gbcs_text(text)]
