"""Regenerate the web UI screenshots in docs/images/ (shown in the README).

Builds a demo knowledge base from samples/laws in a throw-away ZHIKU_HOME, starts a real `zhiku serve` on a free
loopback port, drives each tab in headless Debian chromium and writes ui-chat.png, ui-knowledge.png and
ui-status.png. Run from the repository root:

    python scripts/ui_screenshots.py            # the 1.5B default model; --model qwen2.5-0.5b is faster
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the browser helper lives with the UI tests
from tests.serve.ui.browser import browser_page, external, missing  # noqa: E402
from zhiku.loadtest.process import free_port, wait_ready  # noqa: E402

QUESTION = "劳动合同的试用期最长可以约定多久？"
SEARCH = "经济补偿 计算"


def zhiku(*args: str, env: dict) -> subprocess.Popen:
    # `python -c` rather than the `zhiku` entry point: runs the source tree on PYTHONPATH, e.g. a worktree
    return subprocess.Popen([sys.executable, "-c", "from zhiku.cli import app; app()", *args], env=env)


def shoot(base: str, out: Path) -> None:
    with browser_page(width=1360, height=860) as (page, requests):
        page.goto(f"{base}/ui/#chat")
        page.wait_for_selector("#chat-kb option[value=demo]", state="attached")
        page.select_option("#chat-kb", "demo")
        page.fill("#chat-input", QUESTION)
        page.click("#chat-send")
        page.wait_for_selector("[data-testid=timings]:not(:empty)", timeout=300_000)
        page.click("[data-testid=citation]")
        page.wait_for_selector("[data-testid=article-text]")
        page.keyboard.press("Escape")
        page.screenshot(path=out / "ui-chat.png")

        page.click("[data-tab=knowledge]")
        page.click("button.kb-open[data-kb=demo]")
        page.wait_for_selector("#doc-table table")
        page.fill("input[name=query]", SEARCH)
        page.click("#search-form button[type=submit]")
        page.wait_for_selector("[data-testid=hit]")
        page.screenshot(path=out / "ui-knowledge.png")

        page.click("[data-tab=status]")
        page.wait_for_selector("[data-testid=metrics]")
        page.wait_for_timeout(2500)  # one refresh, so the figures include the requests above
        page.screenshot(path=out / "ui-status.png")
        leaked = external(requests)
        if leaked:
            raise SystemExit(f"the page requested non-loopback URLs: {leaked}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    ap.add_argument("--model", default="", help="bundled model name or .gguf path (default: the configured one)")
    ap.add_argument("--laws", type=Path, default=REPO / "samples" / "laws")
    args = ap.parse_args()
    if why := missing():
        raise SystemExit(why)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zhiku-shots-") as home:
        env = {**os.environ, "ZHIKU_HOME": home, "ZHIKU_LLM__MAX_TOKENS": "160", "ZHIKU_DEFAULT_KB": "demo"}
        if args.model:
            env["ZHIKU_LLM__MODEL"] = args.model
        subprocess.run([sys.executable, "-c", "from zhiku.cli import app; app()", "ingest", str(args.laws),
                        "--kb", "demo", "--create"], env=env, check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = zhiku("serve", "--port", str(port), env=env)
        try:
            wait_ready(f"{base}/readyz", proc, within=300, interval=0.5)
            shoot(base, args.out)
        finally:
            proc.terminate()
            proc.wait(60)
    for name in ("ui-chat.png", "ui-knowledge.png", "ui-status.png"):
        print(args.out / name)


if __name__ == "__main__":
    main()
