"""Native RAG API against the real server: SSE chat, JSON chat with a persisted session, search."""
from __future__ import annotations

from tests.serve.conftest import jdata, sse_events

Q = "试用期最长多久？"


def test_chat_streams_tokens_citations_done(server):
    with server.client() as c, c.stream("POST", "/api/rag/chat", json={"query": Q, "max_tokens": 24}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    names = [e for e, _ in events]
    assert names[0] == "sources" and names[-2:] == ["citations", "done"]
    tokens = jdata(events, "token")
    assert len(tokens) > 3 and all(isinstance(t["text"], str) for t in tokens)
    sources = jdata(events, "sources")[0]
    assert any(s["law"] == "中华人民共和国劳动合同法" and s["article"] == "第十九条" for s in sources)
    for cite in jdata(events, "citations")[0]:
        assert {"n", "law", "article", "doc_id", "chunk_id", "text", "score"} <= cite.keys()
    done = jdata(events, "done")[0]
    assert done["completion_tokens"] > 0 and done["prompt_tokens"] > 0
    assert done["retrieval_ms"] > 0 and done["ttft_ms"] > 0 and done["total_ms"] >= done["ttft_ms"]


def test_chat_json_with_session_persists(server):
    from zhiku.serve.sessions import SessionStore

    with server.client() as c:
        sid = c.post("/api/sessions", json={}).json()["id"]
        r = c.post("/api/rag/chat", json={"query": Q, "stream": False, "session_id": sid, "max_tokens": 32})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["answer"] and body["session_id"] == sid and body["kb"] == "laws" and body["grounded"]
        got = c.get(f"/api/sessions/{sid}").json()
        assert [t["question"] for t in got["turns"]] == [Q] and got["turns"][0]["answer"] == body["answer"]
        assert sid in [s["id"] for s in c.get("/api/sessions").json()["sessions"]]
    store = SessionStore(server.home)  # what a restarted server would read
    assert store.history(sid)[0] == {"role": "user", "content": Q}
    store.close()
    with server.client() as c:
        assert c.delete(f"/api/sessions/{sid}").status_code == 200
        assert c.get(f"/api/sessions/{sid}").status_code == 404


def test_search_returns_hits_only(server):
    with server.client() as c:
        r = c.post("/api/search", json={"query": "试用期", "top_k": 3})
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert 1 <= len(hits) <= 3 and all("chunk_id" in h and "score" in h for h in hits)
