"""Collects the test house's own .feature files named with ``--features DIR`` (none by
default; see steps/extra_features.py)."""

from pytest_bdd import scenarios

from steps.extra_features import FEATURE_DIRS

if FEATURE_DIRS:
    scenarios(*(str(directory) for directory in FEATURE_DIRS))
