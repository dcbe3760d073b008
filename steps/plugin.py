"""pytest plugin of the conformance suite: options, the target, role filtering, verdicts.

Load with ``-p hanota.steps.plugin``. Options: ``--target`` (a name of the target registry,
default emulator), ``--dut FILE`` (default: the emulated HAN's description),
``--keys-file FILE`` (Wireshark's ``zigbee_pc_keys``: keys added to the DUT
description's), ``--fcs-format`` (pcap/pipe: link-type-195 FCS convention, default
detected), ``--dut-profile NAME`` (emulator fault profile), ``--pcap FILE`` (alias
``--capture-file``: pytest owns ``--capture``), ``--capture-set DIR``, ``--alerts PATH``
and ``--chf-cert PEM`` (replay), ``--seed N``, ``--out DIR``; ``--images NAMES``
(replay: the images delivered), ``--source URL``, ``--wan-source URL`` / ``--duis-latency
S`` (live), ``--fcs-format`` and the emulator's imperfection knobs (``--sniffer-miss P``,
``--han-variant NAME`` ..., see ``hanota.emulators.knobs``) go to ``TargetOptions.extra``.

Verdicts are made here, in one place: each scenario's verdict, requirement tags, role and
evidence go (through ``hanota.steps.run_results``, which also serves pytest-xdist) to
``<out>/verdicts.json``, the per-requirement summary to the terminal and
``<out>/summary.md``, and the conformance statement to ``<out>/conformance.html`` / ``.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import allure
import pytest
from _pytest.terminal import TerminalReporter
from hanota.dut.description import Dut, load_dut
from hanota.emulators.knobs import add_cli_options, from_cli
from hanota.layers.capture_unwrap import FCS_AUTO, FCS_FORMATS
from hanota.steps.context import ScenarioContext
from hanota.steps.definitions import *  # noqa: F403 - the step fixtures must be in this module
from hanota.steps.run_results import (
    collected,
    dut_path,
    record_scenario,
    run_header,
    start_collecting,
)
from hanota.targets.base import Target, TargetOptions, make_target
from hanota.verify.report import ScenarioVerdict, summary_lines, summary_markdown
from hanota.verify.requirements import AREAS, REQUIREMENTS, area_of
from hanota.verify.verdicts import ERROR, FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS

from hanota.keys_file import load_keys_file
from hanota.statement import write_statement

# the Allure results' environment, executor, categories
pytest_plugins = ("hanota.steps.allure_meta",)
ROLE_TAGS = ("device", "chf")
AREA_NAMES = frozenset(AREAS.values())
OTHER_TAGS = {"active": "needs a stimulus injected (rogue CAD, lossy air, SR 11.2, request)"}
CONTEXT = pytest.StashKey[ScenarioContext]()
STARTED = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hanota", "SECMP0007 OTA conformance")
    group.addoption("--target", default="emulator",
                    help="where traces come from: emulator (default), pcap, or a registered "
                    "target")
    group.addoption("--dut", default=None, type=Path,
                    help="DUT description (PICS/PIXIT) TOML; default: the emulated HAN")
    group.addoption("--keys-file", default=None, type=Path,
                    help="Wireshark's ZigBee key table (zigbee_pc_keys of a Wireshark profile): "
                    "its keys are added to the DUT description's")
    group.addoption("--fcs-format", default=FCS_AUTO, choices=FCS_FORMATS,
                    help="pcap/live pipe: what ends a link-type-195 frame (crc16, cc24xx "
                    "metadata, none); default auto: detected from the capture")
    group.addoption("--dut-profile", default=None,
                    help="emulator: fault profile applied to the node of its side")
    group.addoption("--pcap", "--capture-file", dest="capture_file", default=None, type=Path,
                    help="pcap: the capture to judge (pytest's own --capture is taken)")
    group.addoption("--capture-set", default=None, type=Path,
                    help="pcap: a folder whose situations.toml names the capture of each "
                    "situation; every scenario is judged on its own situation's capture")
    group.addoption("--alerts", default=None, type=Path,
                    help="pcap: the WAN messages, a file or directory: DUIS XML responses "
                    "and alerts, base64 or hex GBCS, or UNIX-time HEX lines")
    group.addoption("--images", default=None,
                    help="pcap: comma-separated DUT image names the supplier delivered "
                    "(default: those the trace shows)")
    group.addoption("--chf-cert", default=None, type=Path,
                    help="PEM certificate the CHF's GBCS alerts verify with")
    group.addoption("--source", default=None,
                    help="live: the sniffer source (zep://HOST:PORT, pipe:PATH or -)")
    group.addoption("--wan-source", default=None,
                    help="live: receive DUIS POSTs at http://HOST:PORT/PATH (the WAN side)")
    group.addoption("--duis-latency", default=None, type=float,
                    help="live: seconds a DUIS message may arrive after the newest HAN frame "
                    "(default 30)")
    group.addoption("--evidence-timeout", default=None, type=float,
                    help="live: seconds a scenario waits for evidence (default: PIXIT "
                    "evidence_timeout_s)")
    group.addoption("--evidence-window", default="scenario", choices=("scenario", "run"),
                    help="live: the time-out restarts per scenario, or runs once per run")
    group.addoption("--wait-for-upgrade", action="store_true",
                    help="live: judge nothing before the first Image Notify / Query Next Image")
    group.addoption("--seed", default=0, type=int, help="emulator: random seed")
    # emulator: the imperfect sniffer and HAN (hanota.emulators.knobs), all off by default
    add_cli_options(group.addoption)
    group.addoption("--out", default=Path("out"), type=Path,
                    help="directory for captures, verdicts.json and summary.md")


def pytest_configure(config: pytest.Config) -> None:
    for requirement in REQUIREMENTS:
        config.addinivalue_line("markers", f"{requirement}: SECMP0007 {requirement}")
    for tag in ROLE_TAGS:
        config.addinivalue_line("markers", f"{tag}: the {tag} side is under test")
    for tag, text in OTHER_TAGS.items():
        config.addinivalue_line("markers", f"{tag}: {text}")
    for area in AREA_NAMES:
        config.addinivalue_line("markers", f"{area}: feature area {area}")
    config.stash[STARTED] = time.perf_counter()
    start_collecting(config)  # verdicts gathered where they are written (pytest-xdist)
    _knobs(config.getoption)  # a bad knob stops the run before any scenario


@pytest.fixture(scope="session")
def ota_dut(pytestconfig: pytest.Config) -> Dut:
    """The DUT description: ``--dut``, else the one a capture set names, else the
    emulated HAN's."""
    return load_dut(dut_path(pytestconfig))


