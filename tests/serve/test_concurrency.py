"""Backpressure (full queue -> 503 + Retry-After at once) and client disconnect freeing the generation slot."""
from __future__ import annotations

import asyncio
import time

import httpx

from tests.serve.conftest import wait_idle


def test_full_queue_answers_503_fast(server):
    wait_idle(server, 60)

    async def one(c: httpx.AsyncClient):
        t0 = time.monotonic()
        async with c.stream("POST", "/api/rag/chat", json={"query": "试用期最长多久？", "max_tokens": 8}) as r:
            status, retry = r.status_code, r.headers.get("retry-after")
            body = await r.aread()
        return status, retry, time.monotonic() - t0, body

    async def burst():
        headers = {"Authorization": f"Bearer {server.user_key}"}
        async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=120) as c:
            return await asyncio.gather(*(one(c) for _ in range(4)))

    results = asyncio.run(burst())  # max_queue=1: one runs, one waits, the rest are refused
    refused = [r for r in results if r[0] == 503]
    assert refused and len([r for r in results if r[0] == 200]) >= 1, [r[:3] for r in results]
    for status, retry, seconds, body in refused:
        assert retry == "3" and seconds < 5 and b"busy" in body
    wait_idle(server, 60)


def test_disconnect_cancels_generation(server):
    wait_idle(server, 60)
    with server.client() as c, c.stream(
        "POST", "/api/rag/chat", json={"query": "试用期最长多久？请详细说明。", "max_tokens": 1000}
    ) as r:
        for line in r.iter_lines():
            if line.startswith("event: token"):
                break  # first token arrived: now hang up mid-generation
    freed = wait_idle(server, 10)
    assert freed < 5, f"slot held {freed:.1f}s after the client left"
    llm_lock = server.app.state.zhiku.llm._lock  # held by llama.cpp for a generation's whole duration
    t0 = time.monotonic()
    while llm_lock.locked() and time.monotonic() - t0 < 5:
        time.sleep(0.05)
    assert not llm_lock.locked(), "llama.cpp still generating 5 s after the client left"
    with server.client() as c:  # and the server still answers
        r = c.post("/api/rag/chat", json={"query": "试用期最长多久？", "stream": False, "max_tokens": 8})
    assert r.status_code == 200


def test_shutdown_drains_running_stream(server):
    """A second app on the same home: stopping it lets the answer in flight finish instead of cutting it."""
    from tests.serve.conftest import sse_events, start_server
    from zhiku.config import ServerSettings, Settings
    from zhiku.serve.app import create_app

    s = Settings(home=server.home, default_kb="laws", server=ServerSettings(auth="off", drain_seconds=90))
    srv, thread, base = start_server(create_app(s), timeout_graceful_shutdown=90)
    with httpx.Client(base_url=base, timeout=120) as c, c.stream(
        "POST", "/api/rag/chat", json={"query": "试用期最长多久？", "max_tokens": 16}
    ) as r:
        lines = r.iter_lines()
        for line in lines:
            if line.startswith("event: token"):
                break
        srv.should_exit = True  # what SIGTERM does
        rest = list(lines)
    assert "event: done" in rest, rest[-5:]
    thread.join(30)
    assert not thread.is_alive()
