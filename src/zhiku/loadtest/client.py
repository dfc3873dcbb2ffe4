"""HTTP load tester for `zhiku serve`: N concurrent streaming clients for S seconds, one report.

Each client loops: pick the next question, POST it (native /api/rag/chat or OpenAI /v1/chat/completions, both
streaming SSE), read the stream to its end, record the outcome. A 503/429 answer is backpressure: the client
waits the server's Retry-After (as a well-behaved client does) before its next request, so a refusal costs the
server one cheap response instead of a retry storm. No new request starts after the duration; the ones in
flight finish (or time out) and count.

The client shares the machine with the server in a one-box benchmark, so the report includes the client's
own CPU time: subtract it when judging what the server could do alone.
"""
from __future__ import annotations

import asyncio
import json
import math
import resource
import time
from dataclasses import asdict, dataclass, field
from itertools import count
from pathlib import Path

import httpx

# outcome kinds, in report order
KINDS = ("ok", "timeout", "backpressure_503", "backpressure_429", "http_4xx", "http_5xx", "connection", "stream_error")
DEFAULT_QUESTIONS = Path(__file__).resolve().parents[3] / "samples" / "eval" / "load_questions.txt"


@dataclass
class LoadConfig:
    url: str
    concurrency: int = 10
    duration: float = 30.0
    api: str = "native"  # native | openai
    kb: str | None = None  # native: the "kb" field; openai: model zhiku/<kb> (default kb when None)
    key: str | None = None
    timeout: float = 60.0  # per request, connect to last byte
    max_retry_after: float = 10.0  # cap on a server's Retry-After wait
    max_tokens: int | None = None
    mix: dict[str, int] | None = None  # operation -> weight (loadtest/ops.py); None: chat only


@dataclass
class Outcome:
    kind: str
    status: int = 0
    latency: float = 0.0  # seconds, request sent -> stream end
    ttft: float | None = None  # seconds to the first content token
    tokens: int = 0
    retry_after: float = 0.0
    detail: str = ""
    server: dict | None = None  # native API: the server's own timings from the done event (ttft_ms, total_ms)
    op: str = "chat"  # chat | search | upload (loadtest/ops.py)


@dataclass
class Report:
    url: str
    api: str
    concurrency: int
    duration_s: float  # wall time from the first request to the last completion
    requests: int
    ok: int  # completed operations
    req_per_s: float  # completed operations per second (answers, under a chat-only load)
    latency_ms: dict[str, float]  # p50/p90/p99/max of completed answers
    ttft_ms: dict[str, float]
    tokens: int
    tokens_per_s: float  # all clients together
    errors: dict[str, int]  # every non-ok kind, zeros included
    # native API: the same as the server measured them (from retrieval start), without the client's own delays
    server_ttft_ms: dict[str, float] = field(default_factory=dict)
    server_total_ms: dict[str, float] = field(default_factory=dict)
    refused_ms: dict[str, float] = field(default_factory=dict)  # how fast 503/429 answers came back
    error_samples: dict[str, str] = field(default_factory=dict)  # one message per kind
    client_cpu_s: float = 0.0  # this process's CPU time (user + system)
    ops: dict[str, dict] = field(default_factory=dict)  # per operation of a mixed load: requests, ok, latency_ms

    def to_dict(self) -> dict:
        return asdict(self)


def percentiles(values: list[float], scale: float = 1000.0) -> dict[str, float]:
    """p50/p90/p99/max (nearest rank), scaled (seconds -> ms by default); zeros when empty."""
    if not values:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    v = sorted(values)

    def rank(p: float) -> float:
        return v[max(0, math.ceil(p / 100 * len(v)) - 1)]

    return {k: round(rank(p) * scale, 1) for k, p in (("p50", 50), ("p90", 90), ("p99", 99))} | {
        "max": round(v[-1] * scale, 1)}  # fmt: skip


def load_questions(path: Path | None = None) -> list[str]:
    lines = (path or DEFAULT_QUESTIONS).read_text(encoding="utf-8").splitlines()
    qs = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not qs:
        raise ValueError(f"{path}: no questions (one per line, '#' starts a comment)")
    return qs


