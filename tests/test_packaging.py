"""The suite as a test house installs it: a wheel with the features as package data,
every folder under the ``hanota`` name, and ``hanota run`` in a fresh virtual environment
outside the checkout giving the verdicts the checkout gives.

Why a real wheel and a real environment: a file left out of the package, a package left
out of pyproject.toml's list, a run that needs the checkout or writes into site-packages
all pass every test run from the checkout.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "pcaps"
CERTIFICATE = ROOT / "emulators" / "keys" / "chf-test-ds.pem"
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "out", "build", "*.egg-info",
                                    "__pycache__", ".ruff_cache", ".hypothesis", "node_modules")
PACKAGE_IMPORTS = ("hanota", "hanota.steps", "hanota.layers", "hanota.verify", "hanota.targets",
                   "hanota.emulators", "hanota.dut", "hanota.selftest")
# The folders' own names: installed as hanota.<folder>, never importable as themselves.
GENERIC_NAMES = ("layers", "verify", "steps", "targets", "emulators", "dut", "selftest")


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
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout (the build writes build/ and *.egg-info
    next to its sources)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base / "dist"),
          str(source)], base)
    (built,) = (base / "dist").glob("hanota-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Iterator[Path]:
    """A fresh virtual environment with the wheel and its dependencies."""
    base = tmp_path_factory.mktemp("installed")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], base)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], base)
    yield venv
    shutil.rmtree(venv)  # a few hundred MB of dependencies


@pytest.mark.slow
def test_the_wheel_holds_the_hanota_name_only(wheel: Path) -> None:
    """Every folder goes in as hanota.<folder>: nothing else lands at the top of
    site-packages, where a generic name (``layers``, ``verify``) would collide."""
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        assert "hanota/dut/default_dut.toml" in archive.namelist()
        assert "hanota/emulators/keys/chf-test-ds.pem" in archive.namelist()
    assert tops == {"hanota", f"hanota-{PYPROJECT['project']['version']}.dist-info"}


IMPORT_ALL = """
import importlib, json, pkgutil, sys
packages, bench = json.loads(sys.argv[1]), sys.argv[2]
import hanota.cli, hanota.steps.plugin
from hanota.cli import SUBCOMMANDS
from hanota.targets.base import TARGET_MODULES
named = [module for module, _ in SUBCOMMANDS.values()] + TARGET_MODULES
named += list(hanota.steps.plugin.pytest_plugins)
for package in packages:
    path = importlib.import_module(package).__path__
    named += [info.name for info in pkgutil.iter_modules(path, package + ".")]
named += [info.name for info in pkgutil.iter_modules([bench], "bench.")]
for name in named:
    if not name.startswith("hanota.features.") and not name.endswith(".__main__"):
        importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def test_every_module_is_imported_under_the_hanota_name_only() -> None:
    """From the checkout's root a generic name still resolves (the folder is right there):
    a stray ``from layers.model import`` or ``"targets.emulator"`` would load the module a
    second time, with classes that are not the others' (``isinstance`` fails, registries
    split). After the CLI, the plugin, every module of every package, the modules named in
    strings (subcommands, targets, plugins) and bench/, no generic name is loaded."""
    packages = [name for name in PYPROJECT["tool"]["setuptools"]["packages"]
                if name != "hanota.features"]
    done = _run([sys.executable, "-c", IMPORT_ALL, json.dumps(packages), str(ROOT / "bench")],
                ROOT)
    modules = json.loads(done.stdout)
    assert "hanota.selftest.refcaptures" in modules and "bench.live" in modules
    doubled = [name for name in modules if name.split(".")[0] in GENERIC_NAMES]
    assert doubled == []


def test_no_source_file_imports_a_folder_by_its_own_name() -> None:
    """The same for what the import above does not reach: the tests, the features' modules."""
    skipped = {".git", ".venv", "out", "build", "node_modules"}
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        if skipped.intersection(path.relative_to(ROOT).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level \
                else []
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in names
                          if name.split(".")[0] in GENERIC_NAMES]
    assert offenders == []


def test_the_features_load_the_plugin_under_the_hanota_name() -> None:
    """The plugins pytest loads by name for ``pytest features/``."""
    conftest = ast.parse((ROOT / "features" / "conftest.py").read_text())
    (plugins,) = [node.value for node in conftest.body if isinstance(node, ast.Assign)
                  and [target.id for target in node.targets] == ["pytest_plugins"]]
    assert ast.literal_eval(plugins) == ["hanota.steps.plugin", "hanota.steps.extra_features"]


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
    found = _run([str(python), "-c", "import importlib.util, sys; print([name for name in "
                  "sys.argv[1:] if importlib.util.find_spec(name)])", *GENERIC_NAMES],
                 user).stdout.strip()
    assert found == "[]", f"generic top-level names importable: {found}"
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

    _run([sys.executable, "-m", "pytest", "-q", "features/", "-p", "hanota.steps.plugin",
          "--target", "pcap", "--dut", str(PCAPS / "dut.toml"),
          "--pcap", str(PCAPS / "upgrade.pcapng"), "--alerts", str(PCAPS / "upgrade.gbcs.hex"),
          "--images", "ppmid", "--chf-cert", str(CERTIFICATE), "--out", str(tmp_path / "repo")],
         ROOT)
    installed_verdicts, repo_verdicts = _verdicts(user / "out"), _verdicts(tmp_path / "repo")
    assert len(repo_verdicts) == 56
    assert installed_verdicts == repo_verdicts
    assert {s["verdict"] for s in repo_verdicts.values()} == {"PASS", "INCONCLUSIVE",
                                                              "NOT APPLICABLE"}
