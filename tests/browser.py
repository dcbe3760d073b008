"""Debian's Chromium, headless, for the tests of the pages a person opens.

Why shared: the Allure report, the conformance statement and the matrix are each checked
in a real browser, the same way: Playwright drives /usr/bin/chromium (never a downloaded
browser) with the project's flags, and a page counts as clean with no console error, no
uncaught exception and no request leaving it (``local`` prefixes are allowed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# with headless=True; Playwright gives each launch a fresh temporary --user-data-dir
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")


@contextmanager
def chromium_browser() -> Iterator[object]:
    """A headless Chromium (Playwright's ``Browser``), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class WatchedPage:
    """A page and what went wrong while it was open."""

    page: object
    local: tuple[str, ...]
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def clean(self) -> None:
        """No console error, no uncaught exception, no request leaving the page."""
        assert self.errors == []
        assert self.outside == []


def watch(page: object, local: tuple[str, ...]) -> WatchedPage:
    """Record the page's console errors, exceptions and requests outside ``local``."""
    watched = WatchedPage(page, local)
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("request", lambda r: None if r.url.startswith(local)
            else watched.outside.append(r.url))
    return watched
