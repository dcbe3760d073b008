"""A run's results, gathered in the process that writes them, with or without pytest-xdist.

Why a module of its own: under pytest-xdist (``-n 2``) scenarios run in worker
processes, each with its own target, while the controlling process writes
``verdicts.json``, ``summary.md`` and the conformance statement. So every scenario's
verdict travels on its test report (``report.user_properties``, which pytest-xdist sends
to the controller) together with what only the worker knows: the target's description,
the evidence files it judged, and the pictures of the scenario's exchange it drew into
``<out>/figures/``. The writing process collects them in ``pytest_runtest_logreport``.
Without xdist the same path is taken in one process, so a run writes the same files
either way.

``run_header`` is the run as a whole, as ``verdicts.json`` (key ``run``), the statement
and ``hanota matrix`` read it: the DUT's identity (both sides of the pair), the PICS and
PIXIT, the target, the suite's version, the tshark version and every evidence file with
its SHA-256.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hanota.dut.description import Dut, Identity, Node, load_dut
from hanota.steps.context import ScenarioContext
from hanota.targets.base import evidence_files
from hanota.targets.capture_set import load_capture_set
from hanota.verify.report import ScenarioVerdict, exchange_view
from hanota.verify.requirements import INTERPRETATIONS

VERDICT_PROPERTY = "hanota_verdict"
TARGET_PROPERTY = "hanota_target"
FIGURES = "figures"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CAPTURE_NAME = re.compile(r"[^/\\\s]+\.pcap(?:ng)?")


@dataclass
class RunResults:
    """What the writing process has collected: scenarios in report order, the target's
    description and the evidence files (first seen first, each once)."""

    scenarios: list[ScenarioVerdict] = field(default_factory=list)
    target_description: str = ""
    evidence: dict[str, None] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    order: dict[str, int] = field(default_factory=dict)
    """Scenario id -> place in the collection, when pytest-xdist told it (its workers
    report in the order they finish)."""

    def in_order(self) -> list[ScenarioVerdict]:
        """The scenarios in collection order, as a run without xdist reports them."""
        last = len(self.order)
        return sorted(self.scenarios, key=lambda result: self.order.get(result.scenario, last))


RESULTS = pytest.StashKey[RunResults]()


class _Collector:
    """Takes the verdicts off the reports, whichever process made them."""

    def __init__(self, results: RunResults) -> None:
        self.results = results

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == VERDICT_PROPERTY:
                self.results.scenarios.append(ScenarioVerdict(**value))
            elif name == TARGET_PROPERTY:
                self.results.target_description = value["description"]
                self.results.evidence.update(dict.fromkeys(value["evidence"]))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        """Every xdist worker collects the same ids, in collection order."""
        if not self.results.order:
            self.results.order = {scenario: place for place, scenario in enumerate(ids)}


def start_collecting(config: pytest.Config) -> None:
    """Called from the suite plugin's ``pytest_configure``: the writing process (the
    only one, or the xdist controller) collects from every report."""
    if config.getoption("numprocesses", None) and config.getoption("target", None) == "live":
        raise pytest.UsageError("--target live takes one sniffer source: run it without "
                                "pytest-xdist (-n), every worker would open the source")
    if hasattr(config, "workerinput"):
        return  # a pytest-xdist worker: its reports go to the controller, which collects
    config.stash[RESULTS] = RunResults()
    config.pluginmanager.register(_Collector(config.stash[RESULTS]), "hanota-run-results")


def collected(config: pytest.Config) -> RunResults:
    """This run's results (empty in a worker, or before any scenario reported)."""
    return config.stash.get(RESULTS, RunResults())


def record_scenario(config: pytest.Config, report: pytest.TestReport,
                    context: ScenarioContext | None, result: ScenarioVerdict) -> None:
    """Put a scenario's verdict on its report, with the figures of its exchange and the
    target's run-level facts, for the process that writes the files."""
    if context is not None:
        result.figures = scenario_figures(context, Path(config.getoption("out")))
        report.user_properties.append((TARGET_PROPERTY, {
            "description": context.target.description,
            "evidence": [str(path) for path in evidence_files(context.target)]}))
    report.user_properties.append((VERDICT_PROPERTY, result.as_dict()))


def scenario_figures(context: ScenarioContext, out: Path) -> list[str]:
    """The sequence chart of the scenario's exchange (SVG) and, for a transfer scenario
    whose device moved blocks in a run recording Allure results, the download plot
    (PNG), written to ``out/figures/``.

    Drawn here, in the process that holds the trace, once per (trace, device) however
    many scenarios judge it (``exchange_view`` caches them); written on each use, aside
    and renamed, since two xdist workers may draw the same exchange. Why the plot only
    with Allure: it is drawn for the attachments then anyway, while without them it
    would cost every run a second of matplotlib (the mutation run and the reference
    replays make dozens of runs); the chart costs milliseconds.
    """
    trace = context.trace
    if trace is None:
        return []
    view = exchange_view(trace, context.node)
    found = _CAPTURE_NAME.search(trace.source)
    capture = found.group(0).rsplit(".", 1)[0] if found else trace.source
    stem = _UNSAFE.sub("-", f"{capture}.{context.node or 'all'}").strip("-")
    drawn = [(f"{stem}.msc.svg", view.chart_svg.encode())]
    if context.transfer and context.attachments and view.has_blocks and view.plot is not None:
        drawn.append((f"{stem}.plot.png", view.plot))
    folder = out / FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in drawn:
        partial = folder / f".{name}.{os.getpid()}"
        partial.write_bytes(data)
        partial.replace(folder / name)
    return [f"{FIGURES}/{name}" for name, _ in drawn]


