"""The reranker protocol: relevance scores for (query, passage) pairs, higher is better."""
from __future__ import annotations

from typing import Protocol

from zhiku.types import Hit


class Reranker(Protocol):
    name: str

    def score(self, query: str, passages: list[str]) -> list[float]:
        """One score per passage, in input order; only the order they induce matters."""


def passage_text(hit: Hit) -> str:
    """What a reranker reads: the stored article text lacks its law's name, which often decides relevance."""
    return f"{hit.title}：{hit.text}"
