"""Retrieval evaluation on a jsonl dataset of {"qid", "query", "gold": [ref, ...]} (the STARD format of
shared/data/README.md; loaded by eval/dataset.py). A hit counts when its ref (record id, or "law#article") is a gold id.

Stages name what the Searcher runs, so one call can report the climb from BM25 alone to the full pipeline:
bm25, dense, hybrid, hybrid+rewrite, hybrid+hyde, hybrid+rerank, hybrid+rewrite+rerank, ..., and `default`
(whatever the settings switch on). Records may carry a `history` of earlier turns (samples/eval/multiturn.jsonl):
`+condense` turns the follow-up into a standalone question first; without it the follow-up is searched as is.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from zhiku.errors import InputError
from zhiku.eval.dataset import Query, load_dataset
from zhiku.eval.metrics import mrr_at, ndcg_at, recall_at
from zhiku.index.base import SearchMode
from zhiku.retrieve.condense import Condenser
from zhiku.retrieve.searcher import Searcher


@dataclass(frozen=True)
class Stage:
    name: str
    mode: SearchMode = "hybrid"
    rerank: bool | None = False
    rewrite: bool | None = False
    hyde: bool | None = False
    condense: bool = False


EXTRAS = ("condense", "rewrite", "hyde", "rerank")


def parse_stage(spec: str) -> Stage:
    """'bm25' | 'dense' | 'hybrid' | 'default' | 'hybrid+rerank' | '+rewrite+rerank' (hybrid implied)."""
    spec = spec.strip()
    if spec == "default":
        return Stage("default", "hybrid", None, None, None, condense=True)
    base, *extras = spec.split("+")
    base = base or "hybrid"
    if base not in ("bm25", "dense", "hybrid") or any(e not in EXTRAS for e in extras) or len(set(extras)) < len(extras):
        raise InputError(
            f"unknown stage {spec!r}: use bm25, dense, hybrid or default, optionally followed by "
            "+condense, +rewrite, +hyde, +rerank"
        )
    name = "+".join([base, *[e for e in EXTRAS if e in extras]])
    return Stage(name, base, "rerank" in extras, "rewrite" in extras, "hyde" in extras, "condense" in extras)  # type: ignore[arg-type]


__all__ = ["Query", "Stage", "evaluate_retrieval", "load_dataset", "markdown_table", "parse_stage"]


def evaluate_retrieval(
    searcher: Searcher,
    queries: list[Query],
    ks: list[int],
    stage: Stage = Stage("hybrid"),
    progress: Callable[[int, int], None] | None = None,
    per_query: list[dict] | None = None,
) -> dict:
    kmax = max(ks + [10])
    sums = {f"recall@{k}": 0.0 for k in ks}
    sums.update({"mrr@10": 0.0, "ndcg@10": 0.0})
    lat = []
    condenser = None
    for i, q in enumerate(queries):
        trace: dict[str, str] = {}
        t = time.perf_counter()
        text = q.query
        if stage.condense and q.history:
            condenser = condenser or Condenser(searcher.llm(), searcher.settings.chat.history_turns)
            text = trace["condensed"] = condenser.condense(q.query, q.history)
        hits = searcher.run(
            text, k=kmax, mode=stage.mode, rerank=stage.rerank, rewrite=stage.rewrite, hyde=stage.hyde, trace=trace
        )
        lat.append((time.perf_counter() - t) * 1000)
        ranked = [h.ref for h in hits]
        gold = set(q.gold)
        row = {f"recall@{k}": recall_at(ranked, gold, k) for k in ks}
        row["mrr@10"] = mrr_at(ranked, gold, 10)
        row["ndcg@10"] = ndcg_at(ranked, gold, 10)
        for key, v in row.items():
            sums[key] += v
        if per_query is not None:
            gold_ranks = {g: (ranked.index(g) + 1 if g in ranked else None) for g in q.gold}
            per_query.append({"stage": stage.name, "qid": q.qid, "query": q.query, **trace, "gold": q.gold,
                              "gold_ranks": gold_ranks, "top": ranked[:10], **row, "ms": round(lat[-1], 1)})
        if progress:
            progress(i + 1, len(queries))
    n = len(queries)
    out: dict = {"stage": stage.name, "n": n}
    out.update({key: round(v / n, 4) for key, v in sums.items()})
    out["latency_ms_p50"] = round(float(np.percentile(lat, 50)), 2)
    out["latency_ms_p95"] = round(float(np.percentile(lat, 95)), 2)
    return out


def markdown_table(results: list[dict]) -> str:
    """One row per stage: the metrics and latency columns present in the results, in their order."""
    cols = [c for c in results[0] if c not in ("stage", "kb")]
    lines = ["| stage | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for r in results:
        lines.append(f"| {r['stage']} | " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines) + "\n"
