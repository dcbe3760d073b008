"""Assertion API over a Trace, in the style of a packet verifier (Thread harness, PTS).

A check moves a cursor through the trace: ``next(match, after=frame)`` finds the next
frame matching a filter; ``must_next`` / ``must_not_next`` state what the DUT must or must
not send within a window; ``need`` states the evidence (a stimulus) the scenario cannot
do without. Failures carry the frame number and the decoded frame.

Windows and honesty (verify/README.md): an absence is only a FAIL when the trace goes on
past the end of the window (the DUT had its chance) AND the sniffer saw that stretch of
air for the node that should have sent (``Trace.coverage``); otherwise INCONCLUSIVE,
naming the frames around the blind place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hanota.verify.coverage import describe
from hanota.verify.trace import Frame, Trace, WanRecord
from hanota.verify.verdicts import Inconclusive, Violation

FieldTest = Any  # an expected value, or a predicate taking the field's value


def _as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class Match:
    """A frame filter: command name(s), sender/recipient node names, cluster, fields.

    ``fields`` maps a field name to an expected value or a predicate; ``where`` is any
    further predicate on the frame; ``direction`` the ZCL direction bit (1 server to
    client). Unset criteria match anything. Retransmissions (the same frame resent by
    MAC/APS retries) are skipped unless ``retransmissions``.
    """

    command: str | tuple[str, ...] | None = None
    src: str | tuple[str, ...] | None = None
    dst: str | tuple[str, ...] | None = None
    cluster: int | None = None
    direction: int | None = None
    fields: Mapping[str, FieldTest] = field(default_factory=dict)
    where: Callable[[Frame], bool] | None = None
    label: str | None = None
    retransmissions: bool = False

    def __call__(self, frame: Frame) -> bool:
        if frame.error or frame.command is None:
            return False
        if frame.duplicate_of is not None and not self.retransmissions:
            return False
        commands, sources, targets = (
            _as_tuple(self.command), _as_tuple(self.src), _as_tuple(self.dst))
        if commands is not None and frame.command not in commands:
            return False
        if sources is not None and frame.src not in sources:
            return False
        if targets is not None and frame.dst not in targets:
            return False
        if self.cluster is not None and frame.cluster != self.cluster:
            return False
        if self.direction is not None and frame.direction != self.direction:
            return False
        for name, test in self.fields.items():
            value = frame.fields.get(name)
            if callable(test):
                if not test(value):
                    return False
            elif value != test:
                return False
        return self.where is None or self.where(frame)

    def __str__(self) -> str:
        if self.label:
            return self.label
        parts = [" or ".join(_as_tuple(self.command) or ("any command",))]
        if self.src:
            parts.append(f"from {'/'.join(_as_tuple(self.src) or ())}")
        if self.dst:
            parts.append(f"to {'/'.join(_as_tuple(self.dst) or ())}")
        if self.fields:
            parts.append(", ".join(f"{k}={'<test>' if callable(v) else v}"
                                   for k, v in self.fields.items()))
        return " ".join(parts)


def _position(after: Frame | int | None) -> int:
    """The list position where a search starts (just after ``after``)."""
    if after is None:
        return 0
    return after.index + 1 if isinstance(after, Frame) else after


def _time_of(after: Frame | float | None, trace: Trace) -> float | None:
    if isinstance(after, Frame):
        return after.time
    if after is None:
        return trace.start_time
    return after


class Verifier:
    """The cursor-based checks a scenario makes on one trace."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    @property
    def default_window(self) -> float:
        return self.trace.dut.pixit.evidence_timeout_s

    # ---- searching ---------------------------------------------------------------------

    def next(
        self, match: Match, after: Frame | int | None = None, within: float | None = None,
        before: Frame | None = None,
    ) -> Frame | None:
        """The first frame matching after the cursor (within ``within`` seconds of it, and
        before the frame ``before`` when given), or None."""
        start = _position(after)
        deadline = None
        if within is not None:
            reference = after.time if isinstance(after, Frame) else self.trace.start_time
            deadline = None if reference is None else reference + within
        for frame in self.trace.frames_from(start):
            if before is not None and frame.index >= before.index:
                return None
            if deadline is not None and frame.time > deadline and not frame.time_suspect:
                return None
            if match(frame):
                return frame
        return None

    def covers(self, start: float, end: float) -> bool:
        """Whether the capture spans ``start``..``end`` (it may start or stop anywhere:
        a window reaching outside it was not seen)."""
        span = self.trace.span
        if span is not None:
            return span[0] <= start and span[1] >= end
        frames = self.trace.frames
        return bool(frames) and frames[0].time <= start and frames[-1].time >= end

    def position_at(self, when: float) -> int:
        """Trace position of the last frame stamped at or before ``when`` (frames whose
        timestamp is out of line are passed over); -1 when none is."""
        last = -1
        for frame in self.trace.frames_from(0):
            if frame.time > when and not frame.time_suspect:
                break
            last = frame.index
        return last

    def window_end(self, start: Frame | int | None, within: float) -> int:
        """Trace position of the last frame within ``within`` seconds after ``start``
        (frames whose timestamp is out of line do not end the window)."""
        position = _position(start)
        if isinstance(start, int):  # a position: the window starts at that frame's time
            start = self.trace.frames[start] if start < len(self.trace.frames) else None
        reference = _time_of(start, self.trace)
        if reference is None:
            return position
        deadline = reference + within
        last = position - 1
        for frame in self.trace.frames_from(position):
            if frame.time > deadline and not frame.time_suspect:
                break
            last = frame.index
        return max(last, position)

    def all(
        self, match: Match, after: Frame | int | None = None, before: Frame | None = None,
    ) -> list[Frame]:
        """Every matching frame after the cursor (and before ``before``)."""
        found = []
        for frame in self.trace.frames_from(_position(after)):
            if before is not None and frame.index >= before.index:
                break
            if match(frame):
                found.append(frame)
        return found

    def last(self, match: Match, before: Frame | None = None) -> Frame | None:
        found = self.all(match, before=before)
        return found[-1] if found else None

    def wan(self, where: Callable[[WanRecord], bool], after_time: float | None = None,
            before_time: float | None = None) -> list[WanRecord]:
        """GBCS messages satisfying ``where``, optionally inside a time range.

        A message without a time takes part in no time-bounded question (README rule
        5): with a range it is left out, and ``timeless`` says whether any was."""
        found = []
        bounded = after_time is not None or before_time is not None
        for message in self.trace.wan:
            if message.error is None and where(message):
                when = message.time
                if bounded and when is None:
                    continue
                if after_time is not None and when < after_time:
                    continue
                if before_time is not None and when > before_time:
                    continue
                found.append(message)
        return found

    def timeless(self, where: Callable[[WanRecord], bool]) -> list[WanRecord]:
        """GBCS messages satisfying ``where`` that carry no time."""
        return [m for m in self.trace.wan if m.error is None and m.time is None and where(m)]

    # ---- verdict-making ----------------------------------------------------------------

    def window_closed(self, start: float | None, within: float) -> bool:
        """Whether the trace runs on past ``start + within`` (the DUT had its chance).

        A growing trace is pulled only until it passes that time or its source says
        nothing more will come."""
        if start is None:
            return False
        closes = start + within
        while (self.trace.end_time or float("-inf")) < closes and self.trace.more():
            pass
        end = self.trace.end_time
        return end is not None and end >= closes

    def need(
        self, match: Match, after: Frame | int | None = None, within: float | None = None,
        *, what: str, before: Frame | None = None,
    ) -> Frame:
        """The frame the scenario cannot do without (a stimulus): INCONCLUSIVE if absent."""
        frame = self.next(match, after, within, before)
        if frame is None:
            where = f" after frame {after.number}" if isinstance(after, Frame) else ""
            raise Inconclusive(f"the trace holds no {what} ({match}){where}")
        return frame

    def must_next(
        self, match: Match, after: Frame | None = None, within: float | None = None,
        *, rule: str,
    ) -> Frame:
        """The frame the DUT must send. FAIL if the trace runs past the window without it
        and the sniffer saw the sender all through the window; INCONCLUSIVE if the trace
        stops before the window closes or the window is blind for the sender."""
        window = self.default_window if within is None else within
        frame = self.next(match, after, window)
        if frame is not None:
            return frame
        raise self.absence(match, after, window, rule=rule)

    def absence(
        self, match: Match, after: Frame | None, within: float, *, rule: str,
        shown: Iterable[Frame] = (), what: str | None = None,
    ) -> Violation | Inconclusive:
        """The verdict for ``match`` absent within ``within`` s after ``after``: a FAIL
        only where the window closed inside the trace and no place in it is blind for
        the sender(s) ``match.src`` (returned, for the caller to raise)."""
        what = what or f"no {match}"
        start = _time_of(after, self.trace)
        where = f"frame {after.number}" if isinstance(after, Frame) else "the start"
        if not self.trace.shows_han:
            return Inconclusive(f"{rule}: {what}, but no frame of the trace decodes beyond "
                                "its MAC header: the capture does not show the HAN")
        if not self.window_closed(start, within):
            return Inconclusive(f"the trace ends before {within:g} s after {where} and "
                                f"holds {what} ({rule})")
        first = _position(after)
        last = self.window_end(after, within)
        blind = self.trace.coverage.blind(first, last, _as_tuple(match.src) or ())
        if blind:
            return Inconclusive(f"{rule}: {what} within {within:g} s after {where}, but the "
                                f"sniffer may have missed it: {describe(blind)}")
        frames = [after] if isinstance(after, Frame) else []
        frames += [f for f in shown if f not in frames]
        if not frames:
            frames = self.trace.frames[first:first + 1]
        return Violation(f"{rule}: {what} within {within:g} s", frames)

    def must_not_next(
        self, match: Match, after: Frame | int | None = None, within: float | None = None,
        *, rule: str, before: Frame | None = None, cause: Frame | None = None,
    ) -> None:
        """FAIL with the offending frame if the DUT sends a matching frame."""
        frame = self.next(match, after, within, before)
        if frame is not None:
            raise Violation(rule, [f for f in (cause, frame) if f is not None])

    def check_field(self, frame: Frame, name: str, expected: FieldTest, *, rule: str) -> None:
        """FAIL, showing the frame, when ``frame.fields[name]`` is not as expected."""
        value = frame.fields.get(name)
        ok = expected(value) if callable(expected) else value == expected
        if not ok:
            want = "" if callable(expected) else f" (expected {_show(expected)})"
            raise Violation(f"{rule}: {name} is {_show(value)}{want}", [frame])


def _show(value: Any) -> str:
    return f"0x{value:X}" if isinstance(value, int) and value > 9 else repr(value)


def check_wan_field(
    message: WanRecord, name: str, expected: FieldTest, *, rule: str,
    frames: Iterable[Frame] = (),
) -> None:
    """FAIL, showing the GBCS message, when a payload field is not as expected."""
    value = message.fields.get(name)
    ok = expected(value) if callable(expected) else value == expected
    if not ok:
        want = "" if callable(expected) else f" (expected {_show(expected)})"
        raise Violation(f"{rule}: {name} is {_show(value)}{want}", list(frames), [message])
