"""The stand-in upstream speaks the OpenAI protocol well enough for zhiku's own client, at the configured pace."""
from __future__ import annotations

import time

import httpx

from tests.loadtest.conftest import STANDIN
from zhiku.generate.base import Sampling, Usage
from zhiku.generate.openai_compat import OpenAICompatLLM


def test_stream_paced_and_parsed_by_zhiku_client(standin):
    _, base = standin
    llm = OpenAICompatLLM(f"{base}/v1", "standin", timeout=10)
    usage = Usage()
    t0 = time.perf_counter()
    pieces = list(llm.stream([{"role": "user", "content": "试用期？"}], Sampling(max_tokens=512), usage))
    seconds = time.perf_counter() - t0
    assert len(pieces) == STANDIN.tokens and "".join(pieces).startswith("根据《劳动合同法》")
    assert usage.completion_tokens == STANDIN.tokens  # from the final usage chunk
    assert STANDIN.answer_seconds * 0.9 <= seconds < STANDIN.answer_seconds + 1.0
    assert llm.models() == ["standin"]


def test_non_stream_and_max_tokens(standin):
    _, base = standin
    r = httpx.post(f"{base}/v1/chat/completions", json={"model": "standin", "max_tokens": 3, "messages": []}, timeout=10)
    body = r.json()
    assert r.status_code == 200 and body["usage"]["completion_tokens"] == 3
    assert body["choices"][0]["message"]["content"] == "根据《劳动"
    assert httpx.post(f"{base}/v1/chat/completions", content=b"{not json", timeout=10).status_code == 400
    assert httpx.get(f"{base}/v1/nothing", timeout=10).status_code == 404
