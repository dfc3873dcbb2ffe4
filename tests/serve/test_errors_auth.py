"""Bad input and auth: every failure is a 4xx with {"error": {"type", "message"}} naming the problem."""
from __future__ import annotations

import pytest


def err(r, status):
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["type"] and body["message"]
    return body["message"]


def test_missing_and_wrong_key_401(server):
    with server.client(key=None) as c:
        assert "missing API key" in err(c.post("/api/search", json={"query": "试用期"}), 401)
    with server.client(key="zk_deadbeef_nope") as c:
        err(c.get("/api/kbs"), 401)
    with server.client(key="garbage") as c:
        err(c.get("/v1/models"), 401)


def test_user_key_cannot_manage_403(server):
    with server.client("user") as c:
        assert "admin" in err(c.post("/api/kbs", json={"name": "x"}), 403)
        err(c.delete("/api/kbs/laws"), 403)


def test_malformed_json_422(server):
    with server.client() as c:
        r = c.post("/api/rag/chat", content=b'{"query": ', headers={"Content-Type": "application/json"})
    assert "JSON" in err(r, 422)


@pytest.mark.parametrize("body, word", [({}, "query"), ({"query": "x", "stream": "maybe"}, "stream"),
                                        ({"query": "x", "top_k": "many"}, "top_k"), ({"query": 5}, "query")])
def test_missing_or_mistyped_fields_422(server, body, word):
    with server.client() as c:
        assert word in err(c.post("/api/rag/chat", json=body), 422)


def test_huge_query_rejected(server):
    with server.client() as c:
        r = c.post("/api/rag/chat", json={"query": "试" * 1_000_000})
    assert r.status_code in (413, 422)
    assert "query" in err(r, r.status_code)


def test_unknown_kb_and_session_404(server):
    with server.client() as c:
        assert "nope" in err(c.post("/api/rag/chat", json={"query": "试用期", "kb": "nope"}), 404)
        assert "session" in err(c.post("/api/rag/chat", json={"query": "试用期", "session_id": "missing"}), 404)
        err(c.post("/api/search", json={"query": "试用期", "kb": "nope"}), 404)
