"""A capture set: the captures a test house recorded, one per situation, in one folder.

Why: one capture holds one situation, so a replay of one capture leaves every scenario of
another situation INCONCLUSIVE. A capture set says, in ``situations.toml``, which capture
(and which WAN messages, and which delivered images) records each situation; every
scenario is then judged on the capture of its own situation, and one run covers them all.

    [set]
    dut = "dut.toml"              # optional: the DUT description recorded against

    [situations.upgrade]          # a situation id (hanota situations --dut lists them)
    capture = "upgrade.pcapng"    # pcap/pcapng, any link type the suite reads
    alerts = "upgrade.gbcs.hex"   # optional: any WAN input form (DUIS XML, hex, base64)
    images = ["ppmid"]            # optional: the DUT images the supplier delivered

Paths are relative to the folder. A situation the file does not list was not recorded:
its scenarios are INCONCLUSIVE and say so.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from hanota.dut.situations import BY_ID, SITUATIONS, Situation

SET_FILE = "situations.toml"


@dataclass(frozen=True)
class Recording:
    """What a capture set holds for one situation."""

    situation: str
    capture: Path
    alerts: Path | None = None
    images: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CaptureSet:
    folder: Path
    recordings: dict[str, Recording]
    dut: Path | None = None

    def files(self) -> list[Path]:
        """Every capture and WAN file of the set (for the conformance statement)."""
        found = []
        for recording in self.recordings.values():
            found += [recording.capture] + ([recording.alerts] if recording.alerts else [])
        return found


def load_capture_set(folder: Path) -> CaptureSet:
    """Read ``folder/situations.toml``; refuses unknown situations and missing files,
    naming the key at fault."""
    path = Path(folder) / SET_FILE
    if not path.exists():
        raise ValueError(f"{folder}: no {SET_FILE} (hanota situations --dut FILE --write "
                         f"{path} writes a template)")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not TOML: {error}") from error
    recordings = {}
    for key, table in data.get("situations", {}).items():
        if key not in BY_ID:
            raise ValueError(f"{path}: situations.{key}: no such situation (known: "
                             f"{', '.join(s.id for s in SITUATIONS)})")
        recordings[key] = _recording(path, key, table)
    dut = data.get("set", {}).get("dut")
    return CaptureSet(path.parent, recordings, path.parent / dut if dut else None)


def _recording(path: Path, key: str, table: dict) -> Recording:
    where = f"{path}: situations.{key}"
    if "capture" not in table:
        raise ValueError(f"{where}: give the capture file (capture = \"...\")")
    capture = path.parent / table["capture"]
    alerts = path.parent / table["alerts"] if table.get("alerts") else None
    for file in (capture, alerts):
        if file is not None and not file.exists():
            raise ValueError(f"{where}: {file} does not exist")
    images = table.get("images")
    return Recording(key, capture, alerts, tuple(images) if images is not None else None)


def template(situations: list[Situation]) -> str:
    """A ``situations.toml`` to fill in: one commented entry per situation to record."""
    lines = ["# The capture set: which capture records each situation (targets/capture_set.py).",
             "# Fill in the file names; delete a situation you did not record (its scenarios",
             "# are then INCONCLUSIVE: situation not recorded).", "", "[set]",
             '# dut = "dut.toml"', ""]
    for situation in situations:
        lines += [f"# {situation.phrase}", f"# to record: {situation.setup}",
                  f"[situations.{situation.id}]", f'capture = "{situation.id}.pcapng"',
                  f'alerts = "{situation.id}.gbcs.hex"', ""]
    return "\n".join(lines)
