"""Headless Chromium for the tests that load pages as a person would: Debian's ``chromium`` (``.ci/run`` installs
it), driven by Playwright, with the network closed except the loopback interface. Nothing downloads a browser."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, sync_playwright

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
    """A Playwright page in headless Chromium that reaches only loopback addresses: every other request goes to a
    proxy that refuses it, and is remembered. Skips when Chromium is not installed outside CI (under CI its
    absence fails).

    Requests are not intercepted (``context.route``): while they are, Playwright answers every CORS preflight
    itself, granting whatever was asked, so no preflight would reach the server under test."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    seen = Offline()

    def outside(request: Request) -> None:
        url = request.url
        if not url.startswith(("data:", "blob:", "about:")) and (urlsplit(url).hostname or "") not in LOOPBACK:
            seen.refused.append(url)

    # bound, never listening: the proxy refuses every connection (Chromium sends loopback ones past any proxy)
    with socket.socket() as refusing, sync_playwright() as playwright:
        refusing.bind(("127.0.0.1", 0))
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                f"--proxy-server=http://127.0.0.1:{refusing.getsockname()[1]}",
                # a second fence: no name resolves but the loopback ones
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                "--no-sandbox",
            ],
        )
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            context.on("request", outside)
            page = context.new_page()
            page.on("console", lambda message: message.type == "error" and seen.errors.append(message.text))
            page.on("pageerror", lambda error: seen.errors.append(str(error)))
            yield page, seen
        finally:
            browser.close()
