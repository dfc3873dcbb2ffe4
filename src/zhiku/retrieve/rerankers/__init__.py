"""Rerankers behind one protocol; `get_reranker` picks the backend from settings and imports it lazily."""
from __future__ import annotations

from functools import lru_cache

from zhiku.config import RerankSettings
from zhiku.retrieve.rerankers.base import Reranker, passage_text

__all__ = ["Reranker", "get_reranker", "passage_text"]


def get_reranker(s: RerankSettings) -> Reranker:
    return _cached(s.backend, s.model, s.base_url, s.api_key, s.timeout, s.batch_size)


@lru_cache(maxsize=4)  # one model per distinct configuration per process
def _cached(backend, model, base_url, api_key, timeout, batch_size) -> Reranker:
    if backend == "e5":
        from zhiku.retrieve.rerankers.e5 import E5Reranker

        return E5Reranker(batch_size=batch_size)
    if backend == "cross-encoder":
        from zhiku.retrieve.rerankers.cross_encoder import CrossEncoderReranker

        return CrossEncoderReranker(model, batch_size=batch_size)
    if backend == "http":
        from zhiku.retrieve.rerankers.http import HttpReranker

        return HttpReranker(base_url, model, api_key=api_key, timeout=timeout)
    from zhiku.errors import ConfigError

    raise ConfigError(f"unknown rerank backend {backend!r} (e5, cross-encoder, http)")
