"""Is there any basis for an answer? Decides between a grounded answer and the honest "no basis found".

BM25 matches something for almost any question, so keyword hits alone prove nothing. The gate uses the dense
similarity of the best hit (calibrated on the bundled embedder: off-topic questions score low against statutes)
and lets a strong keyword match vouch for a hit the dense side ranked lower.
"""
from __future__ import annotations

from zhiku.types import Hit


def has_basis(hits: list[Hit], min_relevance: float) -> bool:
    if not hits:
        return False
    best_dense = max((h.scores.get("dense", 0.0) for h in hits), default=0.0)
    return best_dense >= min_relevance
