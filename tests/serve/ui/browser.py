"""Headless Debian chromium under Playwright, for the UI tests and scripts/ui_screenshots.py.

Never `playwright install`: the browser is the system's /usr/bin/chromium (scripts/install.sh apt-installs it),
with everything that would reach the network on its own switched off.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from urllib.parse import urlsplit

CHROMIUM = os.environ.get("ZHIKU_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu",
        "--no-first-run", "--disable-sync", "--disable-default-apps", "--disable-extensions"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def missing() -> str | None:
    """Why the browser cannot run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM} (apt-get install chromium; scripts/install.sh does it as root)"
    return None


@contextmanager
def browser_page(width: int = 1360, height: int = 860, lang: str = "zh-CN"):
    """(page, requests): a fresh page, and the list of every URL it requested (to assert nothing left loopback)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, locale=lang, device_scale_factor=1)
            page = context.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            yield page, requests
        finally:
            browser.close()


def external(urls: list[str]) -> list[str]:
    """The URLs that went to a host other than loopback (data: and blob: URLs stay in the page)."""
    out = []
    for u in urls:
        parts = urlsplit(u)
        if parts.scheme in ("data", "blob", "about"):
            continue
        if parts.hostname not in LOOPBACK:
            out.append(u)
    return out
