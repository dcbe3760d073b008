"""pytest plugin of the conformance suite: options, the target, role filtering, verdicts.

Load with ``-p steps.plugin``. Options: ``--target`` (a name of the target registry,
default emulator), ``--dut FILE`` (default: the emulated HAN's description),
``--dut-profile NAME`` (emulator fault profile), ``--pcap FILE`` (alias ``--capture-file``:
pytest owns ``--capture``), ``--alerts PATH`` and ``--chf-cert PEM`` (replay), ``--seed N``,
``--out DIR``; ``--images NAMES`` (replay: the images delivered), ``--source URL``
(live) and the emulator's imperfection knobs (``--sniffer-miss P``, ``--han-variant
NAME`` ..., see ``emulators.knobs``) go to ``TargetOptions.extra``.

Verdicts are collected here, in one place: each scenario's verdict, requirement tags,
role and evidence go to ``<out>/verdicts.json`` and the per-requirement summary to the
terminal and ``<out>/summary.md``.
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

from emulators.knobs import add_cli_options, from_cli
from hanota.dut import Dut, load_dut
from steps.context import ScenarioContext
from steps.definitions import *  # noqa: F403 - the step fixtures must be in this module
from targets.base import Target, TargetOptions, make_target
from verify.report import ScenarioVerdict, summary_lines, summary_markdown
from verify.requirements import AREAS, REQUIREMENTS, area_of
from verify.verdicts import ERROR, FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS

ROLE_TAGS = ("device", "chf")
AREA_NAMES = frozenset(AREAS.values())
OTHER_TAGS = {"active": "needs a stimulus injected (rogue CAD, lossy air, SR 11.2, request)"}
RESULTS = pytest.StashKey[list[ScenarioVerdict]]()
CONTEXT = pytest.StashKey[ScenarioContext]()
STARTED = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hanota", "SECMP0007 OTA conformance")
    group.addoption("--target", default="emulator",
                    help="where traces come from: emulator (default), pcap, or a registered "
                    "target")
    group.addoption("--dut", default=None, type=Path,
                    help="DUT description (PICS/PIXIT) TOML; default: the emulated HAN")
    group.addoption("--dut-profile", default=None,
                    help="emulator: fault profile applied to the node of its side")
    group.addoption("--pcap", "--capture-file", dest="capture_file", default=None, type=Path,
                    help="pcap: the capture to judge (pytest's own --capture is taken)")
    group.addoption("--alerts", default=None, type=Path,
                    help="pcap: GBCS messages as hex (file or directory of *.hex)")
    group.addoption("--images", default=None,
                    help="pcap: comma-separated DUT image names the supplier delivered "
                    "(default: those the trace shows)")
    group.addoption("--chf-cert", default=None, type=Path,
                    help="PEM certificate the CHF's GBCS alerts verify with")
    group.addoption("--source", default=None,
                    help="live: the sniffer source (zep://HOST:PORT, pipe:PATH or -)")
    group.addoption("--evidence-timeout", default=None, type=float,
                    help="live: seconds a scenario waits for evidence (default: PIXIT "
                    "evidence_timeout_s)")
    group.addoption("--evidence-window", default="scenario", choices=("scenario", "run"),
                    help="live: the time-out restarts per scenario, or runs once per run")
    group.addoption("--wait-for-upgrade", action="store_true",
                    help="live: judge nothing before the first Image Notify / Query Next Image")
    group.addoption("--seed", default=0, type=int, help="emulator: random seed")
    # emulator: the imperfect sniffer and HAN (emulators.knobs), all off by default
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
    config.stash[RESULTS] = []
    config.stash[STARTED] = time.perf_counter()
    _knobs(config.getoption)  # a bad knob stops the run before any scenario


@pytest.fixture(scope="session")
def ota_dut(pytestconfig: pytest.Config) -> Dut:
    return load_dut(pytestconfig.getoption("dut"))


@pytest.fixture(scope="session")
def ota_target(pytestconfig: pytest.Config, ota_dut: Dut) -> Target:
    option = pytestconfig.getoption
    options = TargetOptions(dut=ota_dut, dut_path=option("dut"), profile=option("dut_profile"),
                            capture=option("capture_file"), alerts=option("alerts"),
                            certificate=option("chf_cert"), seed=option("seed"),
                            out_dir=option("out"),
                            extra={**_extra(option("images"), option("source"), ota_dut),
                                   **_knobs(option),
                                   "evidence_timeout": option("evidence_timeout"),
                                   "evidence_window": option("evidence_window"),
                                   "wait_for_upgrade": option("wait_for_upgrade")})
    return make_target(option("target"), options)


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
        return NOT_APPLICABLE, reason
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
    frames = context.frames if context and verdict == PASS else []
    wan = context.wan if context and verdict == PASS else []
    target = context.target.name if context else item.config.getoption("target")
    areas = [t for t in _tags(item) if t in AREA_NAMES]
    item.config.stash[RESULTS].append(ScenarioVerdict(
        scenario=item.nodeid, name=scenario_title(item), feature=areas[0] if areas else "",
        requirements=sorted(t for t in _tags(item) if t in REQUIREMENTS),
        role=scenario_role(item), verdict=verdict, reason=reason, frames=frames, wan=wan,
        target=target, exchange=(context.exchange or "") if context else "",
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
    results = config.stash.get(RESULTS, [])
    if not results:
        return
    out: Path = config.getoption("out")
    out.mkdir(parents=True, exist_ok=True)
    elapsed = time.perf_counter() - config.stash[STARTED]
    target = config.getoption("target")
    profile = config.getoption("dut_profile")
    header = (f"target: {target}" + (f", profile {profile}" if profile else "")
              + f"; DUT: {config.getoption('dut') or 'emulated HAN (default)'}"
              + f"; {len(results)} scenarios in {elapsed:.1f} s")
    (out / "verdicts.json").write_text(json.dumps(
        {"header": header, "scenarios": [r.as_dict() for r in results]}, indent=1))
    (out / "summary.md").write_text(summary_markdown(results, header))
    write = terminalreporter.write_line
    terminalreporter.section("SECMP0007 per-requirement summary")
    write(header)
    for line in summary_lines(results):
        write(line)
    write(f"summary: {out / 'summary.md'}; verdicts: {out / 'verdicts.json'}")
    allure_dir = getattr(config.option, "allure_report_dir", None)
    if allure_dir:
        write(f"Allure results: {Path(allure_dir).resolve()}")

