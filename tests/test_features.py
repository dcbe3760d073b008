"""The Gherkin features: every requirement covered, every scenario tagged and sourced.

The requirement ids are copied here as data (source: shared/domain/requirements.md) so the
test runs without the shared folder; when the domain file is present it is compared too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hanota.verify.requirements import REQUIREMENTS
from pytest_bdd.parser import FeatureParser

FEATURES = Path(__file__).resolve().parents[1] / "features"
DOMAIN_REQUIREMENTS = Path("/work/shared/domain/requirements.md")
REQUIREMENT_IDS = [
    "SCOPE-1", "SCOPE-2", "SCOPE-3",
    "NOTIFY-1", "NOTIFY-2", "NOTIFY-3", "NOTIFY-4", "NOTIFY-5",
    "FRAG-1", "FRAG-2", "FRAG-3", "FRAG-4", "FRAG-5", "FRAG-6",
    "ACT-1", "ACT-2", "ACT-3", "ACT-4",
    "VER-1", "VER-2", "VER-3", "VER-4", "VER-5", "VER-6",
    "BAN-1", "BAN-2", "BAN-3", "BAN-4",
    "CONC-1", "CONC-2",
]
AREA_FILES = ["scope", "notification", "block_transfer", "activation", "version_report",
              "local_upgrade_ban", "concurrency"]
SOURCE = re.compile(r"\b(RC|WG) Q\d+\b")


def _scenarios() -> list[tuple[str, object, set[str]]]:
    found = []
    for path in sorted(FEATURES.glob("*.feature")):
        feature = FeatureParser(str(FEATURES), path.name).parse()
        for scenario in feature.scenarios.values():
            tags = set(scenario.tags) | set(feature.tags)
            for examples in scenario.examples:
                tags |= set(examples.tags or ())
            found.append((path.stem, scenario, tags))
    return found


SCENARIOS = _scenarios()


def test_one_feature_file_per_area():
    assert sorted(p.stem for p in FEATURES.glob("*.feature")) == sorted(AREA_FILES)


def test_every_requirement_id_has_a_scenario():
    tagged = {tag for _, _, tags in SCENARIOS for tag in tags}
    missing = [req for req in REQUIREMENT_IDS if req not in tagged]
    assert not missing, f"requirements without a scenario: {missing}"


def test_the_suite_registry_is_the_requirement_list():
    assert list(REQUIREMENTS) == REQUIREMENT_IDS


@pytest.mark.skipif(not DOMAIN_REQUIREMENTS.exists(), reason="shared domain folder absent")
def test_the_copied_list_matches_the_domain_file():
    ids = re.findall(r"^\| ([A-Z]+-\d+) \|", DOMAIN_REQUIREMENTS.read_text(), re.MULTILINE)
    assert ids == REQUIREMENT_IDS


@pytest.mark.parametrize("area, scenario, tags", SCENARIOS,
                         ids=[f"{a}:{s.name}" for a, s, _ in SCENARIOS])
def test_scenario_tags_and_source(area, scenario, tags):
    requirements = [tag for tag in tags if tag in REQUIREMENT_IDS]
    assert requirements, "a scenario carries its requirement tag(s)"
    roles = [tag for tag in tags if tag in ("device", "chf")]
    assert len(roles) == 1, f"exactly one role tag, got {roles}"
    assert area in tags, "the feature's area tag"
    assert SOURCE.search(scenario.description) or "GBCS" in scenario.description or \
        "ZCL" in scenario.description, "the description names its source question"


def test_interpretations_and_options_say_they_sit_behind_the_pics():
    for _, scenario, tags in SCENARIOS:
        if "FRAG-5" in tags:
            assert "Interpretation, behind PICS large_image_process" in scenario.description
        if "VER-5" in tags and "device" in tags:
            assert "PICS version_event" in scenario.description


def test_active_scenarios_are_the_ones_with_an_injected_stimulus():
    for _, scenario, tags in SCENARIOS:
        exchanges = set(re.findall(r'"([a-z0-9-]+)" exchange', " ".join(
            step.name for step in scenario.steps)))
        for examples in scenario.examples:
            exchanges |= {row.get("exchange") for row in examples.as_contexts()}
        special = {"rogue-cad", "upgrade-lossy", "read-version", "ihd-refused",
                   "upgrade-abandoned", "downgrade", "upgrade-invalid-image"}
        if exchanges & special and not (exchanges - special):
            assert "active" in tags, scenario.name


def test_scenario_names_are_unique():
    """pytest-bdd names each test after its scenario: a repeated name would hide one."""
    names = [scenario.name for _, scenario, _ in SCENARIOS]
    assert len(names) == len(set(names))
