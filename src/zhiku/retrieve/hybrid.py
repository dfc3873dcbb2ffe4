"""The first stage: rank the store's views (BM25, bigram BM25, dense), fuse them, collapse parts of one article.

Modes, fusion and the per-view score bookkeeping live here once, for every engine: an engine only ranks one view
at a time (index/base.py), so the embedded store and Milvus give the same hybrid ranking for the same views.
"""
from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Hashable

import numpy as np

from zhiku.config import RetrievalSettings
from zhiku.index.base import Filters, FusionParams, Ranking, SearchMode, Store, View
from zhiku.index.embedders import Embedder
from zhiku.retrieve.fusion import weighted_rrf
from zhiku.types import Hit

_pool: ThreadPoolExecutor | None = None  # for engines whose views are remote round trips (Store.concurrent)


def _rank_all(store: Store, asks: list[tuple[View, str | np.ndarray]], n: int, filters: Filters | None) -> list[Ranking]:
    global _pool
    if store.concurrent and len(asks) > 1:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="zhiku-views")
        futures = [_pool.submit(store.rank, v, q, n, filters) for v, q in asks]
        return [f.result() for f in futures]
    return [store.rank(v, q, n, filters) for v, q in asks]


def search(
    store: Store,
    query: str,
    vector: np.ndarray | None,
    k: int = 10,
    mode: SearchMode = "hybrid",
    filters: Filters | None = None,
    fusion: FusionParams | None = None,
) -> list[Hit]:
    """The k best chunks of `store`, best first. "bm25" and "dense" are one view's own ranking and scores; "hybrid"
    is the weighted RRF of every view the store has, a view weighted 0 (or dense without a vector) left out. Each
    hit's `scores` holds every view's score for it, e.g. {"bm25": 12.1, "dense": 0.61}."""
    if k <= 0:
        return []
    fusion = fusion or FusionParams()
    if mode == "hybrid":
        weights = {"bm25": fusion.bm25_weight, "bigram": fusion.bigram_weight, "dense": fusion.dense_weight}
        views = [v for v in ("bm25", "dense", "bigram")  # this order breaks RRF ties, as it always has
                 if v in store.views and weights[v] > 0 and (v != "dense" or vector is not None)]
        n = max(k, fusion.candidates)
    elif mode in ("bm25", "dense"):
        views = [] if mode == "dense" and vector is None else [mode]
        n = k
    else:
        raise ValueError(f"unknown search mode {mode!r}")
    rankings = _rank_all(store, [(v, vector if v == "dense" else query) for v in views], n, filters)
    per: dict[Hashable, dict[str, float]] = defaultdict(dict)
    for view, ranking in zip(views, rankings):
        for key, score in ranking:
            per[key].setdefault(view, score)
    if mode == "hybrid":
        ranked = weighted_rrf([[key for key, _ in r] for r in rankings], [weights[v] for v in views], fusion.rrf_k)
    else:
        ranked = rankings[0] if rankings else []
    ranked = ranked[:k]
    rows = store.hits([key for key, _ in ranked])
    out = []
    for key, score in ranked:
        h = rows.get(key)
        if h is not None:  # deleted between ranking and reading
            h.score, h.scores = score, per[key]
            out.append(h)
    return out


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
        vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """The k best hits for `query`, at most one per cited unit (article), best first. `vector` replaces the
        query's embedding (HyDE embeds a drafted article as a document instead)."""
        t0 = time.perf_counter()
        if mode == "bm25":
            vector = None
        elif vector is None:
            vector = self.embedder.embed_query(query)
        t1 = time.perf_counter()
        fusion = fusion or self.fusion()
        prior = self.settings.level_weights if mode == "hybrid" else None
        # Over-fetch: parts of one long article collapse into one hit, and the level prior re-ranks a whole pool.
        pool = max(k + 10, fusion.candidates) if prior else k + 10
        raw = search(self.store, query, vector, k=pool, mode=mode, filters=filters, fusion=fusion)
        if prior:
            raw = apply_level_prior(raw, prior)
        hits = collapse(raw)[:k]
        if timings is not None:
            timings["embed_ms"] = (time.perf_counter() - t0) * 1000
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
