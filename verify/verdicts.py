"""The four verdicts of a conformance scenario, as exceptions a check raises.

Why exceptions: a check walks the trace and stops at the first frame that settles the
question; raising carries that frame (or the missing evidence) straight to the report.
A check that returns normally returns its ``Evidence``: pass needs evidence, so an
empty ``Evidence`` is turned into INCONCLUSIVE, never into a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hanota.verify.trace import Frame, WanRecord

INCONCLUSIVE = "INCONCLUSIVE"
NOT_APPLICABLE = "NOT APPLICABLE"
PASS = "PASS"
FAIL = "FAIL"
ERROR = "ERROR"


class Verdict(Exception):
    """Base of the verdicts that end a check early."""

    label = ""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{self.label}: {reason}" if self.label else reason)


class Violation(Verdict, AssertionError):
    """FAIL: the trace holds a frame (or a GBCS message) that breaks the rule.

    An AssertionError so pytest reports it as a failure, not an error. Every FAIL names
    frames (README rule 6): one without a frame or a GBCS message is refused, which
    makes the scenario an ERROR, a defect of the check to mend.
    """

    label = FAIL

    def __init__(
        self, rule: str, frames: list[Frame] | tuple[Frame, ...] = (),
        wan: list[WanRecord] | tuple[WanRecord, ...] = (),
    ) -> None:
        self.rule = rule
        self.frames = [frame for frame in frames if frame is not None]
        self.wan = list(wan)
        if not self.frames and not self.wan:
            raise ValueError(f"a FAIL must name frames or GBCS messages: {rule}")
        lines = [rule]
        lines += [f"  frame {frame.number}: {frame.describe()}" for frame in self.frames]
        lines += [f"  WAN message {message.index}: {message.describe()}" for message in self.wan]
        super().__init__("\n".join(lines))

    def __str__(self) -> str:
        return self.reason


class Inconclusive(Verdict):
    """The trace lacks the evidence the scenario needs (stimulus absent, capture cut)."""

    label = INCONCLUSIVE


class NotApplicable(Verdict):
    """PICS does not claim the option, or the side under test is not this scenario's."""

    label = NOT_APPLICABLE


@dataclass
class Evidence:
    """What a passing check rests on: frame numbers and WAN message indexes, with notes.

    Membership is kept in sets beside the ordered lists: a transfer check adds tens of
    thousands of frames, and a list lookup per frame would make it quadratic."""

    requirement: str
    frames: list[int] = field(default_factory=list)
    wan: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _frames: set[int] = field(default_factory=set, repr=False, compare=False)
    _wan: set[int] = field(default_factory=set, repr=False, compare=False)

    def frame(self, *frames: Frame | None, note: str | None = None) -> None:
        for frame in frames:
            if frame is not None and frame.number not in self._frames:
                self._frames.add(frame.number)
                self.frames.append(frame.number)
        if note:
            self.notes.append(note)

    def message(self, *messages: WanRecord | None, note: str | None = None) -> None:
        for message in messages:
            if message is not None and message.index not in self._wan:
                self._wan.add(message.index)
                self.wan.append(message.index)
        if note:
            self.notes.append(note)

    def merge(self, other: Evidence) -> None:
        for number in other.frames:
            if number not in self._frames:
                self._frames.add(number)
                self.frames.append(number)
        for index in other.wan:
            if index not in self._wan:
                self._wan.add(index)
                self.wan.append(index)
        self.notes.extend(other.notes)

    @property
    def empty(self) -> bool:
        return not self.frames and not self.wan

    def conclude(self) -> Evidence:
        """Self when it holds evidence; otherwise INCONCLUSIVE (nothing found never passes)."""
        if self.empty:
            raise Inconclusive(f"{self.requirement}: the trace holds no evidence for this rule")
        return self

    def __str__(self) -> str:
        parts = []
        if self.frames:
            parts.append("frames " + ", ".join(str(n) for n in sorted(self.frames)[:40]))
            if len(self.frames) > 40:
                parts[-1] += f" ... ({len(self.frames)} frames)"
        if self.wan:
            parts.append("WAN " + ", ".join(str(n) for n in sorted(self.wan)))
        return "; ".join(parts) or "none"
