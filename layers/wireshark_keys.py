"""Wireshark's ZigBee key table (the ``zigbee_pc_keys`` file of a Wireshark profile), read.

Why read Wireshark's own file: a test house already keeps its keys there, and the same
file then decrypts the same frames in Wireshark and in the suite. The format, as
Wireshark writes and reads it (epan/uat.c, epan/uat_load.l, and the key table of
epan/dissectors/packet-zbee-security.c):

- one key per line, ``"KEY","BYTE ORDER","LABEL"``: three double-quoted fields separated
  by commas; inside quotes ``\\xNN`` is a byte and a backslash escapes the next
  character (Wireshark writes ``"``, ``\\`` and unprintable bytes as ``\\xNN``);
  lines starting with ``#`` are comments;
- KEY: 16 bytes of hex, each pair optionally preceded by one ``:``, ``-`` or space
  separator, or a 16-character string in double quotes (``"ZigBeeAlliance09"``, written
  ``"\\x22ZigBeeAlliance09\\x22"`` in the file); surrounding blanks are ignored and, as in
  Wireshark, anything after the 16th byte is too;
- BYTE ORDER: ``Normal`` (the bytes as written) or ``Reverse`` (the last written byte is
  the key's first);
- every key is tried in every role (network and link keys), as Wireshark does.

No I/O here: ``parse_zigbee_pc_keys`` takes the file's text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from hanota.layers.security import KeyRing

KEY_LENGTH = 16
BYTE_ORDERS = ("Normal", "Reverse")
_SEPARATORS = ":- "
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class KeysFileError(ValueError):
    """A line of a key table that Wireshark would refuse: says which line and why."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}")


class WiresharkKey(NamedTuple):
    """One row of the table: the key as used on the air, its label and its line."""

    key: bytes
    label: str
    line: int


def parse_zigbee_pc_keys(text: str) -> list[WiresharkKey]:
    """The keys of a ``zigbee_pc_keys`` file, in file order; raises ``KeysFileError``."""
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = _fields(stripped, number)
        if len(fields) != 3:
            raise KeysFileError(number, f"{len(fields)} fields, expected 3: "
                                '"KEY","Normal" or "Reverse","LABEL"')
        key_text, order, label = fields
        if order not in BYTE_ORDERS:
            raise KeysFileError(number, f"byte order {order!r}: Normal or Reverse")
        key = parse_key(key_text, number)
        keys.append(WiresharkKey(key[::-1] if order == "Reverse" else key, label, number))
    return keys


def parse_key(text: str, line: int = 0) -> bytes:
    """One KEY field as ``zbee_security_parse_key`` reads it (Normal byte order)."""
    key = text.strip()
    if not key:
        raise KeysFileError(line, "the key is blank")
    if key[0] == '"':
        characters = key[1:1 + KEY_LENGTH]
        if len(characters) < KEY_LENGTH or not characters.isascii() \
                or not characters.isprintable():
            raise KeysFileError(line, f"{key!r}: a quoted key is {KEY_LENGTH} printable "
                                "characters")
        return characters.encode("ascii")
    out = bytearray()
    position = 0
    while len(out) < KEY_LENGTH:
        if position < len(key) and key[position] in _SEPARATORS:
            position += 1
        pair = key[position:position + 2]
        if len(pair) < 2 or not set(pair) <= _HEX_DIGITS:
            raise KeysFileError(line, f"{key!r}: expecting {KEY_LENGTH} hexadecimal bytes "
                                f"or a {KEY_LENGTH}-character double-quoted string")
        out.append(int(pair, 16))
        position += 2
    return bytes(out)


def _fields(line: str, number: int) -> list[str]:
    """The quoted, comma-separated fields of one record, unescaped."""
    fields: list[str] = []
    position = 0
    while True:
        while position < len(line) and line[position] in " \t":
            position += 1
        if position >= len(line) or line[position] != '"':
            raise KeysFileError(number, f"column {position + 1}: a field starts with '\"'")
        value, position = _quoted(line, position + 1, number)
        fields.append(value)
        while position < len(line) and line[position] in " \t":
            position += 1
        if position >= len(line):
            return fields
        if line[position] != ",":
            raise KeysFileError(number, f"column {position + 1}: ',' expected between fields")
        position += 1


def _quoted(line: str, position: int, number: int) -> tuple[str, int]:
    """The string from ``position`` to its closing quote, and the position after it.
    Escaped bytes are bytes of UTF-8 text, as Wireshark writes a label it was typed."""
    out = bytearray()
    while position < len(line):
        character = line[position]
        if character == '"':
            return out.decode("utf-8", "replace"), position + 1
        if character == "\\" and position + 1 < len(line):
            escaped = line[position + 1]
            hex_digits = line[position + 2:position + 4]
            if escaped == "x" and len(hex_digits) == 2 and set(hex_digits) <= _HEX_DIGITS:
                out.append(int(hex_digits, 16))
                position += 4
                continue
            out += _ESCAPES.get(escaped, escaped).encode()
            position += 2
            continue
        out += character.encode()
        position += 1
    raise KeysFileError(number, "a quoted field is not closed")


def with_keys(ring: KeyRing, keys: Iterable[bytes]) -> KeyRing:
    """``ring`` plus ``keys`` in both roles (after its own, duplicates dropped)."""
    extra = tuple(keys)
    return KeyRing(tuple(dict.fromkeys(ring.network_keys + extra)),
                   tuple(dict.fromkeys(ring.link_keys + extra)))


def to_uat_record(key: bytes, label: str = "hanota") -> str:
    """One key as a ``zigbee_pc_keys`` line (Normal byte order), e.g. for ``tshark -o
    uat:zigbee_pc_keys:LINE``."""
    return f'"{key.hex().upper()}","Normal","{_escape(label)}"'


def _escape(text: str) -> str:
    """Wireshark's escaping: quote, backslash and bytes that are not printable ASCII."""
    return "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02x}"
                   for b in text.encode())
