"""Virtual clock: an event queue that jumps from one event to the next.

Why not real time: a 1 MiB image at the minimum block period takes more than an hour of
HAN time; the emulator has to run it in seconds and give the same result on every run,
so nothing sleeps and ties between events are broken by insertion order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

EPOCH_UNIX = datetime(2026, 1, 1, tzinfo=UTC).timestamp()  # virtual time 0
ZIGBEE_EPOCH_UNIX = datetime(2000, 1, 1, tzinfo=UTC).timestamp()


class Timer:
    """A scheduled call that can be cancelled before it runs."""

    __slots__ = ("args", "callback", "cancelled")

    def __init__(self, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Seconds since the start of the emulation; ``unix`` and ``zigbee_utc`` convert."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, Timer]] = []
        self._order = 0

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(callback, args)
        self._order += 1
        heapq.heappush(self._queue, (max(when, self.now), self._order, timer))
        return timer

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self.now + delay, callback, *args)

    def run(self, until: float | None = None) -> None:
        """Run events in time order until the queue is empty or the next is after ``until``."""
        queue = self._queue
        pop = heapq.heappop
        while queue:
            when, _, timer = queue[0]
            if until is not None and when > until:
                self.now = until
                return
            pop(queue)
            if timer.cancelled:
                continue
            self.now = when
            timer.callback(*timer.args)
        if until is not None:
            self.now = max(self.now, until)

    @property
    def unix(self) -> float:
        return EPOCH_UNIX + self.now

    @property
    def zigbee_utc(self) -> int:
        """ZigBee UTCTime: whole seconds since 2000-01-01."""
        return int(EPOCH_UNIX - ZIGBEE_EPOCH_UNIX + self.now)

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.unix, UTC)