@pytest.fixture(scope="session")
def ota_target(pytestconfig: pytest.Config, ota_dut: Dut) -> Target:
    option = pytestconfig.getoption
    options = TargetOptions(dut=ota_dut, dut_path=option("dut"), profile=option("dut_profile"),
                            capture=option("capture_file"), alerts=option("alerts"),
                            capture_set=option("capture_set"),
                            certificate=option("chf_cert"), seed=option("seed"),
                            out_dir=option("out"),
                            extra={**_extra(option("images"), option("source"), ota_dut),
                                   **_knobs(option),
                                   "evidence_timeout": option("evidence_timeout"),
                                   "evidence_window": option("evidence_window"),
                                   "wait_for_upgrade": option("wait_for_upgrade"),
                                   "wan_source": option("wan_source"),
                                   "duis_latency": option("duis_latency"),
                                   "fcs_format": option("fcs_format")},
                            keys=_keys_file(option("keys_file")))
    return make_target(option("target"), options)


def _keys_file(path: Path | None) -> tuple[bytes, ...]:
    """``--keys-file``: the keys of a Wireshark key table; a bad file stops the run."""
    if path is None:
        return ()
    try:
        return load_keys_file(path)
    except ValueError as error:
        raise pytest.UsageError(f"--keys-file: {error}") from error
def _knobs(option: Any) -> dict:
    """The emulator's sniffer and HAN knobs (``--sniffer-miss``, ``--han-variant`` ...)."""
    try:
        sniffer, han = from_cli(option)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from error
    return {"sniffer": sniffer, "han": han}


def _extra(images: str | None, source: str | None, dut: Dut) -> dict:
    """Target-specific options: delivered image names (replay), sniffer source (live)."""
    extra: dict = {} if source is None else {"source": source}
    if images is not None:
        names = [name.strip() for name in images.split(",") if name.strip()]
        unknown = [name for name in names if name not in dut.images]
        if unknown:
            raise pytest.UsageError(f"--images: not images of the DUT description: {unknown}")
        extra["images"] = names
    return extra


def _tags(item: pytest.Item) -> set[str]:
    return {mark.name for mark in item.iter_markers()}


def scenario_role(item: pytest.Item) -> str:
    roles = [tag for tag in ROLE_TAGS if tag in _tags(item)]
    return roles[0] if roles else ""


