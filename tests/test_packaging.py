"""The suite as a test house installs it: a wheel with the features as package data, and
``hanota run`` in a fresh virtual environment outside the checkout giving the verdicts
the checkout gives.

Why a real wheel and a real environment: a file left out of the package, a package left
out of pyproject.toml's list, a run that needs the checkout or writes into site-packages
all pass every test run from the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "pcaps"
CERTIFICATE = ROOT / "emulators" / "keys" / "chf-test-ds.pem"
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "out", "build", "*.egg-info",
                                    "__pycache__", ".ruff_cache", ".hypothesis", "node_modules")
PACKAGE_IMPORTS = ("hanota", "steps", "layers", "verify", "targets", "emulators")


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_package_list_holds_every_folder_of_the_source_packages() -> None:
    """pyproject.toml lists packages by name (to map features/ to hanota.features): a new
    sub-folder of a package must be listed too, or the wheel goes without it."""
    packages = PYPROJECT["tool"]["setuptools"]["packages"]
    folders = {name: name.replace(".", "/") for name in packages if "." not in name}
    folders.update(PYPROJECT["tool"]["setuptools"]["package-dir"])
    found = set()
    for name, folder in folders.items():
        found.add(name)
        for sub in (ROOT / folder).rglob("*"):
            if sub.is_dir() and sub.name != "__pycache__":
                found.add(".".join((name, *sub.relative_to(ROOT / folder).parts)))
    assert sorted(packages) == sorted(found)


def _run(command: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """Python's defaults (bytecode written: the run must not write beside the suite) and
    nothing of the checkout on the path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"{command}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment with the wheel built from a copy of the checkout (the
    build writes build/ and *.egg-info next to its sources) and its dependencies."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base / "dist"),
          str(source)], base)
    (wheel,) = (base / "dist").glob("hanota-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], base)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], base)
    yield venv
    shutil.rmtree(venv)  # a few hundred MB of dependencies


def _site_packages(venv: Path) -> Path:
    (found,) = venv.glob("lib/python*/site-packages")
    return found


def _verdicts(out: Path) -> dict[str, dict]:
    """verdicts.json by scenario id, without ``source`` (it names the capture's path) and
    ``figures`` (a run recording Allure results has download plots besides the charts)."""
    scenarios = json.loads((out / "verdicts.json").read_text())["scenarios"]
    return {s["scenario"]: {k: v for k, v in s.items() if k not in ("source", "figures")}
            for s in scenarios}


@pytest.mark.slow
def test_an_installed_wheel_runs_the_suite_outside_the_checkout_with_the_same_verdicts(
        installed: Path, tmp_path: Path) -> None:
    site = _site_packages(installed)
    python, hanota = installed / "bin" / "python", installed / "bin" / "hanota"
    user = tmp_path / "user"
    user.mkdir()
    where = _run([str(python), "-c", "import importlib, sys; print('\\n'.join("
                  "importlib.import_module(name).__file__ for name in sys.argv[1:]))",
                  *PACKAGE_IMPORTS], user).stdout.split()
    assert all(Path(path).is_relative_to(site) for path in where), where
    assert sorted(p.name for p in (site / "hanota" / "features").glob("*.feature")) == \
        sorted(p.name for p in (ROOT / "features").glob("*.feature"))
    assert _run([str(hanota), "--version"], user).stdout.strip() == \
        f"hanota {PYPROJECT['project']['version']}"
    listed = _run([str(hanota), "run", "--list"], user).stdout.splitlines()
    assert listed[-1] == "56 scenarios; 30 of 30 requirements"

    for name in ("dut.toml", "upgrade.pcapng", "upgrade.gbcs.hex"):
        shutil.copy(PCAPS / name, user / name)
    shutil.copy(CERTIFICATE, user / "chf.pem")
    before = sorted(site.rglob("*"))
    done = _run([str(hanota), "run", "-q", "--target", "pcap", "--dut", "dut.toml",
                 "--pcap", "upgrade.pcapng", "--alerts", "upgrade.gbcs.hex",
                 "--images", "ppmid", "--chf-cert", "chf.pem", "--out", "out",
                 "--alluredir", "allure"], user)
    assert sorted(site.rglob("*")) == before, "the run wrote into site-packages"
    assert "SECMP0007 per-requirement summary" in done.stdout
    assert sorted(p.name for p in user.iterdir()) == sorted(
        ["allure", "chf.pem", "dut.toml", "out", "upgrade.gbcs.hex", "upgrade.pcapng"])
    assert len(list((user / "allure").glob("*-result.json"))) == 56

    _run([sys.executable, "-m", "pytest", "-q", "features/", "-p", "steps.plugin",
          "--target", "pcap", "--dut", str(PCAPS / "dut.toml"),
          "--pcap", str(PCAPS / "upgrade.pcapng"), "--alerts", str(PCAPS / "upgrade.gbcs.hex"),
          "--images", "ppmid", "--chf-cert", str(CERTIFICATE), "--out", str(tmp_path / "repo")],
         ROOT)
    installed_verdicts, repo_verdicts = _verdicts(user / "out"), _verdicts(tmp_path / "repo")
    assert len(repo_verdicts) == 56
    assert installed_verdicts == repo_verdicts
    assert {s["verdict"] for s in repo_verdicts.values()} == {"PASS", "INCONCLUSIVE",
                                                              "NOT APPLICABLE"}
