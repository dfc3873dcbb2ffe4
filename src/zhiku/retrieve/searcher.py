"""The retrieval pipeline: query understanding -> hybrid first stage -> rerank.

    query ─┬────────────────────── HybridRetriever ─┐
           ├─ QueryRewriter (LLM) ─ HybridRetriever ─┼─ weighted RRF ─ Rerank ─ top k
           └─ HydeWriter (LLM) ──── HybridRetriever ─┘

Each stage is switchable per call (None = the configured default), so the CLI, the server and the per-stage
evaluation all run this one path.
"""
from __future__ import annotations

import time
from typing import Callable

from zhiku.config import Settings
from zhiku.generate.base import LLM
from zhiku.index.base import Filters, SearchMode
from zhiku.kb import KnowledgeBase
from zhiku.retrieve.fusion import fuse_hits
from zhiku.retrieve.hybrid import HybridRetriever
from zhiku.types import Hit

LLMSource = Callable[[], LLM]  # the LLM is loaded only when a stage that needs it is switched on


class Searcher:
    def __init__(self, kb: KnowledgeBase, settings: Settings, llm: LLMSource | None = None):
        self.kb, self.settings, self._llm = kb, settings, llm
        self.retriever = HybridRetriever(kb.store, kb.embedder, settings.retrieval)
        self._rerank = None

    def llm(self):
        if self._llm is None:
            from zhiku.errors import ConfigError

            raise ConfigError("query rewriting and HyDE need an LLM; none is configured for this searcher")
        return self._llm()

    def reranker(self):
        if self._rerank is None:
            from zhiku.retrieve.rerank import Rerank

            self._rerank = Rerank.from_settings(self.settings.rerank)
        return self._rerank

    def run(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        filters: Filters | None = None,
        rerank: bool | None = None,
        rewrite: bool | None = None,
        hyde: bool | None = None,
        timings: dict[str, float] | None = None,
        trace: dict[str, str] | None = None,
    ) -> list[Hit]:
        """The k best hits. `timings` gets each stage's ms; `trace` the LLM's rewrite / HyDE draft."""
        qs, rs = self.settings.query, self.settings.rerank
        rerank = rs.enabled if rerank is None else rerank
        rewrite = qs.rewrite if rewrite is None else rewrite
        hyde = qs.hyde if hyde is None else hyde
        timings = {} if timings is None else timings
        depth = max(k, rs.depth) if rerank else k
        hits = self.retriever.run(query, k=depth, mode=mode, filters=filters, timings=timings)
        expansions: list[tuple[str, list[Hit]]] = []
        if rewrite:
            t = time.perf_counter()
            from zhiku.retrieve.rewrite import QueryRewriter

            text = QueryRewriter(self.llm(), qs.max_tokens).rewrite(query)
            timings["rewrite_ms"] = (time.perf_counter() - t) * 1000
            if trace is not None:
                trace["rewrite"] = text
            if text != query:
                expansions.append(("rewrite", self.retriever.run(text, k=depth, mode=mode, filters=filters)))
        if hyde:
            t = time.perf_counter()
            from zhiku.retrieve.hyde import HydeWriter

            draft = HydeWriter(self.llm(), qs.max_tokens).draft(query)
            timings["hyde_ms"] = (time.perf_counter() - t) * 1000
            if trace is not None:
                trace["hyde"] = draft
            vector = self.kb.embedder.embed_documents([draft])[0] if mode != "bm25" else None
            expansions.append(("hyde", self.retriever.run(draft, k=depth, mode=mode, filters=filters, vector=vector)))
        if expansions:
            hits = fuse_expansions(hits, expansions, qs.expansion_weight, self.settings.retrieval.rrf_k)[:depth]
        if rerank and hits:
            hits = self.reranker().run(query, hits, timings)
        return hits[:k]


def fuse_expansions(original: list[Hit], expansions: list[tuple[str, list[Hit]]], weight: float, rrf_k: int) -> list[Hit]:
    """RRF over the original ranking (weight 1) and each expansion's. A hit only an expansion found keeps its
    similarity under `dense_<name>`, not `dense`: `dense` means similarity to the user's question, and a drafted
    article's similarity would overstate it (callers show these scores; the gate computes its own)."""
    seen = {h.ref for h in original}  # by ref: two rankings may pick different parts of one long article
    for name, hits in expansions:
        for h in hits:
            if h.ref not in seen and "dense" in h.scores:
                h.scores[f"dense_{name}"] = h.scores.pop("dense")
            seen.add(h.ref)
    weights = [1.0] + [weight] * len(expansions)
    return fuse_hits([original] + [hits for _, hits in expansions], weights, rrf_k, key=lambda h: h.ref)
