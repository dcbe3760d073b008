"""``hanota run``: the conformance suite, run by pytest from any directory.

It is ``pytest <the suite's features> [options]``: the same options (``--target``,
``--dut``, ``--pcap``, ``--out``, ``--features``, ``--alluredir``, ``-k``, ``-m`` ...) and
the same outputs (``out/`` with the captures, ``verdicts.json`` and ``summary.md``, the
per-requirement summary, Allure results when asked), relative to the working directory.
The features are package data (``hanota/features`` in a wheel) or, in an editable install,
the checkout's ``features/``.

Why fixed pytest options: the run must neither depend on nor write into the place the
suite is installed in. ``-c`` the null device: no configuration file is searched for
(pytest would search upward from site-packages and could take the ``pyproject.toml`` of a
project holding the virtual environment); ``--rootdir`` the folder above the features, so
scenario ids read ``features/test_conformance.py::...`` as in a checkout and two runs'
``verdicts.json`` compare; ``--confcutdir`` the same, so no ``conftest.py`` above the suite
is read; ``-p no:cacheprovider`` and no bytecode: nothing is written next to the suite.
Options the user gives come after these, so a later ``--rootdir`` or ``-c`` wins.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

PASSES_UNKNOWN_OPTIONS = True
"""``hanota.cli`` hands every option it does not know here, in ``args.passed_on``."""

EPILOG = ("Every other option goes to pytest: the suite's (--target, --dut, --pcap, --alerts, "
          "--images, --chf-cert, --source, --out, --features DIR ...; see --pytest-help) and "
          "pytest's own (-k, -m, -x, -q, --alluredir DIR ...).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", action="store_true",
                        help="list the scenarios a run would judge (with the options given), "
                        "with their requirement ids and roles, and run nothing")
    parser.add_argument("--pytest-help", action="store_true",
                        help="pytest's help, with the suite's options")


def features_dir() -> Path:
    """The suite's features: package data of an installed wheel, else the checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "features", here.parent / "features"):
        if (candidate / "test_conformance.py").is_file():
            return candidate
    raise FileNotFoundError(f"the suite's features are neither in {here} nor beside it")


def pytest_arguments(passed_on: list[str], features: Path | None = None) -> list[str]:
    """pytest's command line for a run of the suite with the user's options."""
    features = features or features_dir()
    root = str(features.parent)
    return [str(features), "-c", os.devnull, "--rootdir", root, "--confcutdir", root,
            "-p", "no:cacheprovider", *passed_on]


def run(args: argparse.Namespace) -> int:
    if args.pytest_help:
        return run_pytest([*args.passed_on, "--help"])
    if args.list:
        return list_scenarios(args.passed_on)
    return run_pytest(args.passed_on)


def run_pytest(passed_on: list[str], features: Path | None = None,
               plugins: tuple[object, ...] = ()) -> int:
    """pytest on the suite in this process; no bytecode is written (pytest's rewritten
    test modules included), see the docstring."""
    sys.dont_write_bytecode = True
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # and pytest-xdist's workers (``-n 2``)
    return int(pytest.main(pytest_arguments(passed_on, features), plugins=list(plugins)))


class ScenarioCollector:
    """pytest plugin for ``--list``: the items a run would judge, and collection errors
    (pytest's terminal output is off, so they are reported here)."""

    def __init__(self) -> None:
        self.items: list[pytest.Item] = []
        self.errors: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid or 'collection'}: {report.longreprtext}")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = list(session.items)


def list_scenarios(passed_on: list[str]) -> int:
    collector = ScenarioCollector()
    code = run_pytest([*passed_on, "--collect-only", "-p", "no:terminal"], plugins=(collector,))
    for error in collector.errors:
        print(error, file=sys.stderr)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("no scenario selected", file=sys.stderr)
    if code != pytest.ExitCode.OK:
        return code
    for line in scenario_lines(collector.items):
        print(line)
    return 0


def scenario_lines(items: list[pytest.Item]) -> list[str]:
    """One line per scenario (an outline's example rows apart): requirement ids, role,
    title; then the totals, and which scenarios the summary will leave out."""
    from hanota.steps.plugin import scenario_role, scenario_title
    from hanota.verify.requirements import REQUIREMENTS

    rows = []
    for item in items:
        tags = {mark.name for mark in item.iter_markers()}
        requirements = [tag for tag in REQUIREMENTS if tag in tags]
        rows.append((",".join(requirements) or "-", scenario_role(item) or "-",
                     scenario_title(item)))
    width = max([len("requirement"), *(len(row[0]) for row in rows)])
    lines = [f"{'requirement':{width}}  role    scenario"]
    lines += [f"{req:{width}}  {role:6}  {title}" for req, role, title in rows]
    covered = {req for req, _, _ in rows for req in req.split(",") if req != "-"}
    lines.append(f"{len(rows)} scenarios; {len(covered)} of {len(REQUIREMENTS)} requirements")
    untagged = sum(1 for req, _, _ in rows if req == "-")
    if untagged:
        lines.append(f"{untagged} scenario(s) carry no requirement tag (@SCOPE-1 ...): they "
                     "run, but verdicts.json and the summary leave them out")
    return lines
