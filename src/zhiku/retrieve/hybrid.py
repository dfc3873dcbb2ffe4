"""Hybrid retrieval component: segment + embed the query, ask the store, collapse parts of one article."""
from __future__ import annotations

import time

from zhiku.config import RetrievalSettings
from zhiku.index.base import Filters, FusionParams, SearchMode, Store
from zhiku.index.embedders import Embedder
from zhiku.index.tokenize import tokenize
from zhiku.types import Hit


class HybridRetriever:
    def __init__(self, store: Store, embedder: Embedder, settings: RetrievalSettings):
        self.store, self.embedder, self.settings = store, embedder, settings

    def fusion(self, **overrides) -> FusionParams:
        s = self.settings
        p = FusionParams(
            bm25_weight=s.bm25_weight,
            dense_weight=s.dense_weight,
            bigram_weight=s.bigram_weight,
            rrf_k=s.rrf_k,
            candidates=s.candidates,
        )
        for k, v in overrides.items():
            if v is not None:
                setattr(p, k, v)
        return p

    def run(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        filters: Filters | None = None,
        fusion: FusionParams | None = None,
        timings: dict[str, float] | None = None,
        vector=None,
    ) -> list[Hit]:
        """The k best hits for `query`, at most one per cited unit (article), best first. `vector` replaces the
        query's embedding (HyDE embeds a drafted article as a document instead)."""
        t0 = time.perf_counter()
        tokens = tokenize(query) if mode != "dense" else []
        if mode == "bm25":
            vector = None
        elif vector is None:
            vector = self.embedder.embed_query(query)
        t1 = time.perf_counter()
        fusion = fusion or self.fusion()
        prior = self.settings.level_weights if mode == "hybrid" else None
        # Over-fetch: parts of one long article collapse into one hit, and the level prior re-ranks a whole pool.
        pool = max(k + 10, fusion.candidates) if prior else k + 10
        raw = self.store.search(query, tokens, vector, k=pool, mode=mode, filters=filters, fusion=fusion)
        if prior:
            raw = apply_level_prior(raw, prior)
        hits = collapse(raw)[:k]
        if timings is not None:
            timings["embed_ms"] = (t1 - t0) * 1000
            timings["search_ms"] = (time.perf_counter() - t1) * 1000
        return hits


def apply_level_prior(hits: list[Hit], weights: dict[str, float]) -> list[Hit]:
    """Scale fused scores by the statute level's weight and re-sort (stable, so ties keep fusion order)."""
    for h in hits:
        h.score *= weights.get(h.meta.get("level") or "", 1.0)
    return sorted(hits, key=lambda h: -h.score)


def collapse(hits: list[Hit]) -> list[Hit]:
    """Keep the best-ranked hit per citation unit (ref)."""
    seen: set[str] = set()
    out = []
    for h in hits:
        if h.ref not in seen:
            seen.add(h.ref)
            out.append(h)
    return out
