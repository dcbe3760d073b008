"""Collects every .feature file of this folder as pytest tests (run with -p steps.plugin)."""

from pytest_bdd import scenarios

scenarios(".")
