"""Retrieval evaluation on a jsonl dataset of {"qid", "query", "gold": [ref, ...]} (the STARD format of
shared/data/README.md; loaded by eval/dataset.py). A hit counts when its ref (record id, or "law#article") is a gold id.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from zhiku.eval.dataset import Query, load_dataset
from zhiku.eval.metrics import mrr_at, ndcg_at, recall_at
from zhiku.index.base import SearchMode
from zhiku.retrieve.hybrid import HybridRetriever

__all__ = ["Query", "evaluate_retrieval", "load_dataset"]


def evaluate_retrieval(
    retriever: HybridRetriever,
    queries: list[Query],
    ks: list[int],
    mode: SearchMode = "hybrid",
    progress: Callable[[int, int], None] | None = None,
    per_query: list[dict] | None = None,
) -> dict:
    kmax = max(ks + [10])
    sums = {f"recall@{k}": 0.0 for k in ks}
    sums.update({"mrr@10": 0.0, "ndcg@10": 0.0})
    lat = []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        hits = retriever.run(q.query, k=kmax, mode=mode)
        lat.append((time.perf_counter() - t) * 1000)
        ranked = [h.ref for h in hits]
        gold = set(q.gold)
        row = {f"recall@{k}": recall_at(ranked, gold, k) for k in ks}
        row["mrr@10"] = mrr_at(ranked, gold, 10)
        row["ndcg@10"] = ndcg_at(ranked, gold, 10)
        for key, v in row.items():
            sums[key] += v
        if per_query is not None:
            per_query.append({"qid": q.qid, "query": q.query, "gold": q.gold, "top": ranked[:10], **row})
        if progress:
            progress(i + 1, len(queries))
    n = len(queries)
    out: dict = {"n": n, "mode": mode}
    out.update({key: round(v / n, 4) for key, v in sums.items()})
    out["latency_ms_p50"] = round(float(np.percentile(lat, 50)), 2)
    out["latency_ms_p95"] = round(float(np.percentile(lat, 95)), 2)
    return out
