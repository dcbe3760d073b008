"""``hanota run`` and plain ``pytest features/``: the suite run as pytest-bdd users and pip
users expect, with the same verdicts as ``pytest features/ -p hanota.steps.plugin``.

Every run replays a small reference capture (``--target pcap``, about a second) in a
subprocess from a directory of its own; the emulator form (``pytest features/`` against
``make conformance``) is in test_suite.py, the installed wheel in test_packaging.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hanota.steps.vocabulary import EXAMPLE_FEATURE
from hanota.verify.requirements import REQUIREMENTS

from hanota.run_cmd import features_dir

ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "pcaps"
CERTIFICATE = ROOT / "emulators" / "keys" / "chf-test-ds.pem"
SUMMARY_TITLE = "SECMP0007 per-requirement summary"


def replay_options(capture: str = "upgrade", images: str = "ppmid") -> list[str]:
    return ["--target", "pcap", "--dut", str(PCAPS / "dut.toml"),
            "--pcap", str(PCAPS / f"{capture}.pcapng"),
            "--alerts", str(PCAPS / f"{capture}.gbcs.hex"), "--images", images,
            "--chf-cert", str(CERTIFICATE)]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The command in ``cwd``, writing bytecode as Python does by default (the caller's
    PYTHONDONTWRITEBYTECODE would hide a run that writes next to the suite)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def hanota_run(*options: str, cwd: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "hanota.cli", "run", *options], cwd)


def verdicts(out: Path) -> dict[str, dict]:
    """verdicts.json by scenario id, without ``source`` (it names the capture's path)."""
    scenarios = json.loads((out / "verdicts.json").read_text())["scenarios"]
    return {s["scenario"]: {k: v for k, v in s.items() if k != "source"} for s in scenarios}


def test_plain_pytest_features_and_dash_p_give_one_plugin_and_the_same_verdicts(
        tmp_path: Path) -> None:
    """conftest.py names hanota.steps.plugin in ``pytest_plugins``; given
    ``-p hanota.steps.plugin`` as well, pytest registers it once (twice would add its
    options twice: a usage error, and every hook, the summary included, twice)."""
    plain = run([sys.executable, "-m", "pytest", "-q", "features/", *replay_options(),
                 "--out", str(tmp_path / "plain")], ROOT)
    explicit = run([sys.executable, "-m", "pytest", "-q", "features/", "-p", "hanota.steps.plugin",
                    *replay_options(), "--out", str(tmp_path / "explicit")], ROOT)
    for done in (plain, explicit):
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert done.stdout.count(SUMMARY_TITLE) == 1
    found = verdicts(tmp_path / "plain")
    assert len(found) == 56 and found == verdicts(tmp_path / "explicit")
    assert {s["verdict"] for s in found.values()} == {"PASS", "INCONCLUSIVE", "NOT APPLICABLE"}


def test_hanota_run_from_an_empty_directory_equals_pytest_features(tmp_path: Path) -> None:
    """Same options, same outputs in the working directory, same scenario ids."""
    user = tmp_path / "user"
    user.mkdir()
    done = hanota_run("-q", *replay_options(), "--out", "results", cwd=user)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in user.iterdir()) == ["results"]
    assert {p.name for p in (user / "results").iterdir()} == {
        "verdicts.json", "summary.md", "conformance.html", "conformance.md", "figures"}
    assert done.stdout.count(SUMMARY_TITLE) == 1
    assert "summary: results/summary.md; verdicts: results/verdicts.json" in done.stdout
    reference = run([sys.executable, "-m", "pytest", "-q", "-p", "hanota.steps.plugin", "features/",
                     *replay_options(), "--out", str(tmp_path / "pytest")], ROOT)
    assert reference.returncode == 0, reference.stdout[-3000:]
    assert verdicts(user / "results") == verdicts(tmp_path / "pytest")


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one process", "xdist -n 2"])
def test_an_installed_suite_ignores_the_configuration_around_it_and_writes_nothing_there(
        tmp_path: Path, workers: tuple[str, ...]) -> None:
    """A lab's project folder with a pyproject.toml holding pytest options, its virtual
    environment holding the suite's features, the run started in the project with the
    capture there: ``hanota run`` reads no configuration file, ids its scenarios as a
    checkout does and writes nothing beside the features, also from pytest-xdist's
    workers. Plain pytest, the control, takes the project's options."""
    project = tmp_path / "project"
    features = project / ".venv" / "lib" / "site-packages" / "hanota" / "features"
    features.mkdir(parents=True)
    for path in [*ROOT.joinpath("features").glob("*.feature"),
                 *ROOT.joinpath("features").glob("*.py")]:
        (features / path.name).write_bytes(path.read_bytes())
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "--this-option-does-not-exist"\n')
    for name in ("dut.toml", "upgrade.pcapng", "upgrade.gbcs.hex"):
        (project / name).write_bytes((PCAPS / name).read_bytes())
    before = sorted(features.parent.rglob("*"))
    done = run([sys.executable, "-c", "import sys; from pathlib import Path; "
                "from hanota.run_cmd import run_pytest; "
                "sys.exit(run_pytest(sys.argv[2:], Path(sys.argv[1])))", str(features),
                "-q", "--target", "pcap", "--dut", "dut.toml", "--pcap", "upgrade.pcapng",
                "--alerts", "upgrade.gbcs.hex", "--out", "out", "-m", "FRAG-2", *workers],
               project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(features.parent.rglob("*")) == before, "written beside the features"
    assert set(verdicts(project / "out")) == {
        "features/test_conformance.py::test_the_communications_hub_says_when_to_come_back",
        "features/test_conformance.py::test_the_device_waits_when_told_wait_for_data"}
    control = run([sys.executable, "-m", "pytest", "-q", str(features), "--co"], project)
    assert control.returncode == 4 and "--this-option-does-not-exist" in control.stderr


def test_hanota_run_list_names_every_scenario_with_its_requirements_and_role(
        tmp_path: Path) -> None:
    done = hanota_run("--list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["requirement", "role", "scenario"]
    assert lines[-1] == f"56 scenarios; {len(REQUIREMENTS)} of {len(REQUIREMENTS)} requirements"
    rows = [line.split(maxsplit=2) for line in lines[1:-1]]
    assert len(rows) == 56
    for requirements, role, title in rows:
        assert set(requirements.split(",")) <= set(REQUIREMENTS)
        assert role in ("chf", "device") and title
    assert ["FRAG-2", "device", "The device waits when told WAIT_FOR_DATA"] in rows
    assert not list(tmp_path.iterdir()), "a listing writes nothing"
    selected = hanota_run("--list", "-m", "FRAG-1 and device", cwd=tmp_path)
    assert len(selected.stdout.splitlines()) == 1 + 3 + 1
    nothing = hanota_run("--list", "-m", "VER-6 and device", cwd=tmp_path)
    assert nothing.returncode == 5 and "no scenario selected" in nothing.stderr


def test_a_lab_feature_runs_with_the_suite_step_vocabulary(tmp_path: Path) -> None:
    """The example of docs/steps.md, as a test house's own file: listed, judged on evidence
    and reported like the suite's own scenarios."""
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "our_bench.feature").write_text(EXAMPLE_FEATURE)
    listed = hanota_run("--list", "--features", str(lab), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert ("NOTIFY-2,FRAG-3,ACT-2  device  Our HCALCS is notified, paces its download and runs "
            "the new version") in listed.stdout
    assert "57 scenarios" in listed.stdout
    done = hanota_run("-q", "--features", str(lab), *replay_options("two-devices", "ppmid,hcalcs"),
                      "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = verdicts(tmp_path / "out")
    ours = found["features/test_extra_features.py::"
                 "test_our_hcalcs_is_notified_paces_its_download_and_runs_the_new_version"]
    assert ours["verdict"] == "PASS" and ours["frames"], ours
    assert ours["requirements"] == ["ACT-2", "FRAG-3", "NOTIFY-2"] and ours["role"] == "device"
    assert ours["feature"] == "activation"
    assert len(found) == 57


def test_a_lab_feature_with_an_unknown_step_is_an_error_not_a_pass(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "typo.feature").write_text(EXAMPLE_FEATURE.replace(
        "asks for blocks no faster", "asks for blocks not faster"))
    done = hanota_run("-q", "--features", str(lab), *replay_options("two-devices", "hcalcs"),
                      "--out", "out", "-k", "our_hcalcs", cwd=tmp_path)
    assert done.returncode == 1
    (ours,) = verdicts(tmp_path / "out").values()
    assert ours["verdict"] == "ERROR" and "not faster" in ours["reason"], ours


def test_features_option_refuses_a_directory_without_feature_files(tmp_path: Path) -> None:
    done = hanota_run("--features", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 4
    assert f"--features {tmp_path}: holds no .feature file" in done.stderr


def test_hanota_run_pytest_help_shows_the_suite_options(tmp_path: Path) -> None:
    done = hanota_run("--pytest-help", cwd=tmp_path)
    assert done.returncode == 0
    assert "--features=DIR" in done.stdout and "--target=TARGET" in done.stdout


def test_hanota_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    done = run([sys.executable, "-m", "hanota.cli", "--version"], tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == f"hanota {version('hanota')}"


def test_the_checkout_features_are_the_suite_features() -> None:
    """In a checkout (an editable install) ``hanota run`` runs features/ itself."""
    assert features_dir() == ROOT / "features"