def _request(cfg: LoadConfig, question: str) -> tuple[str, dict]:
    if cfg.api == "openai":
        body: dict = {"model": f"zhiku/{cfg.kb or 'default'}", "stream": True,
                      "messages": [{"role": "user", "content": question}]}  # fmt: skip
    else:
        body = {"query": question, "stream": True}
        if cfg.kb:
            body["kb"] = cfg.kb
    if cfg.max_tokens:
        body["max_tokens"] = cfg.max_tokens
    return ("/v1/chat/completions" if cfg.api == "openai" else "/api/rag/chat"), body


def _event_text(api: str, block: bytes, out: Outcome) -> tuple[str | None, str | None]:
    """(content text or None, error message or None) of one SSE event block; "" marks the end of the stream.

    A native token event is counted without decoding its JSON: at hundreds of streams the client's parsing
    is CPU the server under test does not get on a shared box."""
    if api == "native" and block.startswith(b"event: token"):
        return "t", None
    event, data = "message", []
    for line in block.decode("utf-8").split("\n"):
        if line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif line.startswith("event:"):
            event = line[6:].strip()
    if not data:  # a comment (ping)
        return None, None
    body = "\n".join(data)
    if api == "native":
        if event == "error":
            return None, body
        if event == "done":
            out.server = json.loads(body)
            return "", None
        return None, None
    if body == "[DONE]":
        return "", None
    obj = json.loads(body)
    if obj.get("error"):
        return None, body
    choices = obj.get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content") or None, None


async def _read_stream(r: httpx.Response, api: str, t0: float) -> Outcome:
    out, buf, ended = Outcome("stream_error", r.status_code), b"", False
    async for chunk in r.aiter_raw():  # SSE is never compressed: raw bytes, split on the blank line
        buf = (buf + chunk).replace(b"\r\n", b"\n")  # sse-starlette ends lines with CRLF; one may span chunks
        *blocks, buf = buf.split(b"\n\n")
        for block in blocks:
            text, error = _event_text(api, block, out)
            if error is not None:
                out.detail = error[:200]
                break
            if text == "":
                ended = True
            elif text:
                out.tokens += 1
                if out.ttft is None:
                    out.ttft = time.perf_counter() - t0
        if out.detail:
            break
    out.latency = time.perf_counter() - t0
    if ended:
        out.kind = "ok"
    elif not out.detail:
        out.detail = "stream ended without a done event"
    return out


def classify_status(r: httpx.Response, body: bytes, max_wait: float) -> Outcome:
    status = r.status_code
    kind = {503: "backpressure_503", 429: "backpressure_429"}.get(status) or ("http_4xx" if status < 500 else "http_5xx")
    try:
        wait = float(r.headers.get("retry-after", 0))
    except ValueError:
        wait = 0.0
    return Outcome(kind, status, retry_after=min(wait, max_wait), detail=body.decode("utf-8", "replace")[:200])


async def one_request(client: httpx.AsyncClient, cfg: LoadConfig, question: str) -> Outcome:
    path, body = _request(cfg, question)
    t0 = time.perf_counter()
    try:
        async with client.stream("POST", path, json=body) as r:
            if r.status_code != 200:
                out = classify_status(r, await r.aread(), cfg.max_retry_after)
            else:
                out = await _read_stream(r, cfg.api, t0)
    except httpx.TimeoutException as e:
        out = Outcome("timeout", detail=type(e).__name__)
    except (httpx.TransportError, httpx.StreamError) as e:  # refused, reset, closed mid-stream
        out = Outcome("connection", detail=f"{type(e).__name__}: {e}"[:200])
    if not out.latency:
        out.latency = time.perf_counter() - t0
    return out


async def run_load(cfg: LoadConfig, questions: list[str]) -> Report:
    from zhiku.loadtest.ops import one_search, one_upload, schedule

    outcomes: list[Outcome] = []
    picks, ops = count(), count()
    run_op = {"chat": one_request, "search": one_search, "upload": one_upload}
    rounds = schedule(cfg.mix or {"chat": 1})
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    stop = t0 + cfg.duration

    async def worker(n: int) -> None:
        # one client (one keep-alive connection) per simulated user, as real users have: a shared httpx pool
        # scans all its connections on every request, which at 400 connections ate the client's CPU
        async with _client(cfg) as client:
            while time.perf_counter() < stop:
                op = rounds[next(ops) % len(rounds)]
                out = await run_op[op](client, cfg, questions[next(picks) % len(questions)])
                outcomes.append(out)
                if out.retry_after:  # plus jitter, so refused clients do not come back in one burst
                    wait = out.retry_after * (1 + 0.5 * ((n * 7919) % 101) / 100)
                    await asyncio.sleep(min(wait, max(0.0, stop - time.perf_counter())))

    await asyncio.gather(*(worker(n) for n in range(cfg.concurrency)))
    wall = time.perf_counter() - t0
    return summarize(cfg, outcomes, wall, _cpu_seconds() - cpu0)


