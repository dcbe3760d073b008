"""``--keys-file FILE``: a Wireshark ``zigbee_pc_keys`` table, read from disk.

The parsing is ``hanota.layers.wireshark_keys`` (no I/O there); this is the reading, shared by
``hanota decode`` and the suite's plugin option, so both refuse a bad file alike.
"""

from __future__ import annotations

from pathlib import Path

from hanota.layers.wireshark_keys import KeysFileError, parse_zigbee_pc_keys


def load_keys_file(path: Path | str) -> tuple[bytes, ...]:
    """The keys of a Wireshark key table; ``ValueError`` naming the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror}") from error
    try:
        return tuple(key.key for key in parse_zigbee_pc_keys(text))
    except KeysFileError as error:
        raise ValueError(f"{path}: {error}") from error
