"""Where the sniffer may not have seen the air (rule 1 of verify/README.md).

Why it exists: a capture is not the air. A FAIL for something absent is only honest
where the capture proves that nothing was missed there. This index is built in the same
single pass that builds the trace and answers, for a window of the trace and the node
that should have sent, whether anything there is blind, naming the frames around it.

Blind places:
- a frame that did not decode (bad FCS, MIC failure, truncated...): blind for the node
  its NWK header names when it decoded that far, else for every node;
- a MAC sequence gap of a transmitter or an NWK sequence gap of an originator: frames it
  sent that were not captured lie between the two frames either side of the gap;
- timestamps that go backwards or jump forward (the window cannot be placed in time);
- a window a node's own frames do not enclose: a frame it sent before its first frame
  heard, or after its last, leaves no sequence gap, so silence there is unproven (an
  absence needs a frame of the node at or before the window and one at or after it);
- after the last frame of the capture.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

EVERY_NODE = "*"
SEQUENCE_MODULUS = 256
LATE_COPY = 64
"""A sequence number this far BEHIND the last one is an older frame seen late (a relayed
copy, a reordering), not a gap of nearly 256 frames."""
TIME_BACKWARDS_S = 0.5
"""Timestamps may wobble this much backwards (sniffer clocks, interleaved interfaces)."""
TIME_JUMP_S = 3600.0
"""A step forward longer than this between two frames is a timestamp fault, not a
silence: a HAN with a Comms Hub is never an hour silent. Our reading."""


@dataclass(frozen=True, slots=True)
class Blind:
    """One blind place: trace positions ``first``..``last`` (inclusive), the capture
    frame numbers that show it, and why."""

    first: int
    last: int
    frames: tuple[int, ...]
    reason: str

    def describe(self) -> str:
        if not self.frames:
            return self.reason
        shown = ", ".join(str(n) for n in self.frames)
        return f"{self.reason} (frame{'s' if len(self.frames) > 1 else ''} {shown})"


class _Spans:
    """Blind places of one kind for one node (one transmitter's MAC sequence, the NWK
    sequence, undecoded frames, timestamps): disjoint and in trace order, because each
    place ends at the frame being added and starts after the previous one ended."""

    __slots__ = ("items", "lasts")

    def __init__(self) -> None:
        self.items: list[Blind] = []
        self.lasts: list[int] = []

    def add(self, blind: Blind) -> None:
        self.items.append(blind)
        self.lasts.append(blind.last)

    def overlapping(self, first: int, last: int) -> list[Blind]:
        """Places overlapping positions first..last (bisection, then a short walk)."""
        found = []
        for position in range(bisect_right(self.lasts, first - 1), len(self.items)):
            blind = self.items[position]
            if blind.first > last:
                break
            found.append(blind)
        return found


class Coverage:
    """The blind places of a trace, fed frame by frame (``note_*``) as the trace grows."""

    def __init__(self) -> None:
        self._spans: dict[str, dict[object, _Spans]] = {}  # node -> kind -> places
        self._mac_last: dict[object, tuple[int, int, int]] = {}  # key -> (seq, index, number)
        self._nwk_last: dict[str, tuple[int, int, int]] = {}
        self._previous: tuple[float, int, int] | None = None  # (time, index, number)
        self._heard_span: dict[str, tuple[int, int, int, int]] = {}
        """node -> position and number of its first and of its last frame heard"""
        self.first_index: int | None = None
        self.last_index: int | None = None

    # ---- feeding ------------------------------------------------------------------------

    def note_frame(self, index: int, number: int, time: float) -> bool:
        """Every frame, in trace order; returns whether its timestamp is out of line."""
        if self.first_index is None:
            self.first_index = index
        self.last_index = index
        previous = self._previous
        self._previous = (time, index, number)
        if previous is None:
            return False
        before, at, seen = previous
        if time < before - TIME_BACKWARDS_S:
            self._add(EVERY_NODE, "time", Blind(
                at, index, (seen, number), f"timestamps go backwards by {before - time:.3f} s"))
            return True
        if time > before + TIME_JUMP_S:
            self._add(EVERY_NODE, "time", Blind(
                at, index, (seen, number), f"timestamps jump forward by {time - before:.0f} s"))
            return True
        return False

    def note_undecoded(self, index: int, number: int, node: str | None, why: str) -> None:
        """A frame that did not decode; ``node`` when its NWK header still names it."""
        self._add(node or EVERY_NODE, "undecoded",
                  Blind(index, index, (number,), f"not decoded: {why}"))

    def note_mac_sequence(self, key: object, node: str, seq: int, index: int,
                          number: int) -> None:
        """A MAC frame from transmitter ``key`` (its MAC source address)."""
        self._sequence(self._mac_last, key, node, seq, index, number, "MAC")
        self._heard(node, index, number)

    def note_nwk_sequence(self, node: str, seq: int, index: int, number: int) -> None:
        """An NWK frame originated by ``node`` (relayed copies repeat its number)."""
        self._sequence(self._nwk_last, node, node, seq, index, number, "NWK")
        self._heard(node, index, number)

    def _heard(self, node: str, index: int, number: int) -> None:
        span = self._heard_span.get(node)
        self._heard_span[node] = ((index, number, index, number) if span is None
                                  else (span[0], span[1], index, number))

    def _sequence(self, table: dict, key: object, node: str, seq: int, index: int,
                  number: int, layer: str) -> None:
        last = table.get(key)
        if last is not None:
            last_seq, last_index, last_number = last
            step = (seq - last_seq) % SEQUENCE_MODULUS
            if step == 0 or step > SEQUENCE_MODULUS - LATE_COPY:
                return  # a retransmission, a relayed copy, or an older frame seen late
            if step > 1:
                self._add(node, (layer, key), Blind(last_index, index, (last_number, number),
                                      f"{step - 1} {layer} frame(s) from {node} not captured "
                                      f"(sequence {last_seq} to {seq})"))
        table[key] = (seq, index, number)

    def _add(self, node: str, kind: object, blind: Blind) -> None:
        kinds = self._spans.setdefault(node, {})
        spans = kinds.get(kind)
        if spans is None:
            spans = kinds[kind] = _Spans()
        spans.add(blind)

    # ---- asking -------------------------------------------------------------------------

    def blind(self, first: int, last: int, nodes: tuple[str | None, ...] = ()) -> list[Blind]:
        """Blind places within positions ``first``..``last`` for ``nodes`` (and for every
        node), in trace order. A window reaching past the capture's last frame is blind
        (what followed was not captured)."""
        found: list[Blind] = []
        named = {n for n in nodes if n is not None}
        for key in (EVERY_NODE, *named):
            for spans in self._spans.get(key, {}).values():
                found += spans.overlapping(first, last)
        for node in sorted(named):
            heard = self._heard_span.get(node)
            if heard is None:
                found.append(Blind(first, last, (), f"nothing from {node} is in the capture: "
                                   "a frame it sent is missed without a sequence gap"))
                continue
            first_at, first_number, last_at, last_number = heard
            if first_at > first:
                found.append(Blind(first, first_at, (first_number,),
                                   f"no frame of {node} before the window (its first is "
                                   "later): one it sent there leaves no sequence gap"))
            if last_at < last:
                found.append(Blind(last_at, last, (last_number,),
                                   f"no frame of {node} after the window (its last is "
                                   "earlier): one it sent there leaves no sequence gap"))
        if self.last_index is None or last > self.last_index:
            end = self.last_index if self.last_index is not None else first
            found.append(Blind(end, last, (), "the capture ends inside the window"))
        return sorted(found, key=lambda blind: blind.first)

    def first_heard(self, node: str) -> int | None:
        """Trace position of the first frame heard from ``node`` (None: none was)."""
        heard = self._heard_span.get(node)
        return None if heard is None else heard[0]

    def places(self, node: str | None = None) -> list[Blind]:
        """Every blind place of ``node`` (every node's, when None), for reports."""
        tables = self._spans.values() if node is None else [self._spans.get(node, {})]
        return sorted((blind for kinds in tables for spans in kinds.values()
                       for blind in spans.items), key=lambda blind: blind.first)


def describe(blinds: list[Blind], limit: int = 3) -> str:
    """The first few blind places as text for an INCONCLUSIVE reason."""
    shown = "; ".join(blind.describe() for blind in blinds[:limit])
    more = f"; and {len(blinds) - limit} more" if len(blinds) > limit else ""
    return shown + more
