"""Is there any basis for an answer? Decides between a grounded answer and the honest "no basis found".

BM25 matches something for almost any question, so keyword hits alone prove nothing. The gate asks the store for
the chunk closest to the question's *raw* embedding and compares that similarity with `retrieval.min_relevance`
(calibrated on the bundled embedder: off-topic questions score low against statutes; bench/gate_calibration.py).
Raw, not through the query adapter: the adapter is fitted to rank, and it pulls every question toward the articles
laypeople ask about, which compresses similarities (公司可以随便辞退我吗 scores 0.33 adapted, 0.40 raw) and would
refuse short real questions. One extra dense lookup: ~1.5 ms embedded.
"""
from __future__ import annotations

from zhiku.config import RetrievalSettings
from zhiku.index.base import Filters, Store
from zhiku.index.embedders import Embedder


class RelevanceGate:
    def __init__(self, store: Store, embedder: Embedder, settings: RetrievalSettings):
        self.store, self.settings = store, settings  # min_relevance is read per call: settings may change live
        self.embedder = getattr(embedder, "base", embedder)  # the raw question vector (see above)

    def score(self, question: str, filters: Filters | None = None) -> float:
        """Similarity of the closest chunk (within `filters`) to the question."""
        best = self.store.rank("dense", self.embedder.embed_query(question), 1, filters)
        return best[0][1] if best else 0.0

    def has_basis(self, question: str, filters: Filters | None = None) -> bool:
        return self.score(question, filters) >= self.settings.min_relevance
