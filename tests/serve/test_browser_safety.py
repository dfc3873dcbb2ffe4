"""What a hostile web page in the user's own browser can do to a local server without keys (issue 13, item 1):
write through a cross-site request (refused by Origin), or read and write under its own name after DNS rebinding
(refused by Host); and the hardening headers every answer carries."""
from __future__ import annotations

import pytest

from tests.serve.test_kb_jobs import SMALL_LAW, wait_job

EVIL = "http://evil.example"


def _law(name: str = "测试条例.md", text: str = SMALL_LAW):
    return [("files", (name, text.encode(), "text/markdown"))]


def _documents(c) -> list[dict]:
    return c.get("/api/kbs/demo/documents").json()["documents"]


def test_cross_site_upload_is_refused_and_adds_nothing(keyless):
    with keyless.client() as c:
        jobs_before = c.get("/api/jobs").json()["jobs"]
        r = c.post("/api/kbs/demo/documents", files=_law("跨站.md"), headers={"Origin": EVIL})
        assert r.status_code == 403, r.text
        err = r.json()["error"]
        assert err["type"] == "ForbiddenError" and EVIL in err["message"]
        # an old browser without Origin still names the page in Referer, and a new one says cross-site
        r = c.post("/api/kbs/demo/documents", files=_law("跨站.md"), headers={"Referer": f"{EVIL}/page.html"})
        assert r.status_code == 403, r.text
        r = c.post("/api/kbs/demo/documents", files=_law("跨站.md"), headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403, r.text
        assert c.post("/api/kbs", json={"name": "evil"}, headers={"Origin": "null"}).status_code == 403
        assert c.delete("/api/kbs/demo", headers={"Origin": EVIL}).status_code == 403
        assert c.get("/api/jobs").json()["jobs"] == jobs_before
        assert not any(d["source"].endswith("跨站.md") for d in _documents(c))
        assert not (keyless.home / "uploads" / "demo" / "跨站.md").exists()
        assert c.get("/api/kbs/demo").status_code == 200


def test_rebinding_host_is_refused(keyless):
    with keyless.client() as c:
        for path in ("/api/kbs", "/ui/", "/healthz"):
            r = c.get(path, headers={"Host": f"evil.example:{keyless.port}"})
            assert r.status_code == 403, (path, r.text)
            assert "evil.example" in r.json()["error"]["message"]
        # the rebinding page's own writes are same-origin to the browser: the Host check is what stops them
        r = c.post("/api/kbs", json={"name": "rebound"}, headers={"Host": f"evil.example:{keyless.port}",
                                                               "Origin": f"http://evil.example:{keyless.port}"})
        assert r.status_code == 403
        assert c.get("/api/kbs/rebound").status_code == 404
        for host in (f"127.0.0.1:{keyless.port}", f"localhost:{keyless.port}", "[::1]", "192.168.1.20:8000"):
            assert c.get("/api/kbs", headers={"Host": host}).status_code == 200, host


def test_same_origin_and_scripted_writes_are_accepted(keyless):
    with keyless.client() as c:
        r = c.post("/api/kbs/demo/documents", files=_law("同源.md"), headers={"Origin": keyless.base})
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json()["id"])["report"]["added"] == 1
        r = c.post("/api/kbs/demo/documents", data={"text": "脚本写入的一条。"})  # curl/SDK: no Origin at all
        assert r.status_code == 202, r.text
        r = c.post("/api/kbs", json={"name": "viafetch"}, headers={"Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 201, r.text
        assert c.delete("/api/kbs/viafetch", headers={"Origin": keyless.base}).status_code == 200


def test_allowed_hosts_are_served_and_may_write(keyless):
    port = keyless.port
    with keyless.client() as c:
        assert c.get("/api/kbs", headers={"Host": f"kb.lan:{port}"}).status_code == 200
        r = c.post("/api/kbs", json={"name": "lan"}, headers={"Host": f"kb.lan:{port}", "Origin": f"http://kb.lan:{port}"})
        assert r.status_code == 201, r.text
        # a page from an allowed name, through a proxy that rewrites Host to the loopback address
        assert c.delete("/api/kbs/lan", headers={"Origin": "https://kb.lan"}).status_code == 200
        assert c.get("/api/kbs", headers={"Host": f"other.lan:{port}"}).status_code == 403
        assert c.post("/api/kbs", json={"name": "x"}, headers={"Origin": "http://other.lan"}).status_code == 403


def test_hardening_headers(keyless):
    from zhiku.serve.security_headers import UI_CSP

    with keyless.client() as c:
        ui = c.get("/ui/")
        assert ui.status_code == 200
        assert ui.headers["content-security-policy"] == UI_CSP
        assert "'unsafe-inline'" not in UI_CSP and "frame-ancestors 'none'" in UI_CSP
        assert c.get("/ui/app.js").headers["content-security-policy"] == UI_CSP
        refused = c.get("/api/kbs", headers={"Host": "evil.example"})
        for r in (ui, c.get("/api/kbs"), c.get("/healthz"), refused, c.get("/api/kbs/nope")):
            assert r.headers["x-content-type-options"] == "nosniff", r.url
            assert r.headers["x-frame-options"] == "DENY", r.url
            assert r.headers["referrer-policy"] == "no-referrer", r.url


def test_host_rules():
    from zhiku.errors import ConfigError
    from zhiku.serve.origin_guard import HostRules, split_host

    rules = HostRules("kb.internal", ["kb.lan", "x.lan:8443", ".corp.example", "[fd00::1]:9"])
    served = ["127.0.0.1:1", "[::1]:2", "10.0.0.5", "localhost:3", "kb.internal", "KB.LAN:4", "x.lan:8443",
              "corp.example", "a.b.corp.example:5", "[fd00::1]:9"]  # fmt: skip
    refused = ["evil.example", "x.lan:8444", "evilcorp.example", "kb.lan.evil.example", "localhost.evil.example"]
    assert all(rules.serves(split_host(h)) for h in served), [h for h in served if not rules.serves(split_host(h))]
    assert not any(rules.serves(split_host(h)) for h in refused)
    assert split_host("a@b") is None and split_host("a/b") is None and split_host("a:99999") is None
    assert HostRules("127.0.0.1", ["*"]).serves(("evil.example", None))
    with pytest.raises(ConfigError, match="allowed_hosts"):
        HostRules("127.0.0.1", ["http://kb.lan/"])


def test_allowed_hosts_from_the_environment(monkeypatch, tmp_path):
    from zhiku.config import Settings

    monkeypatch.setenv("ZHIKU_SERVER__ALLOWED_HOSTS", '["kb.lan", ".corp.example"]')
    assert Settings(home=tmp_path).server.allowed_hosts == ["kb.lan", ".corp.example"]
