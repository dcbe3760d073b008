"""The step vocabulary: every step a ``.feature`` file can use, as Markdown (docs/steps.md).

Why generated: a test house writes its own scenarios (``hanota run --features DIR``) from
this list, so it must be exactly what pytest-bdd matches. It is read from the step
definitions as registered (their patterns, docstrings and the check each Then step calls)
and from the suite's features (which requirements use a step). Regenerate with
``make steps-doc`` (``hanota steps --out docs/steps.md``); tests/test_step_vocabulary.py
fails while the committed file differs.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from types import ModuleType

from hanota.dut.description import Pics, load_dut
from hanota.steps import definitions
from hanota.verify.requirements import REQUIREMENTS
from pytest_bdd.parser import FeatureParser
from pytest_bdd.parsers import StepParser
from pytest_bdd.steps import step_function_context_registry

KEYWORDS = ("given", "when", "then")
PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
ROLES = ("chf", "device")

EXAMPLE_FEATURE = "\n".join((
    "@activation",
    "Feature: Lab additions - the HCALCS of our bench",
    "  Scenarios a test house adds with the suite's steps, judged like the suite's own.",
    "",
    "  @NOTIFY-2 @FRAG-3 @ACT-2 @device",
    "  Scenario: Our HCALCS is notified, paces its download and runs the new version",
    "    Given a capture of a PPMID and an HCALCS upgraded at once for two suppliers",
    '    And the device "hcalcs"',
    "    Then the device answers the Image Notify with a Query Next Image Request within "
    "the query jitter (PIXIT query_jitter, read as seconds) and 10 s",
    "    And the device asks for blocks no faster than the minimum block period the Comms "
    "Hub gave",
    "    And the device runs the image's version and still answers the Comms Hub",
    "",
))
"""The example of the document; tests/test_step_vocabulary.py runs it on a capture."""


def _pics_options() -> str:
    return ", ".join(f"`{field.name}`" for field in fields(Pics))


def _nodes() -> str:
    names = ", ".join(f"`{name}`" for name in load_dut().nodes)
    return (f"a node of the DUT description (`[nodes.NAME]`); the emulated HAN's: {names}")


def _situations() -> str:
    from hanota.dut.situations import SITUATIONS

    phrases = "; ".join(f"`{s.phrase}` ({s.id})" for s in SITUATIONS)
    return ("a situation (`hanota situations`): " + phrases + ". `--target emulator` runs "
            "its exchange, `--target pcap --capture-set` replays the capture recorded for "
            "it, a single `--pcap` and `live` judge the one capture whatever it names")


def _outcomes() -> str:
    from hanota.verify.checks.version_report import OUTCOMES

    return "one of " + ", ".join(f"`{outcome}`" for outcome in OUTCOMES)


PLACEHOLDERS: dict[str, Callable[[], str]] = {
    "node": _nodes,
    "phrase": _situations,
    "delivery": lambda: ("`in parts` (the image goes as several OTA files, FRAG-5's "
                         "interpretation); anything else (e.g. `in one OTA file`): one file"),
    "option": lambda: f"a PICS option of the DUT description: {_pics_options()}",
    "outcome": _outcomes,
    "low": lambda: "the smallest query jitter allowed (the ZCL OTA cluster: 1)",
    "high": lambda: "the largest query jitter allowed (the ZCL OTA cluster: 100)",
    "answer": lambda: "seconds a node has to answer (our reading: 10)",
    "seconds": lambda: "seconds a meter read may take during a download (our reading: 5)",
    "grace": lambda: "seconds after the read-back time-out by which the read must come "
                     "(our reading: 60)",
    "success": lambda: "the code meaning Success (CS08 activateImage, SR 11.2 response: 0)",
    "failure": lambda: "the code meaning Failure (CS08 activateImage, SR 11.2 response: 1)",
    "alert_code": lambda: "a CCS08 alert code in hex: `0x8F8A` success, `0x8F89` failure",
    "response_codes": lambda: ("CCS08 response codes, `N` or `N or M`: 0 Success, 1 Image "
                               "Discarded, 2 Hardware Version Mismatch, 3 File Transfer "
                               "Failure (PIXIT ccs08_response_codes overrides per outcome)"),
}
"""What each placeholder of a step pattern takes: one entry per placeholder in use."""


@dataclass(frozen=True)
class StepDefinition:
    keyword: str
    parser: StepParser
    function: Callable[..., object]

    @property
    def pattern(self) -> str:
        return self.parser.name

    @property
    def placeholders(self) -> list[str]:
        return PLACEHOLDER.findall(self.pattern)


def step_definitions(module: ModuleType = definitions) -> list[StepDefinition]:
    """The module's steps as pytest-bdd registered them: by keyword, in the module's order."""
    contexts = [c for c in step_function_context_registry.values()
                if c.step_func.__module__ == module.__name__ and c.type in KEYWORDS]
    contexts.sort(key=lambda c: (KEYWORDS.index(c.type), c.step_func.__code__.co_firstlineno))
    return [StepDefinition(c.type, c.parser, c.step_func) for c in contexts]


def called_checks(function: Callable[..., object],
                  module: ModuleType = definitions) -> list[Callable[..., object]]:
    """The ``hanota.verify.checks`` functions a step calls (``ota.judge(area.check_x, ...)``)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("check_")
                and isinstance(node.value, ast.Name)):
            found.append(getattr(getattr(module, node.value.id), node.attr))
    return found


