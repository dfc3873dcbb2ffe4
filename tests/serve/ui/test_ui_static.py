"""The UI's files: served at /ui without a key, all shipped as package data, nothing pointing off the machine."""
from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import httpx

from zhiku.serve.routes.ui import UI_DIR

REPO = Path(__file__).resolve().parents[3]
FILES = sorted(p for p in UI_DIR.iterdir() if p.is_file())


def test_every_ui_file_is_package_data():
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["zhiku.serve"]
    for p in FILES:
        assert any(fnmatch(f"ui/{p.name}", pat) for pat in data), f"{p.name} would be missing from the wheel"


def test_no_external_urls_in_the_ui():
    # any absolute URL is a request off the machine (a CDN, a font, analytics): the page must work offline
    for p in FILES:
        text = p.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), p.name
        assert "@import" not in text and "@font-face" not in text, p.name


def test_ui_served_without_key_and_assets_resolve(server):
    # the page itself holds no data, so it loads before the user has entered a key
    with httpx.Client(base_url=server.base, timeout=30) as c:
        assert c.get("/", follow_redirects=False).headers["location"] == "/ui/"
        r = c.get("/ui/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        refs = re.findall(r'(?:href|src)="([^"#:]+)"', r.text)
        imports = [m for p in FILES if p.suffix == ".js" for m in re.findall(r'from "\./([\w.]+)"', p.read_text())]
        assert {"style.css", "app.js"} <= set(refs)
        for name in set(refs) | set(imports):
            asset = c.get(f"/ui/{name}")
            assert asset.status_code == 200 and asset.headers["cache-control"] == "no-cache", name
        assert c.get("/api/kbs").status_code == 401  # while the API stays behind the key
