"""The non-chat operations of a mixed load (`zhiku bench serve --mix`): search, and an upload that is polled to
its end and then deleted again, so a long soak keeps the knowledge base the size it started at.

Each returns an `Outcome` like a chat request does; `kind` "ok" only when every step of the operation succeeded.
"""
from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from zhiku.loadtest.client import LoadConfig, Outcome, classify_status

OPS = ("chat", "search", "upload")
JOB_POLL_S = 0.2


def parse_mix(spec: str) -> dict[str, int]:
    """'chat=6,search=3,upload=1' -> weights; ValueError naming the bad part."""
    mix: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        op, _, w = part.partition("=")
        if op not in OPS:
            raise ValueError(f"--mix: unknown operation {op!r} (one of {', '.join(OPS)})")
        try:
            mix[op] = int(w or 1)
        except ValueError:
            raise ValueError(f"--mix: weight of {op!r} must be an integer, got {w!r}") from None
        if mix[op] < 0:
            raise ValueError(f"--mix: weight of {op!r} must be >= 0")
    if not any(mix.values()):
        raise ValueError(f"--mix: no operation with a positive weight in {spec!r}")
    return mix


def schedule(mix: dict[str, int]) -> list[str]:
    """One round of operations, interleaved (chat, search, chat, upload, ...) rather than in blocks."""
    slots = [(i / w, op) for op, w in mix.items() for i in range(w)]
    return [op for _, op in sorted(slots)]


def _kb(cfg: LoadConfig) -> str:
    return cfg.kb or "default"


async def one_search(client: httpx.AsyncClient, cfg: LoadConfig, question: str) -> Outcome:
    body: dict = {"query": question, "top_k": 5}
    if cfg.kb:
        body["kb"] = cfg.kb
    return await _steps(client, cfg, "search", [("POST", "/api/search", {"json": body})])


async def one_upload(client: httpx.AsyncClient, cfg: LoadConfig, question: str) -> Outcome:
    """Upload a small text file, wait for its ingest job, find the document and delete it."""
    tag = uuid.uuid4().hex[:12]
    name = f"soak-{tag}.txt"
    text = f"负载测试文档 {tag}。{question}\n本文件由 zhiku bench serve 上传，随后删除。\n"
    t0 = time.perf_counter()
    try:
        r = await client.post(f"/api/kbs/{_kb(cfg)}/documents", files={"files": (name, text.encode(), "text/plain")})
        if r.status_code != 202:
            return _done(classify_status(r, r.content, cfg.max_retry_after), t0, "upload")
        job = r.json()
        while job["state"] in ("queued", "running"):
            await asyncio.sleep(JOB_POLL_S)
            r = await client.get(f"/api/jobs/{job['id']}")
            if r.status_code != 200:
                return _done(classify_status(r, r.content, cfg.max_retry_after), t0, "upload")
            job = r.json()
        if job["state"] != "done" or not job["report"].get("added"):
            return _done(Outcome("http_5xx", 200, detail=f"upload job {job['state']}: {job.get('error') or job['report']}"[:200]), t0, "upload")
        r = await client.get(f"/api/kbs/{_kb(cfg)}/documents")
        if r.status_code != 200:
            return _done(classify_status(r, r.content, cfg.max_retry_after), t0, "upload")
        ids = [d["doc_id"] for d in r.json()["documents"] if tag in d["doc_id"] or tag in (d.get("source") or "")]
        if not ids:
            return _done(Outcome("http_5xx", 200, detail=f"{name}: ingested but not listed"), t0, "upload")
        return await _steps(client, cfg, "upload",
                            [("DELETE", f"/api/kbs/{_kb(cfg)}/documents/{i}", {}) for i in ids], t0=t0)  # fmt: skip
    except httpx.TimeoutException as e:
        return _done(Outcome("timeout", detail=type(e).__name__), t0, "upload")
    except (httpx.TransportError, httpx.StreamError) as e:
        return _done(Outcome("connection", detail=f"{type(e).__name__}: {e}"[:200]), t0, "upload")


async def _steps(client: httpx.AsyncClient, cfg: LoadConfig, op: str, steps: list, t0: float | None = None) -> Outcome:
    t0 = time.perf_counter() if t0 is None else t0
    try:
        for method, path, kw in steps:
            r = await client.request(method, path, **kw)
            if r.status_code >= 300:
                return _done(classify_status(r, r.content, cfg.max_retry_after), t0, op)
    except httpx.TimeoutException as e:
        return _done(Outcome("timeout", detail=type(e).__name__), t0, op)
    except (httpx.TransportError, httpx.StreamError) as e:
        return _done(Outcome("connection", detail=f"{type(e).__name__}: {e}"[:200]), t0, op)
    return _done(Outcome("ok", 200), t0, op)


def _done(out: Outcome, t0: float, op: str) -> Outcome:
    out.op, out.latency = op, time.perf_counter() - t0
    return out