@dataclass(frozen=True)
class FeatureStep:
    """One step line of a feature file, with its scenario's requirement and role tags."""

    keyword: str
    text: str
    requirements: tuple[str, ...]
    role: str


def feature_steps(features: Path) -> list[FeatureStep]:
    found = []
    for path in sorted(features.glob("*.feature")):
        feature = FeatureParser(str(features), path.name).parse()
        for scenario in feature.scenarios.values():
            tags = set(scenario.tags) | set(feature.tags)
            for examples in scenario.examples:
                tags |= set(examples.tags or ())
            requirements = tuple(r for r in REQUIREMENTS if r in tags)
            role = next((r for r in ROLES if r in tags), "")
            found += [FeatureStep(step.type, step.name, requirements, role)
                      for step in scenario.steps]
    return found


def _first_paragraph(function: Callable[..., object]) -> str:
    doc = inspect.getdoc(function) or ""
    return " ".join(doc.split("\n\n")[0].split()).replace("``", "`")


def _used_by(step: StepDefinition, used: list[FeatureStep]) -> str:
    matching = [line for line in used
                if line.keyword == step.keyword and step.parser.is_matching(line.text)]
    uses = sorted({f"{req} ({line.role})" if line.role else req
                   for line in matching for req in line.requirements},
                  key=lambda s: (list(REQUIREMENTS).index(s.split()[0]), s))
    return ", ".join(uses) if uses else "no scenario of the suite"


def vocabulary_markdown(features: Path | None = None) -> str:
    """docs/steps.md: the steps by keyword, the placeholders, how to write a scenario."""
    if features is None:
        from hanota.run_cmd import features_dir

        features = features_dir()
    used = feature_steps(features)
    lines = [
        "# Step vocabulary",
        "",
        "<!-- Generated from steps/definitions.py by `make steps-doc` "
        "(`hanota steps --out docs/steps.md`): do not edit. -->",
        "",
        "The steps a `.feature` file can use: the suite's own scenarios use them, and so can "
        "a test house's (`hanota run --features DIR`), without writing Python. A `{name}` "
        "in a step is a placeholder (see [Placeholders](#placeholders)); in a Scenario "
        "Outline it may be an Examples column, `<name>`. `And` / `But` repeat the keyword "
        "before them. \"Used by\" lists the requirements (and roles) of the suite's "
        "scenarios that use the step.",
        "",
        "## Writing a scenario",
        "",
        "```gherkin",
        EXAMPLE_FEATURE.rstrip(),
        "```",
        "",
        "- Tag every scenario with the requirement ids it judges (`@SCOPE-1` ... `@CONC-2`, "
        "see `verify/requirements.py`): the summary and `verdicts.json` are per "
        "requirement, and a scenario without one runs but is left out of them.",
        "- Tag it with one role, `@chf` (judges the Comms Hub) or `@device` (judges the "
        "PPMID/HCALCS): a scenario of the side the DUT description's `role` is not is NOT "
        "APPLICABLE. An area tag (`@scope`, `@block_transfer` ...) fills the summary's "
        "feature column.",
        "- `Given a capture of` picks the situation's capture; `Given the device` names the "
        "node the Then steps judge; each Then step is one check and gives the scenario's "
        "verdict, the first that is not a PASS ending it. A scenario whose checks find no "
        "evidence is INCONCLUSIVE, never passed.",
        "- Scenario names must be unique within a run.",
        "",
        "Run: `hanota run --features DIR [--target ...]`; `hanota run --features DIR --list` "
        "lists what will run.",
        "",
    ]
    for keyword in KEYWORDS:
        lines += [f"## {keyword.capitalize()}", ""]
        for step in step_definitions():
            if step.keyword != keyword:
                continue
            lines += [f"### {keyword.capitalize()} `{step.pattern}`", ""]
            own = _first_paragraph(step.function)
            if own:
                lines += [own, ""]
            for check in called_checks(step.function):
                lines += [f"Judged by `{check.__module__}.{check.__name__}`: "
                          f"{_first_paragraph(check)}", ""]
            lines += [f"Used by: {_used_by(step, used)}.", ""]
    lines += ["## Placeholders", "", "| placeholder | what it takes |", "|---|---|"]
    used_names = {name for step in step_definitions() for name in step.placeholders}
    for name in sorted(used_names):
        lines.append(f"| `{{{name}}}` | {PLACEHOLDERS[name]()} |")
    return "\n".join(lines) + "\n"
