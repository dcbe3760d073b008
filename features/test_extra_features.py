"""Collects the test house's own .feature files named with ``--features DIR`` (none by
default; see steps/extra_features.py)."""

from hanota.steps.extra_features import FEATURE_DIRS
from pytest_bdd import scenarios

if FEATURE_DIRS:
    scenarios(*(str(directory) for directory in FEATURE_DIRS))
