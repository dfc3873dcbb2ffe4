"""POST /v1/rerank: the configured reranker as a service, in the vLLM / Xinference / Jina / Cohere shape, so other
RAG stacks (and another zhiku with rerank.backend = "http") can use it."""
from __future__ import annotations

import time
import uuid

import anyio
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from zhiku.retrieve.rerankers import get_reranker
from zhiku.serve.deps import get_state, user
from zhiku.serve.state import AppState

router = APIRouter(tags=["rerank"])
MAX_DOCS = 256  # one request is one synchronous scoring pass: bound it
MAX_CHARS = 20_000


class Document(BaseModel):
    text: str = Field(max_length=MAX_CHARS)


class RerankRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients send vendor fields (max_chunks_per_doc, ...)
    query: str = Field(min_length=1, max_length=MAX_CHARS)
    documents: list[str | Document] = Field(min_length=1, max_length=MAX_DOCS)
    model: str = ""
    top_n: int | None = Field(None, ge=1)
    return_documents: bool = True


@router.post("/v1/rerank")
@router.post("/rerank", include_in_schema=False)  # vLLM and Jina serve both paths
async def rerank(req: RerankRequest, state: AppState = Depends(get_state), _key=Depends(user)):
    texts = [d if isinstance(d, str) else d.text for d in req.documents]
    reranker = get_reranker(state.settings.rerank)
    t0 = time.perf_counter()
    # CPU work like retrieval: on the same bounded threads, not anyio's default 40
    scores = await anyio.to_thread.run_sync(reranker.score, req.query, texts, limiter=state.gate.retrieval_limiter())
    order = sorted(range(len(texts)), key=lambda i: -scores[i])[: req.top_n or len(texts)]
    results = []
    for i in order:
        item = {"index": i, "relevance_score": scores[i]}
        if req.return_documents:
            item["document"] = {"text": texts[i]}
        results.append(item)
    return {
        "id": f"rerank-{uuid.uuid4().hex[:16]}",
        "model": req.model or reranker.name,
        "results": results,
        "meta": {"latency_ms": round((time.perf_counter() - t0) * 1000, 1)},
    }
