"""Weighted reciprocal rank fusion: of the first stage's views (hybrid.py), of query expansions (searcher.py) and of
the reranker's order with the first stage's (rerank.py). Above every engine, so rankings are identical across them.
"""
from __future__ import annotations

from itertools import zip_longest
from typing import Callable, Hashable

from zhiku.types import Hit


def weighted_rrf(rankings: list[list[Hashable]], weights: list[float], k: int = 60) -> list[tuple[Hashable, float]]:
    """Fuse ranked id lists (best first) into [(id, score)], best first.

    score(id) = sum over rankings of weight / (k + rank), rank starting at 1 (the RRF of Cormack et al.,
    and what Milvus' RRFRanker computes when all weights are 1). A ranking with weight <= 0 is switched off:
    it adds nothing and its ids do not enter the result, so hybrid with dense_weight=0 is exactly BM25.
    Ties (frequent: rank 1 in one list vs rank 1 in the other) go to the id seen at the better rank, then to
    the earlier ranking, so the order is deterministic. A repeated id within one ranking counts once.
    """
    if len(rankings) != len(weights):
        raise ValueError(f"{len(rankings)} rankings but {len(weights)} weights")
    if k < 0:
        raise ValueError(f"rrf k must be >= 0, got {k}")
    active = [(r, float(w)) for r, w in zip(rankings, weights) if w > 0]
    ranks: list[dict[str, int]] = []
    for ranking, _ in active:
        first: dict[Hashable, int] = {}
        for rank, id_ in enumerate(ranking, 1):
            first.setdefault(id_, rank)
        ranks.append(first)
    scores: dict[Hashable, float] = {}  # insertion order = tie-break order: rank-major, then ranking order
    for row in zip_longest(*(r for r, _ in active)):
        for id_ in row:
            if id_ is not None:
                scores.setdefault(id_, 0.0)
    for first, (_, w) in zip(ranks, active):
        for id_, rank in first.items():
            scores[id_] += w / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])  # stable sort: ties keep insertion order


def fuse_hits(rankings: list[list[Hit]], weights: list[float], k: int, key: Callable[[Hit], str]) -> list[Hit]:
    """Weighted RRF over ranked hit lists: one hit per `key`, the first list's object where lists share a key,
    its `score` set to the fused score. Best first."""
    by_key: dict[str, Hit] = {}
    for hits in rankings:
        for h in hits:
            by_key.setdefault(key(h), h)
    out = []
    for id_, score in weighted_rrf([[key(h) for h in hits] for hits in rankings], weights, k):
        h = by_key[id_]
        h.score = score
        out.append(h)
    return out
