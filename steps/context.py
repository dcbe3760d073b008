"""The state of one scenario run, and the one place where check outcomes become verdicts.

Why here: the step definitions stay one line each; this turns a check's Evidence into a
pass (with the evidence recorded and attached), INCONCLUSIVE / NOT APPLICABLE into a pytest
skip whose reason starts with that word, and a Violation into a failure showing the frames.

Allure attachments (no-ops when Allure is not recording). Per verdict: the verdict's
text with its frames and GBCS messages decoded, the capture slice it rests on (pcapng:
the evidence frames, or each violating frame with its neighbours) and that slice's frames
decoded in the slice's order. Once per scenario: the message sequence chart of the
device's exchange (SVG and text), every GBCS message decoded, and, when the device moved
blocks (every transfer scenario), the download plot. Charts and plots are drawn once per
(trace, device) however many scenarios judge it (``hanota.verify.report.exchange_view``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import allure
import pytest
from hanota.dut.description import Dut
from hanota.dut.situations import Situation
from hanota.targets.base import Target
from hanota.verify.report import (
    FAIL_NEIGHBOURS,
    capture_slice,
    decoded_frames,
    decoded_wan,
    evidence_frames,
    evidence_text,
    exchange_view,
    slice_caption,
)
from hanota.verify.trace import Trace
from hanota.verify.verdicts import Evidence, Inconclusive, NotApplicable, Verdict, Violation

PCAPNG = "application/x-pcapng"
DECODED_LIMIT = 500
"""Frames decoded in the text attachment; the capture slice itself holds them all."""


@dataclass(repr=False)
class ScenarioContext:
    """What the Given/When steps set up and the Then steps judge.

    ``requirements`` are the scenario's requirement tags (a FRAG-* scenario is a transfer
    scenario even when its trace shows no block). ``attachments`` is False when Allure is
    not recording: nothing is then rendered for it.
    """

    target: Target
    dut: Dut
    role: str
    requirements: tuple[str, ...] = ()
    attachments: bool = True
    node: str | None = None
    situation: Situation | None = None
    trace: Trace | None = None
    requesters: dict[str, str] = field(default_factory=dict)
    image_in_parts: bool = False
    evidence: list[Evidence] = field(default_factory=list)
    verdict: Verdict | None = None
    failed: bool = False
    exchange_attached: bool = False

    def __repr__(self) -> str:
        """Short: Allure shows the ``ota`` fixture as a step parameter of every step."""
        return (f"ScenarioContext(role={self.role!r}, node={self.node!r}, "
                f"situation={self.situation.id if self.situation else None!r})")

    def need_trace(self) -> Trace:
        if self.trace is None:
            raise RuntimeError("a Then step ran before the situation's capture was given")
        return self.trace

    def judge(self, check: Callable[..., Evidence], *args: Any) -> Evidence:
        """Run a check on the scenario's trace and turn its outcome into a verdict."""
        trace = self.need_trace()
        try:
            evidence = check(trace, *args).conclude()
        except (Inconclusive, NotApplicable) as verdict:
            self.verdict = verdict
            self._attach(trace, str(verdict), [], [])
            pytest.skip(str(verdict))
        except Violation as violation:
            self.verdict, self.failed = violation, True
            self._attach(trace, str(violation), [f.number for f in violation.frames],
                         [m.index for m in violation.wan], neighbours=FAIL_NEIGHBOURS)
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

    @property
    def transfer(self) -> bool:
        return any(requirement.startswith("FRAG-") for requirement in self.requirements)

    def _attach(self, trace: Trace, text: str, frames: list[int], wan: list[int],
                neighbours: int = 0) -> None:
        """The verdict's attachments, then (once per scenario) the exchange's."""
        if not self.attachments:
            return
        body = text
        if frames:
            body += (f"\n\n{evidence_text(frames, [])}: see the capture slice and its "
                     "decoded frames")
        if wan:
            body += f"\n\nGBCS messages:\n{decoded_wan(trace, wan)}"
        allure.attach(body, name="verdict evidence", attachment_type=allure.attachment_type.TEXT)
        chosen = evidence_frames(trace, frames, neighbours)
        if chosen:
            allure.attach(capture_slice(chosen), name=f"capture slice ({len(chosen)} frames)",
                          attachment_type=PCAPNG, extension="pcapng")
            numbers = [frame.number for frame in chosen]
            allure.attach(f"{slice_caption(chosen)}\npacket k of the capture slice is the "
                          f"k-th frame below\n\n"
                          f"{decoded_frames(trace, numbers, limit=DECODED_LIMIT)}",
                          name="decoded frames (capture slice)",
                          attachment_type=allure.attachment_type.TEXT)
        if not self.exchange_attached:
            self.exchange_attached = True
            self._attach_exchange(trace)

    def _attach_exchange(self, trace: Trace) -> None:
        view = exchange_view(trace, self.node)
        who = self.node or "all nodes"
        allure.attach(view.chart_svg, name=f"message sequence chart ({who})",
                      attachment_type=allure.attachment_type.SVG)
        allure.attach(view.chart_text, name=f"message sequence chart ({who}, text)",
                      attachment_type=allure.attachment_type.TEXT)
        allure.attach(decoded_wan(trace), name="GBCS messages",
                      attachment_type=allure.attachment_type.TEXT)
        plot = view.plot
        if plot is not None:
            allure.attach(plot, name=f"download plot ({who})",
                          attachment_type=allure.attachment_type.PNG)
        elif self.transfer:
            allure.attach(f"no block transfer of {who} in {trace.source}",
                          name="download plot", attachment_type=allure.attachment_type.TEXT)
