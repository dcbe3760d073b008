"""pytest plugin: ``--features DIR`` adds a test house's own ``.feature`` files to the run.

Why: a lab adds a scenario in Gherkin, with the suite's step vocabulary (``docs/steps.md``,
``hanota steps``), without writing Python. ``features/test_extra_features.py`` binds the
scenarios of these directories beside the suite's own.

Why a module-level list: pytest-bdd binds scenarios when the test module is imported, and
pytest hands an imported module no config. ``pytest_configure`` runs before collection
and fills the list; one pytest session per process reads it (``hanota run``, ``pytest``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

FEATURE_DIRS: list[Path] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hanota", "SECMP0007 OTA conformance")
    # dest: pytest-bdd's --feature (for --generate-missing) owns "features"
    group.addoption("--features", action="append", default=[], type=Path, metavar="DIR",
                    dest="extra_features",
                    help="a directory of the test house's own .feature files, run beside "
                    "the suite's with the same step vocabulary (repeatable)")


def pytest_configure(config: pytest.Config) -> None:
    FEATURE_DIRS[:] = [feature_dir(path) for path in config.getoption("extra_features")]


def pytest_unconfigure(config: pytest.Config) -> None:
    FEATURE_DIRS.clear()


def feature_dir(path: Path) -> Path:
    """The directory, absolute; a usage error names what is wrong with it."""
    if not path.is_dir():
        raise pytest.UsageError(f"--features {path}: not a directory")
    if not any(path.glob("*.feature")):
        raise pytest.UsageError(f"--features {path}: holds no .feature file")
    return path.resolve()
