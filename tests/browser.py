"""Headless Chromium for the tests that load pages as a person would: Debian's ``chromium`` (``.ci/run`` installs
it), driven by Playwright, with the network closed except the loopback interface. Nothing downloads a browser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
"""Where screenshots go (gitignored; CI keeps them as artefacts)."""
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


@dataclass
class Offline:
    """What the page tried to fetch from outside the machine (refused) and what it logged as errors."""

    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextmanager
def offline_page(viewport: tuple[int, int] = (1280, 900)) -> Iterator[tuple[Page, Offline]]:
    """A Playwright page in headless Chromium that reaches only loopback addresses: every other request is
    aborted and remembered. Skips when Chromium is not installed outside CI (under CI its absence fails)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    seen = Offline()

    def only_loopback(route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
            route.continue_()
        else:
            seen.refused.append(url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # a second fence below Playwright's: no name resolves but the loopback ones
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1", "--no-sandbox"],
        )
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            context.route("**/*", only_loopback)
            page = context.new_page()
            page.on("console", lambda message: message.type == "error" and seen.errors.append(message.text))
            page.on("pageerror", lambda error: seen.errors.append(str(error)))
            yield page, seen
        finally:
            browser.close()
