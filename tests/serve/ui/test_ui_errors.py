"""Failures show as readable messages in the page: a server that went away, a request the server refuses."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.serve.conftest import start_server


def test_server_gone_and_refused_requests_read_well(tmp_path, browser):
    from zhiku.config import Settings
    from zhiku.serve.app import create_app

    page, _ = browser
    srv, thread, base = start_server(create_app(Settings(home=tmp_path / "home"), warm_up=False))
    try:
        page.goto(f"{base}/ui/#knowledge")
        expect(page.locator("#kb-list")).to_contain_text("还没有知识库")  # no keys on this server: no dialog
        page.fill("#kb-create input[name=name]", "bad/name")
        page.click("#kb-create button[type=submit]")
        expect(page.locator("#kb-create-error .alert")).to_contain_text("请求无效：invalid knowledge base name")
    finally:
        srv.should_exit = True
        thread.join(30)
    page.fill("#kb-create input[name=name]", "ok")
    page.click("#kb-create button[type=submit]")
    alert = page.locator("#kb-create-error .alert")
    expect(alert).to_have_text("无法连接服务器：请确认 zhiku serve 正在运行。")