@pytest.fixture
def ota(request: pytest.FixtureRequest, ota_target: Target, ota_dut: Dut,
        ) -> ScenarioContext:
    """The scenario's context; NOT APPLICABLE when the DUT's role is the other side."""
    item = request.node
    role = scenario_role(item)
    requirements = sorted(t for t in _tags(item) if t in REQUIREMENTS)
    recording = bool(getattr(item.config.option, "allure_report_dir", None))
    context = ScenarioContext(target=ota_target, dut=ota_dut, role=role,
                              requirements=tuple(requirements), attachments=recording)
    item.stash[CONTEXT] = context
    allure.dynamic.epic("SECMP0007 OTA")
    for requirement in requirements:
        allure.dynamic.label("requirement", requirement)
        allure.dynamic.feature(area_of(requirement))
        allure.dynamic.story(f"{requirement}: {REQUIREMENTS[requirement]}")
    allure.dynamic.label("role", role)
    allure.dynamic.label("target", ota_target.name)
    allure.dynamic.parameter("target", ota_target.description)
    if ota_dut.role != "both" and role and role != ota_dut.role:
        context.not_applicable(f"the DUT's role is {ota_dut.role}; this scenario judges the "
                               f"{role} side")
    return context


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, **_: object) -> None:
    """A scenario that ran to its end without evidence is INCONCLUSIVE, never passed."""
    context = request.node.stash.get(CONTEXT, None)
    if context is None or context.failed or context.verdict is not None:
        return
    if not context.evidence:
        pytest.skip(f"{INCONCLUSIVE}: the scenario found no evidence in the trace")


def pytest_bdd_step_error(request: pytest.FixtureRequest, **_: object) -> None:
    context = request.node.stash.get(CONTEXT, None)
    if context is not None:
        context.failed = True


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _verdict(report: pytest.TestReport, call: pytest.CallInfo) -> tuple[str, str]:
    if report.skipped:
        reason = _skip_reason(report)
        for label in (NOT_APPLICABLE, INCONCLUSIVE):
            if reason.startswith(label):
                return label, reason
        return ERROR, f"skipped without a verdict (a defect of the suite): {reason}"
    if report.failed:
        error = call.excinfo.value if call.excinfo else None
        if isinstance(error, AssertionError):
            return FAIL, str(error)
        return ERROR, f"{type(error).__name__}: {error}" if error else report.longreprtext
    return PASS, ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when == "teardown" or (report.when == "setup" and report.passed):
        return
    if not any(tag in REQUIREMENTS for tag in _tags(item)):
        return
    verdict, reason = _verdict(report, call)
    context = item.stash.get(CONTEXT, None)
    wan_note = getattr(context.target, "wan_note", None) if context else None
    if verdict == INCONCLUSIVE and wan_note:
        reason = f"{reason} ({wan_note})"
    frames = context.frames if context and verdict == PASS else []
    wan = context.wan if context and verdict == PASS else []
    target = context.target.name if context else item.config.getoption("target")
    areas = [t for t in _tags(item) if t in AREA_NAMES]
    record_scenario(item.config, report, context, ScenarioVerdict(
        scenario=item.nodeid, name=scenario_title(item), feature=areas[0] if areas else "",
        requirements=sorted(t for t in _tags(item) if t in REQUIREMENTS),
        role=scenario_role(item), verdict=verdict, reason=reason, frames=frames, wan=wan,
        target=target,
        situation=context.situation.id if context and context.situation else "",
        source=(context.trace.source if context and context.trace else "")))


def scenario_title(item: pytest.Item) -> str:
    """The scenario's own words, outline placeholders filled from its example row."""
    doc = getattr(getattr(item, "obj", None), "__doc__", None) or item.name
    title = doc.split(": ", 1)[-1]
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example", {}) if callspec else {}
    for key, value in example.items():
        title = title.replace(f"<{key}>", value)
    return title


def pytest_terminal_summary(
        terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    results = collected(config).in_order()
    if not results:
        return
    out: Path = config.getoption("out")
    out.mkdir(parents=True, exist_ok=True)
    elapsed = time.perf_counter() - config.stash[STARTED]
    target = config.getoption("target")
    profile = config.getoption("dut_profile")
    header = (f"target: {target}" + (f", profile {profile}" if profile else "")
              + f"; DUT: {dut_path(config) or 'emulated HAN (default)'}"
              + f"; {len(results)} scenarios in {elapsed:.1f} s")
    run = run_header(config, collected(config), elapsed)
    (out / "verdicts.json").write_text(json.dumps(
        {"header": header, "run": run, "scenarios": [r.as_dict() for r in results]}, indent=1))
    (out / "summary.md").write_text(summary_markdown(results, header))
    statement = write_statement(out, run, results)
    write = terminalreporter.write_line
    terminalreporter.section("SECMP0007 per-requirement summary")
    write(header)
    for line in summary_lines(results):
        write(line)
    write(f"summary: {out / 'summary.md'}; verdicts: {out / 'verdicts.json'}")
    write(f"statement: {statement[0]}, {statement[1]}")
    allure_dir = getattr(config.option, "allure_report_dir", None)
    if allure_dir:
        write(f"Allure results: {Path(allure_dir).resolve()}")

