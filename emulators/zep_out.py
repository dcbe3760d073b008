"""Stream the emulated HAN's frames as ZEP v2 datagrams, the way a remote sniffer does.

Why: the live target must be exercised with the same traffic a test house's sniffer
delivers (Wireshark's remote-sniffer format, UDP port 17754), and the emulator is the
only HAN we can run in a test. ``ZepSender`` is an ``on_frame`` callback for
``hanota.emulators.emulate``: each frame put on the air leaves as one datagram, paced on the
virtual clock scaled by ``speed`` so a live run can be replayed at, above or below real
time. Datagrams carry the virtual time in the ZEP timestamp, so a live trace has the same
times as the pcapng capture of the same emulation.
"""

from __future__ import annotations

import socket
import time
from types import TracebackType

from hanota.layers.capture_zep import ZEP_PORT, zep_encode


def zep_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6; port defaults to 17754) as a socket address,
    for ``hanota emulate --zep``."""
    host, port = text, ""
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    try:
        number = int(port) if port else ZEP_PORT
    except ValueError as error:
        raise ValueError(f"--zep {text!r}: port {port!r} is not a number") from error
    if not host or not 0 < number <= 65535:
        raise ValueError(f"--zep {text!r}: expected HOST:PORT")
    return host, number


class ZepSender:
    """``on_frame(time, psdu)`` sink sending each PSDU (with its FCS) to ``host:port``.

    ``speed`` None or 0: as fast as the emulator produces frames; otherwise one virtual
    second takes ``1 / speed`` wall seconds, measured from the first frame. ``channel`` is
    the 802.15.4 channel written in the datagrams: the live target drops other channels,
    so it must be the DUT's.
    """

    def __init__(
        self, host: str, port: int, *, speed: float | None, channel: int,
        device_id: int = 0,
    ) -> None:
        if speed is not None and speed < 0:
            raise ValueError(f"speed must be positive (or None/0 for unpaced), got {speed}")
        self.address = (host, port)
        self.speed = speed or None
        self.channel = channel
        self.device_id = device_id
        self.sent = 0
        self._origin: tuple[float, float] | None = None  # (virtual, wall) of the first frame
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_DGRAM)

    def __call__(self, virtual_time: float, psdu: bytes) -> None:
        if self.speed is not None:
            self._pace(virtual_time)
        datagram = zep_encode(
            psdu, self.channel, self.sent + 1, virtual_time, device_id=self.device_id
        )
        self._socket.sendto(datagram, self.address)
        self.sent += 1

    def _pace(self, virtual_time: float) -> None:
        """Sleep until the wall clock reaches this frame's scaled virtual time."""
        now = time.monotonic()
        if self._origin is None:
            self._origin = (virtual_time, now)
            return
        virtual_start, wall_start = self._origin
        delay = wall_start + (virtual_time - virtual_start) / self.speed - now
        if delay > 0:
            time.sleep(delay)

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> ZepSender:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
