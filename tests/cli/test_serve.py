"""`zhiku serve` (uvicorn.run captured: what it would bind, with which target) and `zhiku keys`."""
from __future__ import annotations

import json
import logging

import pytest


@pytest.fixture(autouse=True)
def _logging_as_it_was():
    """`serve` in process sets up zhiku's logging and turns the access log on: undo both for the tests after it."""
    loggers = [logging.getLogger(n) for n in ("zhiku", "zhiku.access")]
    saved = [(lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    yield
    for lg, (level, handlers, propagate) in zip(loggers, saved):
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate = propagate


def test_cli_keys_and_serve_binds_loopback_without_keys(settings, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from zhiku.cli import app

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app_, **kw: calls.append(kw))
    monkeypatch.setattr("zhiku.serve.app.create_app", lambda s, **kw: object())
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8123"])
    assert r.exit_code == 0, r.output
    assert calls[-1]["host"] == "127.0.0.1" and calls[-1]["port"] == 8123
    assert "no API keys" in r.output

    r = CliRunner().invoke(app, ["keys", "create", "--scope", "admin", "--json"])
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["key"].startswith("zk_") and created["scope"] == "admin"
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert r.exit_code == 0 and calls[-1]["host"] == "0.0.0.0"
    r = CliRunner().invoke(app, ["keys", "list", "--json"])
    assert [k["id"] for k in json.loads(r.stdout)] == [created["id"]] and "key" not in r.stdout
    assert CliRunner().invoke(app, ["keys", "revoke", created["id"]]).exit_code == 0
    assert CliRunner().invoke(app, ["keys", "revoke", "nope"]).exit_code == 3


def test_cli_serve_workers_need_a_shared_store(settings, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from zhiku.cli import app
    from zhiku.config import reset_settings

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append((target, kw)))
    r = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert r.exit_code == 2 and "milvus" in r.output.lower() and not calls
    monkeypatch.setenv("ZHIKU_STORE__BACKEND", "milvus")
    monkeypatch.setenv("ZHIKU_STORE__URI", "http://127.0.0.1:19530")
    reset_settings()
    r = CliRunner().invoke(app, ["serve", "--workers", "3"])
    assert r.exit_code == 0, r.output
    target, kw = calls[-1]
    assert target == "zhiku.serve.app:app_from_env" and kw["factory"] and kw["workers"] == 3
    # what each worker process runs: the factory builds a working app from the environment
    import httpx

    from tests.serve.conftest import start_server

    monkeypatch.setenv("ZHIKU_SERVER__AUTH", "off")
    reset_settings()
    srv, thread, base = start_server(target, factory=True)
    try:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    finally:
        srv.should_exit = True
        thread.join(30)