def _client(cfg: LoadConfig) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {cfg.key}"} if cfg.key else {}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(base_url=cfg.url.rstrip("/"), headers=headers, limits=limits,
                             timeout=httpx.Timeout(cfg.timeout))  # fmt: skip


def summarize(cfg: LoadConfig, outcomes: list[Outcome], wall: float, cpu: float) -> Report:
    """Errors and req/s over every operation; latency, TTFT and tokens over chat answers."""
    done = [o for o in outcomes if o.kind == "ok"]
    ok = [o for o in done if o.op == "chat"]
    tokens = sum(o.tokens for o in ok)
    samples: dict[str, str] = {}
    for o in outcomes:
        if o.kind != "ok" and o.detail:
            samples.setdefault(o.kind, o.detail)
    return Report(
        url=cfg.url, api=cfg.api, concurrency=cfg.concurrency, duration_s=round(wall, 2),
        requests=len(outcomes), ok=len(done), req_per_s=round(len(done) / wall, 2) if wall else 0.0,
        latency_ms=percentiles([o.latency for o in ok]),
        ttft_ms=percentiles([o.ttft for o in ok if o.ttft is not None]),
        tokens=tokens, tokens_per_s=round(tokens / wall, 1) if wall else 0.0,
        errors={k: sum(o.kind == k for o in outcomes) for k in KINDS[1:]},
        server_ttft_ms=percentiles([o.server["ttft_ms"] for o in ok if o.server], scale=1.0),
        server_total_ms=percentiles([o.server["total_ms"] for o in ok if o.server], scale=1.0),
        refused_ms=percentiles([o.latency for o in outcomes if o.kind.startswith("backpressure")]),
        error_samples=samples, client_cpu_s=round(cpu, 2),
        ops={op: {"requests": sum(o.op == op for o in outcomes), "ok": sum(o.op == op for o in done),
                  "latency_ms": percentiles([o.latency for o in done if o.op == op])}
             for op in sorted({o.op for o in outcomes})} if cfg.mix else {},
    )  # fmt: skip


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def report_table(r: Report):
    """The report as a rich table (CLI and bench scripts print the same one)."""
    from rich.table import Table

    t = Table(title=f"{r.api} API, {r.concurrency} clients, {r.duration_s:g} s: {r.url}", show_header=True)
    t.add_column("metric")
    for col in ("p50", "p90", "p99", "max"):
        t.add_column(col, justify="right")
    t.add_row("latency ms", *(f"{r.latency_ms[c]:.0f}" for c in ("p50", "p90", "p99", "max")))
    t.add_row("TTFT ms", *(f"{r.ttft_ms[c]:.0f}" for c in ("p50", "p90", "p99", "max")))
    if r.server_total_ms.get("max"):
        t.add_row("server: total ms", *(f"{r.server_total_ms[c]:.0f}" for c in ("p50", "p90", "p99", "max")))
        t.add_row("server: TTFT ms", *(f"{r.server_ttft_ms[c]:.0f}" for c in ("p50", "p90", "p99", "max")))
    if r.refused_ms["max"]:
        t.add_row("503/429 answer ms", *(f"{r.refused_ms[c]:.0f}" for c in ("p50", "p90", "p99", "max")))
    t.add_section()
    for op, o in r.ops.items():
        t.add_row(f"{op} ms ({o['ok']}/{o['requests']} ok)", *(f"{o['latency_ms'][c]:.0f}" for c in ("p50", "p90", "p99", "max")))
    t.add_row("answers / requests", f"{r.ok} / {r.requests}", "", "", "")
    t.add_row("req/s (completed)", f"{r.req_per_s:.2f}", "", "", "")
    t.add_row("tokens/s (all clients)", f"{r.tokens_per_s:.0f}", "", "", "")
    t.add_row("client CPU s", f"{r.client_cpu_s:.1f}", "", "", "")
    t.add_section()
    for kind, n in r.errors.items():
        t.add_row(kind, str(n), "", "", "", style="red" if n and not kind.startswith("backpressure") else None)
    return t
