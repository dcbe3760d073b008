"""A campaign: one device with two Comms Hubs, two capture sets, two runs, one matrix,
opened in a browser.

The emulator's CHF fault profiles serve as a second Comms Hub: hub A is the emulated CHF
as it is, hub B the same with the fault profile ``never-reads-back`` (a CHF that never
reads the version back: VER-1 FAIL). For each hub the test house's work is done as a lab
would do it: a DUT description naming the same device and that Comms Hub (``[dut.peer]``),
the situations the selected scenarios ask for recorded (here by ``hanota emulate``) into a
folder with its ``situations.toml``, and a run ``--target pcap --capture-set DIR``. Runs
select a few requirements (``-m``) to stay short; the DUT is that of ``pcaps/`` (small
images).

``hanota matrix`` merges them; the runs are then moved into another layout (as CI
artefacts are) and merged again: the links still lead to the statements. In headless
Chromium (Debian's, skipped with the reason only where it is missing): the statement
and the matrix open from disk with no console error and no request leaving them, the
requirement table is there, a picture renders, and the matrix's FAIL cell leads to run
B's statement.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import chromium_browser, needs_chromium, watch
from hanota.verify.requirements import REQUIREMENTS

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SMALL_DUT = (ROOT / "pcaps" / "dut.toml").read_text()
SELECTION = "VER-1 or NOTIFY-1 or FRAG-3"
DEVICE = "Meter Maker PPMID-7, firmware 0x01020300"
HUB_A = "Hub Maker CH-A, firmware 1.0"
HUB_B = "Hub Maker CH-B, firmware 2.0"
RECORDED = {"upgrade": ("upgrade", ["ppmid"]),
            "two-devices": ("two-devices", ["ppmid", "hcalcs"])}
"""The situations the selection asks for: id -> (the emulator's exchange, images)."""


def dut_with_hub(path: Path, model: str, firmware: str) -> Path:
    """The small DUT of pcaps/ with the device and the Comms Hub named."""
    head, node, rest = SMALL_DUT.partition('\nnode = "ppmid"')
    line, _, rest = rest.partition("\n")
    identity = ('\nmanufacturer = "Meter Maker"\nmodel = "PPMID-7"\n'
                'firmware_version = "0x01020300"\n\n[dut.peer]\nmanufacturer = "Hub Maker"\n'
                f'model = "{model}"\nfirmware_version = "{firmware}"\n')
    path.write_text(head + node + line + identity + rest)
    return path


def record(folder: Path, dut: Path, *profile: str) -> Path:
    """The capture set of one Comms Hub: each situation recorded, and its
    situations.toml."""
    folder.mkdir(parents=True)
    toml = [f'[set]\ndut = "{dut}"\n']
    for situation, (exchange, images) in RECORDED.items():
        subprocess.run([sys.executable, "-m", "hanota.cli", "emulate", "--dut", str(dut),
                        "--scenario", exchange, "--out", str(folder / f"{exchange}.pcapng"),
                        "--alerts", str(folder / f"{exchange}-alerts"), *profile],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
        toml.append(f'[situations.{situation}]\ncapture = "{exchange}.pcapng"\n'
                    f'alerts = "{exchange}-alerts"\nimages = {images!r}\n'.replace("'", '"'))
    (folder / "situations.toml").write_text("\n".join(toml))
    return folder


def suite(out: Path, capture_set: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "features/", "-p", "hanota.steps.plugin",
         "--target", "pcap", "--capture-set", str(capture_set),
         "--chf-cert", str(ROOT / "emulators" / "keys" / "chf-test-ds.pem"),
         "-m", SELECTION, "--out", str(out), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)


def matrix(out: Path, *runs: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "hanota.cli", "matrix", *map(str, runs),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/a, runs/b (one per Comms Hub) and their matrix in matrix/."""
    home = tmp_path_factory.mktemp("campaign")
    hub_a = record(home / "recordings" / "hub-a", dut_with_hub(home / "a.toml", "CH-A", "1.0"))
    hub_b = record(home / "recordings" / "hub-b", dut_with_hub(home / "b.toml", "CH-B", "2.0"),
                   "--profile", "chf=never-reads-back")
    a = suite(home / "runs" / "a", hub_a,
              "--alluredir", str(home / "allure-a"))  # with Allure: the download plot too
    assert a.returncode == 0, a.stdout[-3000:] + a.stderr[-3000:]
    b = suite(home / "runs" / "b", hub_b)
    assert b.returncode == 1 and "FAILED" in b.stdout, b.stdout[-3000:] + b.stderr[-3000:]
    done = matrix(home / "matrix", home / "runs" / "a", home / "runs" / "b")
    assert f"PASS            {DEVICE}  ×  hanota" not in done.stdout  # named by the DUT file
    assert f"FAIL            {DEVICE}  ×  {HUB_B}  (1 run)" in done.stdout
    return home


def cells(matrix_md: str) -> dict[str, str]:
    """Comms Hub -> the device row's cell, from matrix.md's first table."""
    header, _, row = [line for line in matrix_md.splitlines() if line.startswith("|")][:3]
    hubs = [h.strip() for h in header.strip("|").split("|")][1:]
    values = [v.strip() for v in row.strip("|").split("|")]
    assert values[0] == DEVICE
    return dict(zip(hubs, values[1:], strict=True))


def test_each_run_lists_its_capture_set_and_judges_each_scenario_on_its_situation(
        campaign: Path) -> None:
    for run, hub in (("a", "CH-A"), ("b", "CH-B")):
        out = campaign / "runs" / run
        statement = (out / "conformance.md").read_text()
        recordings = campaign / "recordings" / f"hub-{run}"
        for exchange, _ in RECORDED.values():
            listed = (rf"\| {exchange}\.pcapng \| {re.escape(str(recordings))}/"
                      rf"{exchange}\.pcapng \| \d+ \| `[0-9a-f]{{64}}`")
            assert re.search(listed, statement), statement
        assert f"| model | PPMID-7 | {hub} |" in statement
        scenarios = json.loads((out / "verdicts.json").read_text())["scenarios"]
        assert {s["situation"] for s in scenarios} == set(RECORDED)
        assert "not recorded" not in statement


def test_the_matrix_has_the_device_row_and_a_column_per_comms_hub(campaign: Path) -> None:
    text = (campaign / "matrix" / "matrix.md").read_text()
    row = cells(text)
    assert list(row) == [HUB_A, HUB_B]
    assert row[HUB_A].startswith("**PASS** ([PASS, both sides](../runs/a/conformance.html))")
    assert row[HUB_B].startswith("**FAIL** ([FAIL, both sides](../runs/b/conformance.html))")
    assert re.search(r"\| \.\./runs/b \| .* \| FAIL \| 1 fail, 2 pass, 27 not run \| "
                     r"FAIL: VER-1; NOT RUN: 27 requirements \|", text)


def test_runs_merged_from_anywhere_link_to_their_statements(campaign: Path,
                                                            tmp_path: Path) -> None:
    """CI artefacts land in any layout; the matrix goes where the reviewer wants it."""
    jobs = tmp_path / "artefacts"
    for number, run in enumerate("ab", 1):
        shutil.copytree(campaign / "runs" / run, jobs / f"job-{number}" / "out")
    out = tmp_path / "review" / "2026"
    matrix(out, jobs / "job-2" / "out", jobs / "job-1" / "out")
    text = (out / "matrix.md").read_text()
    links = re.findall(r"\]\(([^)]+conformance\.html)\)", text)
    assert links == ["../../artefacts/job-2/out/conformance.html",
                     "../../artefacts/job-1/out/conformance.html"]  # the order given
    assert all((out / link).is_file() for link in links)
    assert list(cells(text)) == [HUB_B, HUB_A]


def test_a_run_without_verdicts_is_refused_with_its_name(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "hanota.cli", "matrix", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert f"{tmp_path}: no verdicts.json" in done.stderr


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium_browser() as opened:
        yield opened


@needs_chromium
def test_the_statement_opens_from_disk_with_its_table_and_pictures(
        campaign: Path, browser: object) -> None:
    page = browser.new_page()
    watched = watch(page, ("file:", "data:"))
    page.goto((campaign / "runs" / "a" / "conformance.html").as_uri())
    rows = page.locator("#requirement-table tbody tr")
    assert rows.count() == len(REQUIREMENTS)
    assert page.locator('#requirement-table tr[data-requirement="VER-1"] .verdict') \
        .inner_text() == "PASS"
    images = page.locator("img")
    assert images.count() >= 2
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    widths = images.evaluate_all("images => images.map(image => image.naturalWidth)")
    assert all(width > 0 for width in widths), widths
    kinds = images.evaluate_all("images => images.map(image => image.src.split(';')[0])")
    assert {"data:image/png", "data:image/svg+xml"} <= set(kinds)  # the plot and a chart
    watched.clean()
    page.close()


@needs_chromium
def test_the_matrix_opens_from_disk_and_its_fail_cell_leads_to_the_statement(
        campaign: Path, browser: object) -> None:
    page = browser.new_page()
    watched = watch(page, ("file:", "data:"))
    page.goto((campaign / "matrix" / "matrix.html").as_uri())
    headers = page.locator("#matrix thead th").all_inner_texts()
    assert headers[1:] == [HUB_A, HUB_B]
    assert page.locator("#matrix tbody th").all_inner_texts() == [DEVICE]
    failing = page.locator('#matrix td[data-verdict="FAIL"]')
    assert failing.count() == 1 and "VER-1" in failing.inner_text()
    failing.get_by_role("link", name="statement").click()
    page.wait_for_load_state()
    assert page.url == (campaign / "runs" / "b" / "conformance.html").as_uri()
    assert page.locator('#requirement-table tr[data-requirement="VER-1"] .verdict') \
        .inner_text() == "FAIL"
    assert "CH-B" in page.locator("#identity").inner_text()
    watched.clean()
    page.close()
