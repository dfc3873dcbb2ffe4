"""The OpenAI-compatible API with the official `openai` client."""
from __future__ import annotations

import pytest

openai = pytest.importorskip("openai")


@pytest.fixture()
def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key=server.user_key, timeout=120, max_retries=0)


def test_models_lists_kbs(client):
    assert "zhiku/laws" in [m.id for m in client.models.list()]


def test_chat_completion_with_citations(client):
    r = client.chat.completions.create(
        model="zhiku/laws", messages=[{"role": "user", "content": "试用期最长多久？"}], max_tokens=16
    )
    assert r.choices[0].message.content and r.usage.completion_tokens > 0
    assert isinstance(r.model_extra["citations"], list)


def test_chat_completion_stream_ends_with_citations(client):
    chunks = list(client.chat.completions.create(
        model="zhiku/laws", messages=[{"role": "user", "content": "试用期最长多久？"}], max_tokens=16, stream=True
    ))  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.strip()
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and "citations" in last.model_extra


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="zhiku/nope", messages=[{"role": "user", "content": "你好"}])


def test_embeddings(client):
    r = client.embeddings.create(model="zhiku", input=["劳动合同", "试用期"])
    assert len(r.data) == 2 and len(r.data[0].embedding) > 100
