"""The state of one scenario run, and the one place where check outcomes become verdicts.

Why here: the step definitions stay one line each; this turns a check's Evidence into a
pass (with the evidence recorded and attached), INCONCLUSIVE / NOT APPLICABLE into a pytest
skip whose reason starts with that word, and a Violation into a failure showing the frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import allure
import pytest

from hanota.dut import Dut
from targets.base import Target
from verify.report import decoded_frames, decoded_wan, sequence_chart
from verify.trace import Trace
from verify.verdicts import Evidence, Inconclusive, NotApplicable, Verdict, Violation


@dataclass
class ScenarioContext:
    """What the Given/When steps set up and the Then steps judge."""

    target: Target
    dut: Dut
    role: str
    node: str | None = None
    exchange: str | None = None
    trace: Trace | None = None
    requesters: dict[str, str] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    verdict: Verdict | None = None
    failed: bool = False

    def need_trace(self) -> Trace:
        if self.trace is None:
            raise RuntimeError("a Then step ran before the exchange was captured")
        return self.trace

    def judge(self, check: Callable[..., Evidence], *args: Any) -> Evidence:
        """Run a check on the scenario's trace and turn its outcome into a verdict."""
        trace = self.need_trace()
        try:
            evidence = check(trace, *args).conclude()
        except (Inconclusive, NotApplicable) as verdict:
            self.verdict = verdict
            self._attach(trace, verdict.reason, [], [])
            pytest.skip(str(verdict))
        except Violation as violation:
            self.verdict, self.failed = violation, True
            self._attach(trace, str(violation), [f.number for f in violation.frames],
                         [m.index for m in violation.wan])
            raise
        self.evidence.append(evidence)
        self._attach(trace, "\n".join(evidence.notes), evidence.frames, evidence.wan)
        return evidence

    def inconclusive(self, reason: str) -> None:
        self.verdict = Inconclusive(reason)
        pytest.skip(str(self.verdict))

    def not_applicable(self, reason: str) -> None:
        self.verdict = NotApplicable(reason)
        pytest.skip(str(self.verdict))

    @property
    def frames(self) -> list[int]:
        return sorted({n for e in self.evidence for n in e.frames})

    @property
    def wan(self) -> list[int]:
        return sorted({n for e in self.evidence for n in e.wan})

    def _attach(self, trace: Trace, text: str, frames: list[int], wan: list[int]) -> None:
        """Allure attachments: the verdict's frames decoded, the exchange's sequence chart
        and the GBCS messages (no-ops when Allure is not recording)."""
        body = f"{text}\n\n{decoded_frames(trace, frames)}" if frames else text
        allure.attach(body, name="verdict evidence", attachment_type=allure.attachment_type.TEXT)
        allure.attach(sequence_chart(trace, self.node), name="message sequence chart",
                      attachment_type=allure.attachment_type.TEXT)
        allure.attach(decoded_wan(trace, wan or None), name="GBCS messages",
                      attachment_type=allure.attachment_type.TEXT)
