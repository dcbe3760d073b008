"""docs/steps.md, the step vocabulary a test house writes its own scenarios with: generated
from the step definitions, current, complete, and its example runs (test_run_cmd.py)."""

from __future__ import annotations

from pathlib import Path

from hanota.steps.vocabulary import (
    EXAMPLE_FEATURE,
    PLACEHOLDERS,
    called_checks,
    feature_steps,
    step_definitions,
    vocabulary_markdown,
)

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "steps.md"


def test_the_committed_document_is_what_the_step_definitions_give() -> None:
    assert DOCUMENT.read_text() == vocabulary_markdown(ROOT / "features"), \
        "docs/steps.md is stale: run `make steps-doc` and commit it"


def test_every_step_definition_is_documented_with_its_check() -> None:
    text = DOCUMENT.read_text()
    steps = step_definitions()
    assert len(steps) >= 40
    for step in steps:
        assert f"### {step.keyword.capitalize()} `{step.pattern}`" in text
        if step.keyword == "then":
            (check,) = called_checks(step.function)
            assert f"Judged by `{check.__module__}.{check.__name__}`" in text


def test_every_step_line_of_the_features_and_the_example_is_in_the_vocabulary(
        tmp_path: Path) -> None:
    """A step line no definition matches would fail at run time as an ERROR."""
    (tmp_path / "example.feature").write_text(EXAMPLE_FEATURE)
    steps = step_definitions()
    for features in (ROOT / "features", tmp_path):
        lines = feature_steps(features)
        assert lines
        for line in lines:
            assert any(step.keyword == line.keyword and step.parser.is_matching(line.text)
                       for step in steps), f"{features}: {line.keyword} {line.text}"


def test_every_placeholder_is_explained_and_every_explanation_used() -> None:
    used = {name for step in step_definitions() for name in step.placeholders}
    assert used == set(PLACEHOLDERS)
    assert all(explain() for explain in PLACEHOLDERS.values())
