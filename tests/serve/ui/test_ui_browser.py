"""The web UI in a real browser against a real `zhiku serve` (auth on): enter a key, create a KB, upload a law,
ask a question and watch the answer stream, open its citation, upload a bad file, delete the KB. Throughout,
the page must not request anything outside loopback."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.conftest import LAW_FILES
from tests.serve.ui.browser import external

pytestmark = pytest.mark.slow
KB = "ui测试"
LAW = LAW_FILES[2]  # 消费者权益保护法
QUESTION = "经营者提供商品有欺诈行为的，应当如何赔偿？"


def test_ui_end_to_end(server, browser):
    page, requests = browser
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))  # confirm() before deleting or replacing
    blocked: list[str] = []  # the page must live within its Content-Security-Policy
    page.on("console", lambda m: "Content Security Policy" in m.text and blocked.append(m.text))
    page.goto(f"{server.base}/ui/#knowledge")

    # auth is on: the first API call answers 401 and the page asks for a key
    expect(page.locator("#key-dialog")).to_be_visible()
    page.fill("#key-input", server.admin_key)
    page.press("#key-input", "Enter")
    expect(page.locator("#key-dialog")).to_be_hidden()

    page.fill("#kb-create input[name=name]", KB)
    page.click("#kb-create button[type=submit]")
    expect(page.locator(".kb-item.active .kb-name")).to_have_text(KB)

    page.set_input_files("#upload-input", str(LAW))
    page.click("#upload-button")
    expect(page.locator("#upload-result .ok")).to_be_visible(timeout=120_000)
    expect(page.locator("#doc-table")).to_contain_text(LAW.name)
    expect(page.locator(".kb-item.active .kb-counts")).to_have_text(re.compile(r"^[1-9]\d* 文档"))

    # another file under the same name: the server refuses (409) and the page asks before replacing
    newer = LAW.read_bytes() + "\n第九十九条 本法的测试新增条文。\n".encode()
    page.set_input_files("#upload-input", files=[{"name": LAW.name, "mimeType": "text/markdown", "buffer": newer}])
    page.click("#upload-button")
    expect(page.locator("#upload-result .ok")).to_contain_text("更新 1", timeout=120_000)
    assert any(LAW.name in d and "替换" in d for d in dialogs), dialogs

    # an unsupported file: a readable message in the page, not a trace
    page.set_input_files("#upload-input", files=[{"name": "tool.exe", "mimeType": "application/octet-stream", "buffer": b"MZ"}])
    page.click("#upload-button")
    alert = page.locator("#upload-result .alert")
    expect(alert).to_contain_text("不支持的文件类型")
    expect(alert).to_contain_text("tool.exe")
    assert "Traceback" not in alert.inner_text()

    page.click("[data-tab=chat]")
    page.select_option("#chat-kb", KB)
    page.fill("#chat-input", QUESTION)
    page.press("#chat-input", "Enter")
    answer = page.locator("[data-testid=answer]").last
    # streamed: text shows while the cursor is still there, before the answer is complete
    seen_partial, deadline = False, time.monotonic() + 120
    while time.monotonic() < deadline and not page.locator("[data-testid=timings]").count():
        if answer.locator(".cursor").count() and len(answer.inner_text().strip()) >= 2:
            seen_partial = True
        page.wait_for_timeout(50)
    assert seen_partial, "no partial answer was shown while streaming"
    timings = page.locator("[data-testid=timings]").last
    expect(timings).to_contain_text("检索")
    expect(timings).to_contain_text("首字")
    assert answer.inner_text().strip()

    chip = page.locator("[data-testid=citation]").first
    title = chip.get_attribute("title")  # the cited chunk's text
    label = chip.inner_text()  # "[n] 《law》第X条"
    article = label.split("》")[-1].strip()
    chip.click()
    text = page.locator("[data-testid=article-text]")
    expect(text).to_contain_text(article)
    assert title[:40] in text.inner_text()
    expect(page.locator("#article-title")).to_contain_text(article)
    page.click("#article-close")

    page.click("[data-tab=knowledge]")
    page.click(f"button[aria-label='删除 {KB}']")
    expect(page.locator(f"button.kb-open[data-kb='{KB}']")).to_have_count(0)
    with server.client("admin") as c:
        assert c.get(f"/api/kbs/{KB}").status_code == 404

    page.click("#lang-button")  # the English switch
    expect(page.locator("[data-tab=knowledge]")).to_have_text("Knowledge")

    assert not external(requests), external(requests)
    assert not blocked, blocked
