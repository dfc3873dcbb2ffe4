"""A stand-in OpenAI-compatible LLM server for benchmarks: fixed latency, then N tokens at a fixed rate.

It lets a load test measure zhiku's own cost (retrieval, prompt, SSE relay) apart from any model: every
answer takes exactly `latency + tokens / rate` seconds upstream, so what a client sees beyond that is RAG-layer
overhead. A raw ASGI app (no framework) with pre-encoded chunks keeps its own CPU small, because it shares the
machine with the server under test. Benchmark fixture only: it ignores the prompt.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

# Cycled to make the answer text: short pieces, like the tokens of a Chinese legal answer.
_PIECES = ("根据", "《", "劳动", "合同", "法", "》", "第十九", "条", "[1]", "，", "试用", "期", "最长", "不得",
           "超过", "六个", "月", "。", "用人", "单位", "应当", "依法", "支付", "工资", "；", "如有", "争议",
           "，", "可以", "申请", "劳动", "仲裁", "。")  # fmt: skip


@dataclass
class StandinConfig:
    tokens: int = 50  # tokens per answer
    rate: float = 50.0  # tokens per second
    latency: float = 0.0  # seconds before the first token
    model: str = "standin"

    @property
    def answer_seconds(self) -> float:
        """Upstream time of one answer: what a load test subtracts to get zhiku's overhead."""
        return self.latency + self.tokens / self.rate


def _text(i: int) -> str:
    return _PIECES[i % len(_PIECES)]


class StandinApp:
    """ASGI app: POST /v1/chat/completions (stream or not), GET /v1/models, GET /health."""

    def __init__(self, config: StandinConfig):
        self.config = config
        self.requests = 0  # answers started, for a test or a bench to cross-check the client's count

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        path, method = scope["path"].rstrip("/"), scope["method"]
        if method == "GET" and path in ("/v1/models", "/models"):
            body = {"object": "list", "data": [{"id": self.config.model, "object": "model", "owned_by": "standin"}]}
            return await _json(send, 200, body)
        if method == "GET" and path == "/health":
            return await _json(send, 200, {"status": "ok"})
        if method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            try:
                req = json.loads(await _body(receive) or b"{}")
            except ValueError:
                return await _json(send, 400, {"error": {"message": "malformed JSON body"}})
            self.requests += 1
            if req.get("stream"):
                return await self._stream(send, req)
            return await self._complete(send, req)
        return await _json(send, 404, {"error": {"message": f"no route {method} {path}"}})

    def _tokens(self, req: dict) -> int:
        asked = req.get("max_tokens")
        return min(self.config.tokens, asked) if isinstance(asked, int) and asked > 0 else self.config.tokens

    async def _stream(self, send, req: dict) -> None:
        c, n, t0 = self.config, self._tokens(req), time.monotonic()
        head = f'data: {{"id":"standin-{self.requests}","object":"chat.completion.chunk","model":"{c.model}","choices":[{{"index":0,"delta":'
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})  # fmt: skip
        for i in range(n):
            # an absolute schedule: the answer takes latency + n/rate however late a wake-up was
            delay = t0 + c.latency + (i + 1) / c.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            piece = json.dumps({"content": _text(i)}, ensure_ascii=False)
            await send({"type": "http.response.body", "body": f'{head}{piece},"finish_reason":null}}]}}\n\n'.encode(),
                        "more_body": True})  # fmt: skip
        tail = f'{head}{{}},"finish_reason":"stop"}}]}}\n\n'
        if (req.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 0, "completion_tokens": n, "total_tokens": n}
            tail += f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n"
        await send({"type": "http.response.body", "body": (tail + "data: [DONE]\n\n").encode()})

    async def _complete(self, send, req: dict) -> None:
        n = self._tokens(req)
        await asyncio.sleep(self.config.latency + n / self.config.rate)
        text = "".join(_text(i) for i in range(n))
        await _json(send, 200, {
            "id": f"standin-{self.requests}", "object": "chat.completion", "created": int(time.time()),
            "model": self.config.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": n, "total_tokens": n},
        })  # fmt: skip

    @staticmethod
    async def _lifespan(receive, send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _body(receive) -> bytes:
    parts = []
    while True:
        msg = await receive()
        parts.append(msg.get("body", b""))
        if not msg.get("more_body"):
            return b"".join(parts)


async def _json(send, status: int, obj: dict) -> None:
    body = json.dumps(obj, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
