"""The OpenAI-compatible backend against a real llama_cpp.server process (0.5B) on loopback, plus the SSE
parsing edge cases against httpx.MockTransport."""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from zhiku.loadtest.process import free_port
from zhiku.config import LLMSettings
from zhiku.errors import BackendError, ConfigError
from zhiku.generate import get_llm
from zhiku.generate.base import LLM, Sampling, Usage
from zhiku.generate.openai_compat import OpenAICompatLLM, _error_message, normalize_base_url

from .conftest import SMALL

QUICK = Sampling(max_tokens=16, temperature=0.0)
MSGS = [{"role": "system", "content": "你是助手。"}, {"role": "user", "content": "用一句话介绍北京。"}]


# ---------------------------------------------------------------- real server


def test_stream_and_usage(llama_server):
    llm = OpenAICompatLLM(llama_server, SMALL)
    assert isinstance(llm, LLM) and llm.name == f"openai:{SMALL}"
    usage = Usage()
    parts = list(llm.stream(MSGS, QUICK, usage))
    assert len(parts) >= 2 and "".join(parts).strip()
    # llama_cpp.server ignores stream_options: completion tokens are the counted chunks
    assert 1 <= usage.completion_tokens <= QUICK.max_tokens
    assert llm._include_usage  # it ignored the field rather than rejecting it


def test_complete(llama_server):
    llm = OpenAICompatLLM(llama_server, SMALL)
    out = llm.complete([{"role": "system", "content": "只回答数字。"}, {"role": "user", "content": "1+1等于几？"}], QUICK)
    assert "2" in out


def test_models_health_check(llama_server):
    assert SMALL in OpenAICompatLLM(llama_server, SMALL).models()


def test_astream_and_early_close(llama_server):
    llm = OpenAICompatLLM(llama_server, SMALL)

    async def run():
        usage = Usage()
        parts = [d async for d in llm.astream(MSGS, QUICK, usage)]
        agen = llm.astream([{"role": "user", "content": "从1数到300。"}], Sampling(max_tokens=300), Usage())
        async for _ in agen:
            break
        await agen.aclose()
        # the same instance keeps working after an abandoned stream
        again = [d async for d in llm.astream(MSGS, QUICK)]
        await llm.aclose()
        return parts, usage, again

    parts, usage, again = asyncio.run(run())
    assert "".join(parts).strip() and usage.completion_tokens >= 1 and "".join(again).strip()
    # and a second event loop gets its own client
    assert "".join(asyncio.run(_collect(llm.astream(MSGS, QUICK)))).strip()


async def _collect(agen):
    return [d async for d in agen]


def test_http_4xx_is_backend_error_with_server_message(llama_server):
    root = llama_server.removesuffix("/v1")
    llm = OpenAICompatLLM(f"{root}/wrong/v1", SMALL)  # a common misconfiguration
    with pytest.raises(BackendError) as e:
        list(llm.stream(MSGS, QUICK))
    assert str(e.value) == f"LLM server {root}/wrong/v1: HTTP 404: Not Found"

    async def run():
        with pytest.raises(BackendError, match="HTTP 404: Not Found"):
            await _collect(llm.astream(MSGS, QUICK))

    asyncio.run(run())


def test_server_validation_error_carries_its_message(llama_server):
    llm = OpenAICompatLLM(llama_server, SMALL)
    with pytest.raises(BackendError) as e:  # llama_cpp.server answers validation errors with 500
        list(llm.stream([{"role": "wizard", "content": "hi"}], QUICK))
    assert str(e.value).startswith(f"LLM server {llama_server}: HTTP ") and "validation" in str(e.value)


def test_stream_that_dies_silently_is_backend_error(llama_server):
    # llama_cpp.server answers a streamed over-long prompt with 200 and an empty body
    llm = OpenAICompatLLM(llama_server, SMALL)
    with pytest.raises(BackendError, match="without a response"):
        list(llm.stream([{"role": "user", "content": "法" * 3000}], QUICK))


def test_get_llm_openai_backend(llama_server):
    s = LLMSettings(backend="openai", base_url=llama_server, model=SMALL)
    llm = get_llm(s, None)
    assert isinstance(llm, OpenAICompatLLM) and llm is get_llm(s, None)
    assert llm.complete(MSGS, QUICK)


# ---------------------------------------------------------------- no server


def test_dead_port_is_backend_error():
    base = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAICompatLLM(base, "m", timeout=5)
    with pytest.raises(BackendError) as e:
        list(llm.stream(MSGS, QUICK))
    assert str(e.value).startswith(f"LLM server {base}: cannot connect")
    assert e.value.http_status == 502

    async def run():
        with pytest.raises(BackendError, match="cannot connect"):
            await _collect(llm.astream(MSGS, QUICK))

    asyncio.run(run())


def test_config_errors():
    with pytest.raises(ConfigError, match="base_url"):
        OpenAICompatLLM("", "m")
    with pytest.raises(ConfigError, match="model"):
        OpenAICompatLLM("http://127.0.0.1:1/v1", "")


