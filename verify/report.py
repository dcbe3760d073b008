"""What a run reports: decoded frames, a sequence chart, and the per-requirement summary.

Kept apart from pytest so the same texts serve the Allure attachments, the terminal and
the Markdown summary, and a later `make report` can reuse them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from layers import ota
from verify.requirements import REQUIREMENTS, area_of
from verify.trace import CLUSTER_NAMES, Frame, Trace
from verify.verdicts import ERROR, FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS

MSC_COMMANDS = (*(spec.name for spec in ota.COMMANDS),
                "read_attributes", "read_attributes_response", "default_response")
BLOCK_COMMANDS = ("image_block_request", "image_block_response")
PRECEDENCE = (FAIL, ERROR, PASS, INCONCLUSIVE, NOT_APPLICABLE)


def decoded_frames(trace: Trace, numbers: Iterable[int], limit: int = 200) -> str:
    """The frames a verdict rests on, one decoded line each."""
    wanted = sorted(set(numbers))
    lines = []
    for number in wanted[:limit]:
        frame = trace.frame(number)
        if frame is not None:
            lines.append(f"frame {number}: {frame.describe()}")
    if len(wanted) > limit:
        lines.append(f"... {len(wanted) - limit} more frames")
    return "\n".join(lines) or "(no frames)"


def decoded_wan(trace: Trace, indexes: Iterable[int] | None = None) -> str:
    chosen = trace.wan if indexes is None else [trace.wan[i] for i in sorted(set(indexes))
                                                 if i < len(trace.wan)]
    return "\n".join(f"WAN {m.index}: {m.describe()}" for m in chosen) or "(no GBCS messages)"


def _arrow(frame: Frame, columns: list[str]) -> str:
    width = 14
    cells = [" " * width for _ in columns]
    try:
        a, b = columns.index(frame.src or ""), columns.index(frame.dst or "")
    except ValueError:
        return ""
    low, high = sorted((a, b))
    for i in range(low, high + 1):
        cells[i] = "-" * width
    tip = ">" if b > a else "<"
    cells[b] = (tip + " " * (width - 1)) if b > a else (" " * (width - 1) + tip)
    cells[a] = "o" + "-" * (width - 1) if b > a else "-" * (width - 1) + "o"
    return "".join(cells)


def sequence_chart(trace: Trace, node: str | None = None, limit: int = 400) -> str:
    """Text message sequence chart of the OTA exchange (runs of block pairs folded)."""
    chf = trace.dut.chf.name
    columns = [chf] + [n for n in trace.dut.nodes if n != chf]
    t0 = trace.start_time or 0.0
    lines = ["frame    time(s)  " + "".join(f"{c:<14}" for c in columns)]
    run: list[Frame] = []

    def flush() -> None:
        if not run:
            return
        offsets = [f.get("file_offset") for f in run if f.get("file_offset") is not None]
        span = f" offsets {min(offsets)}..{max(offsets)}" if offsets else ""
        lines.append(f"{run[0].number:>5}-{run[-1].number:<5} ... {len(run)} block "
                     f"requests/responses {run[0].src}<->{run[0].dst}{span}")
        run.clear()

    for frame in trace.frames:
        if frame.command not in MSC_COMMANDS:
            continue
        if node is not None and node not in (frame.src, frame.dst):
            continue
        if frame.command in BLOCK_COMMANDS and frame.get("status") in (None, ota.SUCCESS):
            run.append(frame)
            continue
        flush()
        status = frame.get("status")
        label = frame.command + (f" {ota.STATUS.get(status, status)}" if status is not None
                                 and frame.cluster == ota.CLUSTER_ID else "")
        if frame.cluster != ota.CLUSTER_ID:
            label += f" ({CLUSTER_NAMES.get(frame.cluster or 0, frame.cluster)})"
        lines.append(f"{frame.number:>5} {frame.time - t0:>10.3f}  {_arrow(frame, columns)}"
                     f" {label}")
        if len(lines) > limit:
            lines.append("... (chart cut)")
            return "\n".join(lines)
    flush()
    for message in trace.wan:
        when = "?" if message.time is None else f"{message.time - t0:.3f}"
        lines.append(f"  WAN {when:>10}  {message.sender} -> {message.recipient}: "
                     f"{message.kind} 0x{message.message_code or 0:04X} "
                     + " ".join(f"{k}={v}" for k, v in message.fields.items()
                                if k in ("alert_code", "response_code", "activate_image")))
    return "\n".join(lines)


@dataclass
class ScenarioVerdict:
    """One scenario's result, as collected by the plugin."""

    scenario: str
    name: str
    feature: str
    requirements: list[str]
    role: str
    verdict: str
    reason: str = ""
    frames: list[int] = field(default_factory=list)
    wan: list[int] = field(default_factory=list)
    target: str = ""
    exchange: str = ""
    source: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def requirement_verdicts(results: Iterable[ScenarioVerdict]) -> dict[str, dict]:
    """Per requirement: the worst-first verdict over its scenarios and their evidence.

    FAIL beats everything; PASS needs at least one passing scenario; a requirement with
    only inconclusive / not applicable scenarios says so; one with no scenario is MISSING.
    """
    table: dict[str, dict] = {
        req: {"verdict": "NOT RUN", "scenarios": [], "evidence": {}, "reasons": []}
        for req in REQUIREMENTS}
    for result in results:
        for req in result.requirements:
            row = table.setdefault(req, {"verdict": "NOT RUN", "scenarios": [],
                                         "evidence": {}, "reasons": []})
            row["scenarios"].append(result.verdict)
            if result.verdict == PASS:
                where = row["evidence"].setdefault(result.exchange, ([], []))
                where[0].extend(result.frames)
                where[1].extend(result.wan)
            elif result.reason:
                row["reasons"].append(result.reason.splitlines()[0][:160])
    for row in table.values():
        verdicts = row["scenarios"]
        row["verdict"] = next((v for v in PRECEDENCE if v in verdicts), "NOT RUN")
    return table


