"""`make report` and `make report-single` (Allure 3) opened in headless Chromium.

The results come from real runs: the suite replays a reference capture twice into one
out/ (the second time without the CHF certificate, so VER-6 turns INCONCLUSIVE "no
certificate" and the trend has two different points), `make report` after each run and
`make report-single` after the second. The report is served from a local HTTP server;
the single file is opened from disk (file://). In both: no console errors and no request
leaving the report; the name says SECMP0007, the DUT and the target; the tree groups by
area, then requirement; a transfer scenario lists its capture slice, sequence chart and
download plot, and the chart (SVG) and the plot (PNG) render; the categories group the
INCONCLUSIVE reasons; the trend shows both runs.

Chromium is driven with Playwright over its own protocol, using Debian's /usr/bin/chromium
(never a downloaded browser). npx fetches the pinned Allure from npm the first time.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import CHROMIUM, chromium_browser, watch
from playwright.sync_api import Browser, Page, expect

ROOT = Path(__file__).resolve().parents[1]
REPLAY = ["features/", "-p", "hanota.steps.plugin", "--target", "pcap", "--dut", "pcaps/dut.toml",
          "--pcap", "pcaps/upgrade.pcapng", "--alerts", "pcaps/upgrade.gbcs.hex",
          "--images", "ppmid"]
CERTIFICATE = ["--chf-cert", "emulators/keys/chf-test-ds.pem"]
SCENARIO = "The PPMID requests the whole file without gaps (in one OTA file)"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npx") is None, reason="Node.js npx is not installed"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


def _run_suite(out: Path, *extra: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *REPLAY, *extra, "--out", str(out),
         "--alluredir", str(out / "allure-results"), "--clean-alluredir"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _make(target: str, out: Path) -> None:
    done = subprocess.run(["make", "--no-print-directory", target,
                           f"RESULTS={out / 'allure-results'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "analytics removed" in done.stdout


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    _run_suite(out, *CERTIFICATE)
    _make("report", out)
    _run_suite(out)
    _make("report", out)
    _make("report-single", out)
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(out: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(out / "allure-report"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with chromium_browser() as browser:
        yield browser


@dataclass
class Report:
    """One page of the report, with what went wrong while it was open (``clean()``)."""

    page: Page
    home: str
    watched: object

    def clean(self) -> None:
        self.watched.clean()


@pytest.fixture(params=["served", "single file"])
def report(request: pytest.FixtureRequest, out: Path, chromium: Browser) -> Iterator[Report]:
    """The report's home page in a fresh browser context (the tree keeps its state in
    local storage: each test starts from the report as a reviewer first sees it)."""
    if request.param == "served":
        home = request.getfixturevalue("served") + "index.html"
    else:
        home = (out / "allure-report-single" / "index.html").as_uri()
    local = (home.rsplit("/", 1)[0], "data:", "blob:")
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    opened = Report(page, home, watch(page, local))
    page.goto(home)
    expect(page.get_by_test_id("report-title")).to_be_visible(timeout=30_000)
    yield opened
    context.close()


def test_the_name_says_secmp0007_the_dut_and_the_target(report: Report) -> None:
    title = report.page.get_by_test_id("report-title").inner_text()
    assert title.startswith("SECMP0007 OTA conformance")
    assert "DUT ppmid (PPMID 00DB1234567890A4" in title and "pcaps/dut.toml" in title
    assert "target pcap (capture pcaps/upgrade.pcapng" in title
    body = report.page.locator("body")
    expect(body).to_contain_text(re.compile(r"hanota \d+\.\d+\.\d+"))  # environment: suite
    report.clean()


def test_scenarios_are_grouped_by_area_then_requirement(report: Report) -> None:
    page = report.page
    page.get_by_text("version_report", exact=True).click()
    expect(page.get_by_text(re.compile(r"^VER-3: CCS08 alert"))).to_be_visible()
    page.get_by_text("block_transfer", exact=True).click()
    page.get_by_text(re.compile(r"^FRAG-1: ")).click()
    expect(page.get_by_text(SCENARIO, exact=True)).to_be_visible()
    report.clean()


def _attachment_image_width(page: Page, name: str) -> int:
    attachment = page.get_by_test_id("test-result-attachment").filter(has_text=name)
    attachment.get_by_test_id("test-result-attachment-header").click()
    image = attachment.locator("img")
    expect(image).to_be_visible()
    page.wait_for_function("image => image.complete", arg=image.element_handle())
    return int(image.evaluate("image => image.naturalWidth"))


def test_a_scenario_lists_its_attachments_and_the_chart_and_plot_render(report: Report) -> None:
    page = report.page
    page.get_by_text("block_transfer", exact=True).click()
    page.get_by_text(re.compile(r"^FRAG-1: ")).click()
    page.get_by_text(SCENARIO, exact=True).click()
    page.get_by_test_id("test-result-tab-attachments").click()
    headers = page.get_by_test_id("test-result-attachment-header")
    expect(headers.first).to_be_visible()
    names = [text.strip() for text in headers.all_inner_texts()]
    assert any(re.search(r"capture slice \(\d+ frames\)", name) for name in names), names
    assert any("message sequence chart (ppmid)" in name for name in names), names
    assert any("download plot (ppmid)" in name for name in names), names
    assert _attachment_image_width(page, "message sequence chart (ppmid)") > 0
    assert _attachment_image_width(page, "download plot (ppmid)") > 0
    report.clean()


def test_categories_group_the_inconclusive_reasons(report: Report) -> None:
    page = report.page
    page.get_by_test_id("nav-tab-categories").click()
    for name in ("INCONCLUSIVE: no certificate",
                 "INCONCLUSIVE: the trace does not show the situation",
                 "NOT APPLICABLE: not claimed in the PICS"):
        expect(page.get_by_text(name, exact=True)).to_be_visible()
    page.get_by_text("INCONCLUSIVE: no certificate", exact=True).click()
    expect(page.get_by_text("VER-6", exact=True)).to_be_visible()  # grouped by requirement
    expect(page.get_by_text(re.compile(r"^Skipped: INCONCLUSIVE: .*certificate"))).to_be_visible()
    report.clean()


def test_the_trend_shows_both_runs(report: Report, out: Path) -> None:
    page = report.page
    page.goto(report.home + "#charts")
    expect(page.get_by_text("Status trend across runs", exact=True)).to_be_visible()
    page.goto(report.home + "#metrics")
    expect(page.get_by_text("INCONCLUSIVE", exact=True).first).to_be_visible()
    report.clean()
    # two runs, one point each, however many reports were made of the second
    assert len((out / "allure-history.jsonl").read_text().splitlines()) == 2
    charts = json.loads((out / "allure-report" / "widgets" / "charts.json").read_text())
    (trend,) = [c for c in charts["general"].values() if c["type"] == "statusDynamics"]
    first, second = (point["statistic"] for point in trend["data"])
    assert second["passed"] < first["passed"]  # VER-6 passed with the certificate only
