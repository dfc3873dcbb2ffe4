"""A headless chromium page per test; without a browser the tests skip here and fail in CI (CI=true)."""
from __future__ import annotations

import os

import pytest

from tests.serve.ui.browser import browser_page, missing


@pytest.fixture()
def browser():
    """(page, requests): see tests/serve/ui/browser.py."""
    why = missing()
    if why:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser tests cannot run in CI: {why}")
        pytest.skip(why)
    with browser_page() as pr:
        yield pr
