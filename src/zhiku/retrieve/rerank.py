"""Rerank component: rescore the first stage's top `depth` hits and fuse the two orders by RRF."""
from __future__ import annotations

import time

from zhiku.config import RerankSettings
from zhiku.retrieve.fusion import fuse_hits
from zhiku.retrieve.rerankers import Reranker, get_reranker, passage_text
from zhiku.types import Hit


class Rerank:
    def __init__(self, reranker: Reranker, depth: int = 20, first_stage_weight: float = 1.0, rrf_k: int = 10):
        self.reranker, self.depth, self.first_stage_weight, self.rrf_k = reranker, depth, first_stage_weight, rrf_k

    @classmethod
    def from_settings(cls, s: RerankSettings) -> "Rerank":
        return cls(get_reranker(s), s.depth, s.first_stage_weight, s.rrf_k)

    def run(self, query: str, hits: list[Hit], timings: dict[str, float] | None = None) -> list[Hit]:
        """`hits` best first, one per chunk; returns them re-ordered, the head rescored, the tail kept below it."""
        t0 = time.perf_counter()
        head, tail = hits[: self.depth], hits[self.depth :]
        if not head:
            return hits
        scores = self.reranker.score(query, [passage_text(h) for h in head])
        for h, s in zip(head, scores):
            h.scores["rerank"] = s
        reranked = [h for h, _ in sorted(zip(head, scores), key=lambda p: -p[1])]
        out = fuse_hits([head, reranked], [self.first_stage_weight, 1.0], self.rrf_k, key=lambda h: h.chunk_id)
        if tail and tail[0].score >= out[-1].score > 0:  # keep `score` monotone down the whole list
            scale = 0.99 * out[-1].score / tail[0].score
            for h in tail:
                h.score *= scale
        if timings is not None:
            timings["rerank_ms"] = (time.perf_counter() - t0) * 1000
        return out + tail
