"""GET /api/status (backends, index sizes, metrics summary) and GET /api/kbs/{kb}/chunks/{id} against the real
server; the metrics percentiles and the article assembly on their own."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.serve.conftest import jdata, sse_events


def test_status_reports_backends_indexes_and_metrics(server):
    with server.client(None) as c:
        assert c.get("/api/status").status_code == 401  # data behind the key like every /api route
    with server.client() as c:
        c.post("/api/search", json={"query": "试用期", "top_k": 1})
        with c.stream("POST", "/api/rag/chat", json={"query": "试用期最长多久？", "max_tokens": 8}) as r:
            assert r.status_code == 200
            sse_events(r)
        s = c.get("/api/status").json()
    assert s["generation"]["backend"] == "llama-cpp" and s["generation"]["model"] == "qwen2.5-0.5b"
    assert s["generation"]["loaded"] and s["ready"] and s["auth"]
    assert s["generation"]["sample_top_k"] == 40 and s["retrieval"]["top_k"] >= 1  # one top_k per section
    assert s["embedding"]["backend"] == "use" and s["store"]["backend"] == "local"
    laws = next(i for i in s["indexes"] if i["name"] == "laws")
    assert laws["documents"] == 1 and laws["chunks"] > 50 and laws["disk_bytes"] > 100_000 and laws["dim"] > 0
    m = s["metrics"]
    assert m["requests"] >= 3 and m["requests_by_status"]["2xx"] >= 2 and m["requests_by_status"]["4xx"] >= 1
    for key in ("latency", "retrieval", "ttft"):
        assert m[key]["count"] >= 1, key
        assert 0 < m[key]["p50_ms"] <= m[key]["p95_ms"] and m[key]["mean_ms"] > 0, (key, m[key])
    assert m["queue_depth"] == 0 and m["in_flight"] == 0


def test_chunk_returns_the_cited_article(server):
    with server.client() as c:
        events = sse_events(c.post("/api/rag/chat", json={"query": "试用期最长多久？", "max_tokens": 8}))
        src = next(s for s in jdata(events, "sources")[0] if s["article"] == "第十九条")
        r = c.get(f"/api/kbs/laws/chunks/{quote(src['chunk_id'], safe='')}")  # ids hold '/' and '#'
        assert r.status_code == 200, r.text
        a = r.json()
        assert a["chunk_id"] == src["chunk_id"] and a["title"] == src["title"] and a["ref"] == src["ref"]
        assert a["article_text"].startswith("第十九条") and src["text"] in a["article_text"]
        assert a["meta"]["law"] == "中华人民共和国劳动合同法" and a["part_ids"] == [src["chunk_id"]]
        missing = c.get(f"/api/kbs/laws/chunks/{quote(src['doc_id'] + '#99999', safe='')}")
        assert missing.status_code == 404 and "99999" in missing.json()["error"]["message"]
        assert c.get("/api/kbs/nope/chunks/x%230").status_code == 404


def test_sampling_top_k_reaches_the_model(server):
    with server.client() as c:
        r = c.post("/api/rag/chat", json={"query": "试用期最长多久？", "stream": False, "max_tokens": 8,
                                          "temperature": 1.5, "sample_top_k": 1})
        assert r.status_code == 200, r.text
        greedy = r.json()["answer"]
        again = c.post("/api/rag/chat", json={"query": "试用期最长多久？", "stream": False, "max_tokens": 8,
                                              "temperature": 1.5, "sample_top_k": 1}).json()["answer"]
        assert greedy == again  # top-k 1 is greedy whatever the temperature: the field is really applied
        bad = c.post("/api/rag/chat", json={"query": "x", "sample_top_k": -1})
        assert bad.status_code == 422 and "sample_top_k" in bad.json()["error"]["message"]


LONG_LAW = "# 长条文测试法\n\n第一条 短条文。\n\n第二条 " + "\n".join(
    f"（{n}）" + "长条文的一款内容，用于测试跨分块拼接。" * 30 for n in "一二三四五六") + "\n\n第三条 另一条短条文。\n"


def test_article_parts_joins_a_split_article(kbs, settings, tmp_path):
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.serve.routes.chunks import article_parts

    path = tmp_path / "长条文测试法.md"
    path.write_text(LONG_LAW, encoding="utf-8")
    kbs.create("long")
    kb = kbs.open("long")
    assert Ingestor(kb, settings).ingest([path]).ok
    doc = kb.store.documents()[0]
    hits = kb.store.get_chunks([f"{doc.doc_id}#{i}" for i in range(doc.chunks)])
    second = [h for h in hits if h.meta.get("article") == "第二条"]
    assert len(second) >= 3, [h.meta.get("article") for h in hits]  # really split
    middle = second[len(second) // 2]
    parts = article_parts(kb.store, middle)
    assert [p.chunk_id for p in parts] == [h.chunk_id for h in second]  # all of 第二条, nothing of 第一/三条


@pytest.mark.parametrize("buckets,q,want", [
    ([(0.1, 0), (1.0, 10), (float("inf"), 10)], 0.5, 0.55),  # inside a bucket: linear
    ([(0.1, 5), (1.0, 10), (float("inf"), 10)], 0.5, 0.1),  # exactly at a bound
    ([(0.1, 0), (1.0, 0), (float("inf"), 4)], 0.95, 1.0),  # beyond the last finite bound
    ([(0.1, 0), (float("inf"), 0)], 0.5, None),  # nothing observed
])
def test_histogram_quantile(buckets, q, want):
    from zhiku.serve.metrics import histogram_quantile

    got = histogram_quantile(buckets, q)
    assert got == pytest.approx(want) if want is not None else got is None