def tshark_version() -> str:
    """The first line of ``tshark --version`` (the decoder's oracle), or why there is none."""
    tshark = shutil.which("tshark")
    if tshark is None:
        return "not on PATH"
    try:
        done = subprocess.run([tshark, "--version"], capture_output=True, text=True,
                              timeout=20, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"{tshark}: {error}"
    return (done.stdout.strip().splitlines() or [f"{tshark}: no version printed"])[0]


def file_digest(path: Path, out: Path) -> dict[str, Any]:
    """A file's name, path (relative to ``out`` when inside it), size and SHA-256, read
    in blocks; a file gone since the run judged it says so instead of a digest."""
    try:
        shown = str(path.resolve().relative_to(out.resolve()))
    except (ValueError, OSError):
        shown = str(path)
    entry: dict[str, Any] = {"file": path.name, "path": shown}
    try:
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
                size += len(block)
    except OSError as error:
        return {**entry, "sha256": "", "bytes": None, "error": str(error)}
    return {**entry, "sha256": digest.hexdigest(), "bytes": size}


def _dut_file(path: Path | None, out: Path) -> dict[str, Any]:
    if path is not None:
        return file_digest(Path(path), out)
    text = resources.files("hanota.dut").joinpath("default_dut.toml").read_bytes()
    return {"file": "default_dut.toml", "path": "emulated HAN (default): the package's "
            "dut/default_dut.toml", "sha256": hashlib.sha256(text).hexdigest(),
            "bytes": len(text)}


def _side(identity: Identity, node: Node, under_test: bool) -> dict[str, Any]:
    return {**dataclasses.asdict(identity), "node": node.name, "kind": node.kind,
            "eui64": node.eui64, "under_test": under_test}


def dut_facts(dut: Dut) -> dict[str, Any]:
    """The DUT description as the statement shows it (identity, nodes, PICS, PIXIT)."""
    return {
        "role": dut.role, "node": dut.dut_node,
        "identity": dataclasses.asdict(dut.identity), "peer": dataclasses.asdict(dut.peer),
        "nodes": [{"name": n.name, "kind": n.kind, "eui64": n.eui64, "short": f"0x{n.short:04X}",
                   "current_version": f"0x{n.current_version:08X}" if n.current_version else "",
                   "hardware_version": n.hardware_version} for n in dut.nodes.values()],
        "pics": dataclasses.asdict(dut.pics),
        "pixit": dataclasses.asdict(dut.pixit),
    }


def interpretations(dut: Dut) -> list[dict[str, Any]]:
    """Every interpretation with the value its switch has in this DUT description."""
    rows = []
    for item in INTERPRETATIONS.values():
        table, _, key = item.switch.partition(".")
        value = getattr(getattr(dut, table, None), key, None)
        rows.append({**dataclasses.asdict(item), "value": value})
    return rows


def dut_path(config: pytest.Config) -> Path | None:
    """The DUT description of the run: ``--dut``, else the one a capture set names, else
    None (the emulated HAN's)."""
    path = config.getoption("dut")
    folder = config.getoption("capture_set")
    if path is None and folder is not None:
        path = load_capture_set(folder).dut
    return path


def run_header(config: pytest.Config, results: RunResults, elapsed_s: float) -> dict[str, Any]:
    """The run as a whole (``verdicts.json``'s ``run``): see the module's docstring."""
    # imported here: hanota.steps.allure_meta is a pytest plugin module, and importing it before
    # pytest registers it would keep pytest from rewriting its asserts (and warn)
    from hanota.steps.allure_meta import describe_target, suite_version

    out = Path(config.getoption("out"))
    path = dut_path(config)
    dut = load_dut(path)
    role = dut.role
    return {
        "suite": {"name": "hanota", "version": suite_version(), "requirements": "SECMP0007"},
        "tshark": tshark_version(),
        "target": {"name": config.getoption("target"),
                   "description": results.target_description,
                   "inputs": describe_target(config)},
        "dut": {"file": _dut_file(path, out), **dut_facts(dut)},
        "device": _side(dut.device_identity, dut.dut, role in ("device", "both")),
        "chf": _side(dut.chf_identity, dut.chf, role in ("chf", "both")),
        "evidence": [file_digest(Path(path), out) for path in results.evidence],
        "interpretations": interpretations(dut),
        "started": datetime.fromtimestamp(results.started, UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed_s, 1),
        "command": shlex.join(["pytest", *map(str, config.invocation_params.args)]),
    }
