"""Ranking metrics over deduplicated refs (article ids); binary relevance."""
from __future__ import annotations

import math


def recall_at(ranked: list[str], gold: set[str], k: int) -> float:
    """Fraction of the gold refs found in the top k."""
    return len(gold.intersection(ranked[:k])) / len(gold) if gold else 0.0


def mrr_at(ranked: list[str], gold: set[str], k: int) -> float:
    for i, r in enumerate(ranked[:k]):
        if r in gold:
            return 1.0 / (i + 1)
    return 0.0


def ndcg_at(ranked: list[str], gold: set[str], k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(ranked[:k]) if r in gold)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), k)))
    return dcg / ideal if ideal else 0.0
