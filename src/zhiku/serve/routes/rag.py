"""Native API: POST /api/rag/chat (SSE or JSON) and POST /api/search."""
from __future__ import annotations

import json
from typing import Literal

import anyio
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from zhiku.config import LLMSettings
from zhiku.errors import InputError, ZhikuError
from zhiku.generate.base import Sampling
from zhiku.index.base import Filters
from zhiku.pipeline import DoneEvent, SourcesEvent, TokenEvent, acollect_answer
from zhiku.serve.auth import KeyInfo
from zhiku.serve.deps import get_state, user, viewer
from zhiku.serve.errors import error_of
from zhiku.serve.generation import run_rag
from zhiku.serve.responses import GatedSSE
from zhiku.serve.state import AppState
from zhiku.types import Answer

router = APIRouter(tags=["rag"])
# a hard cap on any query field; the configurable, usually smaller server.max_query_chars is checked after
MAX_QUERY = 100_000


class SamplingFields(BaseModel):
    max_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    sample_top_k: int | None = Field(None, ge=0, le=1000)  # the LLM's top-k sampling; `top_k` is retrieval's

    def sampling(self, llm: LLMSettings) -> Sampling:
        return Sampling.from_settings(llm).with_overrides(
            max_tokens=self.max_tokens, temperature=self.temperature, top_p=self.top_p, top_k=self.sample_top_k
        )


class ChatRequest(SamplingFields):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=MAX_QUERY)
    kb: str | None = None
    session_id: str | None = None
    stream: bool = True
    top_k: int | None = Field(None, ge=1, le=20)
    laws: list[str] = Field(default_factory=list)
    rerank: bool | None = None  # None: the KB's configured default


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=MAX_QUERY)
    kb: str | None = None
    top_k: int = Field(10, ge=1, le=100)
    mode: Literal["hybrid", "bm25", "dense"] = "hybrid"
    laws: list[str] = Field(default_factory=list)
    rerank: bool | None = None


def check_query(state: AppState, query: str) -> str:
    if not query.strip():
        raise InputError("query is empty")
    if len(query) > state.settings.server.max_query_chars:
        raise InputError(f"query too long: {len(query)} characters, at most {state.settings.server.max_query_chars}")
    return query


def done_payload(ev: DoneEvent, session_id: str | None) -> dict:
    a = ev.answer
    return {
        "prompt_tokens": a.usage.get("prompt_tokens", 0),
        "completion_tokens": a.usage.get("completion_tokens", 0),
        "retrieval_ms": round(a.timings.get("retrieval_ms", 0.0), 1),
        "ttft_ms": round(a.timings.get("ttft_ms", 0.0), 1),
        "total_ms": round(a.timings.get("total_ms", 0.0), 1),
        "grounded": a.grounded,
        "question": a.question,
        "session_id": session_id,
    }


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


@router.post("/api/rag/chat")
async def chat(req: ChatRequest, state: AppState = Depends(get_state), key: KeyInfo | None = Depends(user)):
    check_query(state, req.query)
    kb = req.kb or state.settings.default_kb
    history = None
    if req.session_id:
        session = await anyio.to_thread.run_sync(state.sessions.get, req.session_id, viewer(key))  # 404 if not ours
        kb = req.kb or session["kb"]
        history = await anyio.to_thread.run_sync(state.sessions.history, req.session_id)
    pipe = await state.apipeline(kb)  # 404 for an unknown KB, before any queueing
    ticket = state.gate.admit(key.id if key else None)  # 503 now when the queue is full, 429 over the key limit
    filters = Filters(laws=req.laws) if req.laws else None
    sampling = req.sampling(state.settings.llm)
    events = run_rag(pipe, ticket, state.metrics, req.query, history, top_k=req.top_k, filters=filters,
                     rerank=req.rerank, sampling=sampling)  # fmt: skip

    async def remember(answer: Answer) -> None:
        if req.session_id:
            cites = [c.to_dict() for c in answer.citations]
            await anyio.to_thread.run_sync(state.sessions.append, req.session_id, req.query, answer.text, cites)

    if not req.stream:
        try:
            answer = await acollect_answer(events)
            await remember(answer)
        finally:
            ticket.close()
        return {**answer.to_dict(), "kb": kb, "session_id": req.session_id}

    async def sse():
        try:
            async for ev in events:
                if isinstance(ev, SourcesEvent):
                    yield {"event": "sources", "data": _json([c.to_dict() for c in ev.sources])}
                elif isinstance(ev, TokenEvent):
                    yield {"event": "token", "data": _json({"text": ev.text})}
                elif isinstance(ev, DoneEvent):
                    await remember(ev.answer)
                    yield {"event": "citations", "data": _json([c.to_dict() for c in ev.answer.citations])}
                    yield {"event": "done", "data": _json(done_payload(ev, req.session_id))}
        except ZhikuError as e:  # headers are gone: the error travels as an event
            yield {"event": "error", "data": _json(error_of(e))}
        finally:
            await events.aclose()

    return GatedSSE(sse(), ticket)


@router.post("/api/search")
async def search(req: SearchRequest, state: AppState = Depends(get_state), _key=Depends(user)):
    check_query(state, req.query)
    name = req.kb or state.settings.default_kb
    # the KB's own searcher (with the LLM for rewrite/HyDE when configured), on the retrieval threads chat uses
    searcher = (await state.apipeline(name)).searcher

    def run():
        timings: dict[str, float] = {}
        hits = searcher.run(
            req.query, k=req.top_k, mode=req.mode, filters=Filters(laws=req.laws) if req.laws else None, timings=timings,
            rerank=req.rerank,
        )
        return {"query": req.query, "kb": name, "mode": req.mode, "timings": timings, "hits": [h.to_dict() for h in hits]}

    return await anyio.to_thread.run_sync(run, limiter=state.gate.retrieval_limiter())
