"""Collects every .feature file of this folder as pytest tests (the plugin: conftest.py)."""

from pytest_bdd import scenarios

scenarios(".")
