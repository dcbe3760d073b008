"""Live path speed: ZEP over UDP on loopback into the live target, decoded, against the
802.15.4 line rate.

Why these runs: a sniffer delivers at most what the channel carries (250 kbit/s, plus 6
bytes of PHY preamble, SFD and length per frame), so the live target keeps up if it
decodes faster than that line rate for the frames actually sent. The frames are those
of an image transfer (NWK-encrypted Image Block Request/Response pairs, each followed by
its MAC ACK). The sender is a separate process, as a remote sniffer is. Runs paced at
the line rate (the real case: any drop or lag is a defect), at 20 and 50 times it
(headroom), and a flood as fast as the sender can go, which measures the decoder's
ceiling and shows where datagrams start to be dropped.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hanota.dut.description import load_dut
from hanota.layers.capture_zep import zep_encode
from hanota.layers.codec import build_frame, mac_ack
from hanota.layers.model import Aps, HanFrame, Mac, Nwk, Security
from hanota.layers.ota import CLUSTER_ID
from hanota.layers.zcl import make_zcl
from hanota.targets.live import LiveTarget, dut_keys

LINE_RATE_BPS = 250_000
PHY_OVERHEAD_BYTES = 6  # preamble (4), SFD (1), PHY length (1)
BLOCK = 64
MAC_ACK_BYTES = 5
PACED_SECONDS = 2.0
PACED_FACTORS = (1.0, 20.0, 50.0)  # multiples of the line rate the sender is paced at
FLOOD_FRAMES = 30_000
START = 1_767_225_600.0

# The sender: reads length-prefixed datagrams, sends them at `rate` per second (0: flood).
_SENDER = r"""
import socket, struct, sys, time
host, port, path, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
data = open(path, "rb").read()
datagrams, position = [], 0
while position < len(data):
    (size,) = struct.unpack_from(">H", data, position)
    datagrams.append(data[position + 2:position + 2 + size])
    position += 2 + size
out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
started = time.perf_counter()
for number, datagram in enumerate(datagrams):
    if rate:
        delay = started + number / rate - time.perf_counter()
        if delay > 0.0005:
            time.sleep(delay)
    out.sendto(datagram, (host, port))
"""


def transfer_psdus(count: int) -> list[bytes]:
    """``count`` frames of an image transfer between the default DUT's CHF and PPMID."""
    dut = load_dut()
    keys = dut_keys(dut)
    chf, device = dut.chf, dut.nodes[dut.dut_node]
    image = {"manufacturer_code": device.manufacturer_code, "image_type": device.image_type,
             "file_version": 0x01020400}
    payload = bytes(range(BLOCK))
    psdus: list[bytes] = []
    seq = 0
    while len(psdus) < count:
        offset = (seq // 2) * BLOCK
        request = seq % 2 == 0
        src, dst = (device, chf) if request else (chf, device)
        command, fields = (
            ("image_block_request", {"field_control": 0, **image, "file_offset": offset,
                                     "maximum_data_size": BLOCK})
            if request else
            ("image_block_response", {"status": 0, **image, "file_offset": offset,
                                      "data_size": BLOCK, "data": payload})
        )
        frame = HanFrame(
            Mac(1, seq & 0xFF, dut.pan_id, dst.short, src.short, ack_request=True),
            Nwk(dst.short, src.short, seq & 0xFF,
                security=Security(1, 1000 + seq, src.eui64, dut.network_key_seq)),
            Aps(CLUSTER_ID, 0x0109, dst.endpoint, src.endpoint, seq & 0xFF),
            make_zcl(command, fields, seq & 0xFF),
        )
        psdus += [build_frame(frame, keys), mac_ack(seq & 0xFF)]
        seq += 1
    return psdus[:count]


def line_rate(psdus: list[bytes]) -> float:
    """Frames per second the channel carries for these frames, back to back."""
    bits = sum((len(psdu) + PHY_OVERHEAD_BYTES) * 8 for psdu in psdus)
    return len(psdus) / (bits / LINE_RATE_BPS)


def _measure(psdus: list[bytes], rate: float, channel: int, folder: Path) -> dict[str, float]:
    """Send ``psdus`` at ``rate`` datagrams/s (0: flood) from a child process into a live
    target; how many arrived decoded, how fast, how late."""
    path = folder / f"datagrams-{rate:.0f}.bin"
    with open(path, "wb") as out:
        for number, psdu in enumerate(psdus, start=1):
            datagram = zep_encode(psdu, channel, number, START + number * 0.004)
            out.write(struct.pack(">H", len(datagram)) + datagram)
    dut = load_dut()
    seconds = len(psdus) / rate if rate else 0.0
    with LiveTarget(dut, "zep://127.0.0.1:0", evidence_timeout=seconds + 10.0) as target:
        host, port = target.address
        session = target.session()
        sender = subprocess.Popen(
            [sys.executable, "-c", _SENDER, host, str(port), str(path), str(rate)]
        )
        finished = time.time()
        while len(session.frames) < len(psdus):
            if sender.poll() is not None:  # all sent: what is still missing was dropped
                session.deadline = min(session.deadline, time.monotonic() + 1.0)
            if not session.more():
                break
            finished = time.time()
        sender.wait()
        received = target.stats.received
        frames = session.frames
    arrivals = [frame.extra["arrival"] for frame in frames]
    elapsed = (finished - arrivals[0]) if frames else float("nan")
    return {
        "decoded": len(frames),
        "errors": sum(frame.error is not None for frame in frames),
        "dropped": len(psdus) - received,
        "fps": len(frames) / elapsed if frames else 0.0,
        "lag": finished - arrivals[-1] if frames else float("nan"),
    }


def run() -> list[str]:
    dut = load_dut()
    sample = transfer_psdus(2000)
    rate = line_rate(sample)
    sizes = [len(psdu) for psdu in sample]
    data = [psdu for psdu in sample if len(psdu) > MAC_ACK_BYTES]
    lines = [
        f"frames: image transfer, {min(sizes)}-{max(sizes)} bytes (mean "
        f"{sum(sizes) / len(sizes):.0f}, ACKs included); line rate {rate:,.0f} frames/s "
        f"at 250 kbit/s with 6 bytes PHY overhead ({line_rate(data):,.0f} frames/s for the "
        f"{min(map(len, data))}-{max(map(len, data))} byte data frames alone)",
    ]
    with tempfile.TemporaryDirectory(prefix="hanota-bench-live-") as folder:
        for factor in PACED_FACTORS:
            label = "paced at line rate" if factor == 1 else f"paced at {factor:g}x line rate"
            count = int(rate * factor * PACED_SECONDS)
            result = _measure(transfer_psdus(count), rate * factor, dut.channel, Path(folder))
            lines.append(
                f"{label:<24} {result['decoded']:>6}/{count} decoded, "
                f"{result['fps']:>8,.0f} frames/s = {result['fps'] / rate:5.1f}x line rate, "
                f"{result['dropped']:.0f} dropped, {result['errors']:.0f} undecodable, "
                f"lag after last {result['lag'] * 1000:.1f} ms"
            )
        result = _measure(transfer_psdus(FLOOD_FRAMES), 0.0, dut.channel, Path(folder))
        lines.append(
            f"{'flood (sender max)':<24} {result['decoded']:>6}/{FLOOD_FRAMES} decoded, "
            f"{result['fps']:>8,.0f} frames/s = {result['fps'] / rate:5.1f}x line rate, "
            f"{result['dropped']:.0f} dropped"
        )
    return lines
