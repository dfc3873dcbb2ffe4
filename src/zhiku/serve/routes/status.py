"""GET /api/status: the active generation, embedding and store backends, index sizes per KB and a metrics summary
(what the web UI's status tab shows; the same numbers as /metrics, digested)."""
from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends

from zhiku.serve.deps import get_state, user
from zhiku.serve.metrics import summary
from zhiku.serve.state import AppState

router = APIRouter(tags=["ops"])


def _disk_bytes(path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


@router.get("/api/status")
async def status(state: AppState = Depends(get_state), _key=Depends(user)):
    s = state.settings

    def indexes():
        out = []
        for info in state.kbs.list():
            stats = state.kbs.open(info.name).store.count()
            out.append({
                "name": info.name, "store": info.store, "embedder": info.embedder, "dim": info.dim,
                "documents": stats.get("documents", 0), "chunks": stats.get("chunks", 0),
                "disk_bytes": _disk_bytes(s.kb_root / info.name),
            })  # fmt: skip
        return out

    return {
        "version": "0.1.0",
        "ready": state.ready,
        "auth": state.auth_enabled,
        "generation": {
            "backend": s.llm.backend, "model": s.llm.model, "base_url": s.llm.base_url or None,
            "loaded": state.ready, "threads": s.llm.model_copy(update={"shared_cpu": True}).threads,
            "max_tokens": s.llm.max_tokens, "temperature": s.llm.temperature, "top_p": s.llm.top_p,
            "sample_top_k": s.llm.sample_top_k,
        },
        "embedding": {"backend": s.embedder.backend, "model": s.embedder.model or None},
        "store": {"backend": s.store.backend, "uri": s.store.uri or None},
        "retrieval": {"top_k": s.retrieval.top_k},
        "default_kb": s.default_kb,
        "indexes": await anyio.to_thread.run_sync(indexes),
        "metrics": summary(state.metrics),
    }  # fmt: skip
