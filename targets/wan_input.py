"""Read the WAN side from files: one file, or every WAN file of a directory.

Why a module: the replay target (``--alerts``), the emulator target and ``hanota gbcs``
read the same forms (DUIS XML, base64, hex, ``UNIX-time HEX``; see ``hanota.layers.wan_text``);
the emulator target writes its messages with ``hanota.targets.replay.write_gbcs_hex``. A
directory is read file by file in name order, taking only WAN files (by suffix), so a
capture directory holding pcapng files beside its ``.gbcs.hex`` can be given.
"""

from __future__ import annotations

from pathlib import Path

from hanota.layers.wan_text import WanInput, parse_wan_text

WAN_SUFFIXES = (".hex", ".xml", ".txt", ".b64", ".base64", ".duis")


def wan_files(path: Path) -> list[Path]:
    """The file itself, or the WAN files of a directory by name."""
    if not path.is_dir():
        return [path]
    return sorted(child for child in path.iterdir()
                  if child.is_file() and child.suffix.lower() in WAN_SUFFIXES)


def read_wan_inputs(path: Path) -> list[WanInput]:
    """Every WAN message of ``path`` (a file or a directory), in order.

    A file that holds no usable message raises ``ValueError`` naming the file."""
    messages: list[WanInput] = []
    for file in wan_files(path):
        try:
            messages += parse_wan_text(file.read_bytes(), file.name)
        except ValueError as error:
            raise ValueError(f"{file}: {error}") from error
    return messages