def test_normalize_base_url():
    assert normalize_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalize_base_url("http://localhost:11434") == "http://localhost:11434/v1"
    assert normalize_base_url("localhost:11434/") == "http://localhost:11434/v1"
    assert normalize_base_url("https://x.example/api/openai/v1") == "https://x.example/api/openai/v1"


def test_error_message_styles():
    assert _error_message(b'{"error": {"message": "model not found", "type": "x"}}') == "model not found"
    assert _error_message(b'{"error": "model \\"x\\" not found"}') == 'model "x" not found'
    fastapi = {"detail": [{"loc": ["body", "messages", 0, "role"], "msg": "Input should be 'user'"}]}
    assert _error_message(json.dumps(fastapi).encode()) == "messages.0.role: Input should be 'user'"
    assert _error_message(b"Bad Gateway") == "Bad Gateway"


def sse(*events: object) -> bytes:
    out = [": keep-alive\n\n"]
    for e in events:
        out.append(f"data: {e if isinstance(e, str) else json.dumps(e)}\r\n\r\n")
    return "".join(out).encode()


def chunk(text: str | None = None, usage: dict | None = None) -> dict:
    choices = [] if text is None else [{"index": 0, "delta": {"content": text}}]
    c: dict = {"object": "chat.completion.chunk", "choices": choices}
    if usage:
        c["usage"] = usage
    return c


def mocked(handler) -> OpenAICompatLLM:
    llm = OpenAICompatLLM("http://mock/v1", "m")
    llm._client = httpx.Client(transport=httpx.MockTransport(handler))
    return llm


def test_usage_from_final_chunk_and_request_fields():
    bodies = []

    def handler(req: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(req.content))
        stream = sse(
            {"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
            chunk("你"), chunk("好"),
            chunk(None, {"prompt_tokens": 21, "completion_tokens": 3}),
            "[DONE]",
        )  # fmt: skip
        return httpx.Response(200, content=stream, headers={"content-type": "text/event-stream"})

    llm = mocked(handler)
    usage = Usage()
    sampling = Sampling(max_tokens=7, temperature=0.2, top_p=0.8, top_k=5, stop=["。"])
    assert list(llm.stream(MSGS, sampling, usage)) == ["你", "好"]
    assert (usage.prompt_tokens, usage.completion_tokens) == (21, 3)
    b = bodies[0]
    assert b["stream"] is True and b["model"] == "m" and b["messages"] == MSGS
    assert (b["max_tokens"], b["temperature"], b["top_p"], b["top_k"], b["stop"]) == (7, 0.2, 0.8, 5, ["。"])
    assert b["stream_options"] == {"include_usage": True}
    assert "repetition_penalty" not in b and "repeat_penalty" not in b  # 1 = off: nothing a server could reject


def test_repetition_penalty_goes_under_both_names_servers_read():
    bodies = []

    def handler(req: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(req.content))
        return httpx.Response(200, content=sse(chunk("好"), "[DONE]"))

    assert "".join(mocked(handler).stream(MSGS, Sampling(max_tokens=4, repetition_penalty=1.2))) == "好"
    assert (bodies[0]["repetition_penalty"], bodies[0]["repeat_penalty"]) == (1.2, 1.2)


def test_server_rejecting_stream_options_is_retried_without():
    bodies = []

    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        bodies.append(body)
        if "stream_options" in body:
            return httpx.Response(400, json={"error": {"message": "Unrecognized request argument: stream_options"}})
        return httpx.Response(200, content=sse(chunk("好"), chunk("的"), "[DONE]"))

    llm = mocked(handler)
    usage = Usage()
    assert "".join(llm.stream(MSGS, QUICK, usage)) == "好的"
    assert usage.completion_tokens == 2 and len(bodies) == 2 and not llm._include_usage
    assert "".join(llm.stream(MSGS, QUICK)) == "好的" and len(bodies) == 3  # remembered


def test_error_inside_stream_is_backend_error():
    def handler(req):
        return httpx.Response(200, content=sse(chunk("半"), {"error": {"message": "CUDA out of memory"}}))

    it = mocked(handler).stream(MSGS, QUICK)
    assert next(it) == "半"
    with pytest.raises(BackendError, match="CUDA out of memory"):
        next(it)


def test_5xx_is_backend_error():
    llm = mocked(lambda req: httpx.Response(503, json={"detail": "model is loading"}))
    with pytest.raises(BackendError, match=r"HTTP 503: model is loading"):
        llm.complete(MSGS, QUICK)


def test_truncated_stream_is_backend_error():
    llm = mocked(lambda req: httpx.Response(200, content=sse(chunk("半"))))
    it = llm.stream(MSGS, QUICK)
    assert next(it) == "半"
    with pytest.raises(BackendError, match="after a partial answer"):
        next(it)


def test_finish_reason_without_done_is_complete():
    end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    llm = mocked(lambda req: httpx.Response(200, content=sse(chunk("好"), end)))
    assert llm.complete(MSGS, QUICK) == "好"
