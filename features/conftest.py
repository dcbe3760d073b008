"""Registers the suite's pytest plugins for everything collected here, so ``pytest
features/`` runs the suite as ``pytest features/ -p hanota.steps.plugin`` does.

Why ``pytest_plugins`` and not ``from hanota.steps.plugin import *``: pytest registers a plugin
named in ``pytest_plugins`` once, under its module name, and skips it when ``-p
hanota.steps.plugin`` already registered it; hooks copied into this module would run twice.
pytest reads this file before parsing the options when it is given ``features/`` (or a
file or node id in it); ``pytest .`` at the checkout's root finds it too late and refuses
it (pytest's "non-top-level conftest"): name ``features/``.
"""

pytest_plugins = ["hanota.steps.plugin", "hanota.steps.extra_features"]