def _row_evidence(row: dict) -> str:
    """Evidence per capture: frame numbers only mean something with their capture."""
    return "; ".join(f"{exchange or 'trace'}: {_evidence_text(frames, wan)}"
                     for exchange, (frames, wan) in row["evidence"].items())


def _evidence_text(frames: list[int], wan: list[int]) -> str:
    parts = []
    if frames:
        shown = sorted(set(frames))
        parts.append("frames " + ", ".join(map(str, shown[:8])) +
                     (f" … ({len(shown)})" if len(shown) > 8 else ""))
    if wan:
        parts.append("WAN " + ", ".join(map(str, sorted(set(wan)))))
    return "; ".join(parts)


def summary_lines(results: list[ScenarioVerdict]) -> list[str]:
    """The per-requirement summary as fixed-width text lines."""
    table = requirement_verdicts(results)
    lines = [f"{'requirement':<10} {'verdict':<15} {'scenarios':<24} evidence / reason"]
    for req, row in table.items():
        counts = ", ".join(f"{row['scenarios'].count(v)} {v.lower()}" for v in PRECEDENCE
                           if v in row["scenarios"])
        detail = _row_evidence(row) if row["verdict"] == PASS else (
            row["reasons"][0] if row["reasons"] else "")
        lines.append(f"{req:<10} {row['verdict']:<15} {counts:<24} {detail}")
    totals = {v: sum(r.verdict == v for r in results) for v in PRECEDENCE}
    lines.append("scenarios: " + ", ".join(f"{n} {v.lower()}" for v, n in totals.items()))
    return lines


def summary_markdown(results: list[ScenarioVerdict], header: str) -> str:
    """The summary as Markdown: per requirement, then per scenario."""
    table = requirement_verdicts(results)
    out = ["# SECMP0007 OTA conformance summary", "", header, "",
           "| requirement | area | verdict | scenarios | evidence / reason |",
           "|---|---|---|---|---|"]
    for req, row in table.items():
        counts = ", ".join(f"{row['scenarios'].count(v)} {v.lower()}" for v in PRECEDENCE
                           if v in row["scenarios"])
        detail = _row_evidence(row) if row["verdict"] == PASS else (
            "; ".join(row["reasons"][:2]))
        out.append(f"| {req} | {area_of(req)} | **{row['verdict']}** | {counts} | "
                   f"{detail.replace('|', '/')} |")
    out += ["", "## Scenarios", "",
            "| scenario | role | requirements | verdict | capture | detail |",
            "|---|---|---|---|---|---|"]
    for result in results:
        detail = (_evidence_text(result.frames, result.wan) if result.verdict == PASS
                  else result.reason.splitlines()[0][:200] if result.reason else "")
        out.append(f"| {result.name} | {result.role} | {', '.join(result.requirements)} | "
                   f"{result.verdict} | {result.source or '-'} | {detail.replace('|', '/')} |")
    return "\n".join(out) + "\n"
