"""Embedders behind one protocol; `get_embedder` picks the backend from settings and imports it lazily."""
from __future__ import annotations

from functools import lru_cache

from zhiku.config import EmbedderSettings
from zhiku.index.embedders.adapter import AdaptedEmbedder, QueryAdapter, resolve_adapter
from zhiku.index.embedders.base import Embedder, normalize

__all__ = ["AdaptedEmbedder", "Embedder", "QueryAdapter", "get_embedder", "normalize"]


def get_embedder(s: EmbedderSettings) -> Embedder:
    base = _cached(s.backend, s.model, s.base_url, s.api_key, s.batch_size, s.threads, s.timeout)
    adapter = resolve_adapter(s.query_adapter, base)
    return AdaptedEmbedder(base, adapter) if adapter else base


@lru_cache(maxsize=4)  # models are big and stateless: one per distinct configuration per process
def _cached(backend, model, base_url, api_key, batch_size, threads, timeout) -> Embedder:
    if backend == "use":
        from zhiku.index.embedders.use import UseEmbedder

        return UseEmbedder(threads=threads, batch_size=batch_size)
    if backend == "e5":
        from zhiku.index.embedders.e5 import E5Embedder

        return E5Embedder(batch_size=min(batch_size, 32))
    if backend == "sentence-transformers":
        from zhiku.index.embedders.sentence_transformers import SentenceTransformersEmbedder

        return SentenceTransformersEmbedder(model, batch_size=batch_size)
    if backend == "openai":
        from zhiku.index.embedders.openai_compat import OpenAICompatEmbedder

        return OpenAICompatEmbedder(base_url, model, api_key=api_key, batch_size=batch_size, timeout=timeout)
    from zhiku.errors import ConfigError

    raise ConfigError(f"unknown embedder backend {backend!r} (use, e5, sentence-transformers, openai)")
