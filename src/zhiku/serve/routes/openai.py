"""OpenAI-compatible API: each KB is a model `zhiku/<kb>`; citations ride in an extra `citations` field."""
from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Literal

import anyio
import numpy as np
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from zhiku.config import LLMSettings
from zhiku.errors import InputError, KBNotFoundError, ZhikuError
from zhiku.generate.base import Sampling
from zhiku.pipeline import DoneEvent, TokenEvent, acollect_answer
from zhiku.serve.auth import KeyInfo
from zhiku.serve.deps import get_state, user
from zhiku.serve.errors import error_of
from zhiku.serve.generation import run_rag
from zhiku.serve.responses import GatedSSE
from zhiku.serve.routes.rag import MAX_QUERY, check_query
from zhiku.serve.state import AppState

router = APIRouter(prefix="/v1", tags=["openai"])
PREFIX = "zhiku/"


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str = Field(max_length=MAX_QUERY)


class ChatCompletionRequest(BaseModel):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)

    def sampling(self, llm: LLMSettings) -> Sampling:
        return Sampling.from_settings(llm).with_overrides(
            max_tokens=self.max_completion_tokens or self.max_tokens, temperature=self.temperature, top_p=self.top_p
        )


class EmbeddingRequest(BaseModel):
    input: str | list[str]
    model: str = ""
    encoding_format: Literal["float", "base64"] = "float"  # the openai client asks for base64 by default


def kb_of(model: str) -> str:
    if not model.startswith(PREFIX) or len(model) == len(PREFIX):
        raise KBNotFoundError(model) if model else InputError("model must be 'zhiku/<knowledge base>'")
    return model[len(PREFIX):]


@router.get("/models")
async def models(state: AppState = Depends(get_state), _key=Depends(user)):
    infos = await anyio.to_thread.run_sync(state.kbs.list)
    data = [{"id": PREFIX + i.name, "object": "model", "created": int(i.created_at), "owned_by": "zhiku"} for i in infos]
    return {"object": "list", "data": data}


@router.post("/chat/completions")
async def chat_completions(
    req: ChatCompletionRequest, state: AppState = Depends(get_state), key: KeyInfo | None = Depends(user)
):
    kb = kb_of(req.model)
    if req.messages[-1].role != "user":
        raise InputError("the last message must have role 'user'")
    question = check_query(state, req.messages[-1].content)
    # earlier turns become the history the pipeline condenses the follow-up with; system prompts are ours
    history = [{"role": m.role, "content": m.content} for m in req.messages[:-1] if m.role in ("user", "assistant")]
    pipe = await state.apipeline(kb)
    ticket = state.gate.admit(key.id if key else None)
    sampling = req.sampling(state.settings.llm)
    events = run_rag(pipe, ticket, state.metrics, question, history or None, sampling=sampling)
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    def usage(a) -> dict:
        p, c = a.usage.get("prompt_tokens", 0), a.usage.get("completion_tokens", 0)
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    if not req.stream:
        try:
            a = await acollect_answer(events)
        finally:
            ticket.close()
        return {
            "id": cid, "object": "chat.completion", "created": created, "model": req.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": a.text}, "finish_reason": "stop"}],
            "usage": usage(a),
            "citations": [c.to_dict() for c in a.citations],
        }  # fmt: skip

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}  # fmt: skip
        return json.dumps(body, ensure_ascii=False)

    async def sse():
        try:
            yield {"data": chunk({"role": "assistant", "content": ""})}
            async for ev in events:
                if isinstance(ev, TokenEvent):
                    yield {"data": chunk({"content": ev.text})}
                elif isinstance(ev, DoneEvent):
                    a = ev.answer
                    yield {"data": chunk({}, "stop", usage=usage(a), citations=[c.to_dict() for c in a.citations])}
            yield {"data": "[DONE]"}
        except ZhikuError as e:
            yield {"data": json.dumps(error_of(e), ensure_ascii=False)}
        finally:
            await events.aclose()

    return GatedSSE(sse(), ticket)


@router.post("/embeddings")
async def embeddings(req: EmbeddingRequest, state: AppState = Depends(get_state), _key=Depends(user)):
    texts = [req.input] if isinstance(req.input, str) else req.input
    if not texts or len(texts) > 2048 or any(len(t) > MAX_QUERY for t in texts):
        raise InputError("input must be 1-2048 strings of at most 100000 characters each")
    from zhiku.index.embedders import get_embedder

    embedder = get_embedder(state.settings.embedder)
    vectors = await anyio.to_thread.run_sync(embedder.embed_documents, texts)
    chars = sum(len(t) for t in texts)

    def encode(v):  # base64 is little-endian float32, as OpenAI sends it
        return base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode() if req.encoding_format == "base64" else v.tolist()

    return {
        "object": "list",
        "model": embedder.name,
        "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)],
        "usage": {"prompt_tokens": chars, "total_tokens": chars},  # characters: the embedders do not expose tokens
    }
