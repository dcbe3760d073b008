"""Changes to a capture that make it look like a real sniffer's: frames it missed, frames
with a bad FCS, a late start, garbage records, a timestamp gone wrong.

Why in the tests: the reference captures come from the emulator, whose sniffer is
perfect. The judge is only trustworthy if the same captures, changed the way real ones
differ, never turn a conformant implementation's verdict into a FAIL.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from hanota.layers.capture import (
    LINKTYPE_IEEE802_15_4_WITHFCS,
    CaptureParser,
    CaptureRecord,
    pcapng_header,
    pcapng_packet,
)

Records = list[CaptureRecord]


def read(path: Path) -> Records:
    parser = CaptureParser()
    records = parser.feed(path.read_bytes())
    parser.close()
    return records


def write(path: Path, records: Records) -> Path:
    """The records as a pcapng (802.15.4 with FCS), numbered anew from 1."""
    path.write_bytes(pcapng_header(LINKTYPE_IEEE802_15_4_WITHFCS)
                     + b"".join(pcapng_packet(r.time, r.data) for r in records))
    return path


def _frames(records: Records) -> Iterator[int]:
    """Positions of records that are not MAC ACKs (5-byte frames): misses of data frames
    are what the judge must survive; a missed ACK is harmless."""
    return (i for i, r in enumerate(records) if len(r.data) > 5)


def drop(records: Records, rate: float, seed: int) -> Records:
    """A sniffer missing ``rate`` of the data frames (independently of the air)."""
    rng = random.Random(seed)
    lost = {i for i in _frames(records) if rng.random() < rate}
    return [r for i, r in enumerate(records) if i not in lost]


def corrupt(records: Records, rate: float, seed: int) -> Records:
    """Frames received with a bit error: one byte changed, the FCS left as it was."""
    rng = random.Random(seed)
    out = list(records)
    for i in _frames(records):
        if rng.random() < rate:
            data = bytearray(out[i].data)
            at = rng.randrange(3, len(data) - 2)
            data[at] ^= 1 << rng.randrange(8)
            out[i] = out[i]._replace(data=bytes(data))
    return out


def start_at(records: Records, fraction: float) -> Records:
    """A capture started late: the first ``fraction`` of the records never captured."""
    return records[int(len(records) * fraction):]


def stop_at(records: Records, fraction: float) -> Records:
    """A capture stopped early."""
    return records[:int(len(records) * fraction)]


def garbage(records: Records, count: int, seed: int) -> Records:
    """Records of random bytes among the frames (a sniffer's noise, a bad driver)."""
    rng = random.Random(seed)
    out = list(records)
    for _ in range(count):
        at = rng.randrange(1, len(out))
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 127)))
        out.insert(at, out[at]._replace(data=noise))
    return out


def time_glitch(records: Records, seed: int) -> Records:
    """One record stamped far in the future (a corrupt timestamp)."""
    rng = random.Random(seed)
    out = list(records)
    at = rng.randrange(1, len(out))
    out[at] = out[at]._replace(time=out[at].time + 86_400 * 365)
    return out


def twice(records: Records, pause_s: float = 600.0) -> Records:
    """The same exchange recorded twice in one capture, the second copy ``pause_s``
    after the first (a soak, or a test run again without restarting the sniffer)."""
    shift = records[-1].time - records[0].time + pause_s
    return records + [r._replace(time=r.time + shift) for r in records]
