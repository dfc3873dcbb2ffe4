"""Evaluation questions the configured query adapter was fitted on: their figures flatter it."""
from __future__ import annotations

from zhiku.eval.dataset import Query


def adapter_fitted_on(kb, queries: list[Query]) -> int:
    """How many of `queries` the query adapter of `kb`'s embedder saw in training (0 without an adapter)."""
    adapter = getattr(kb.embedder, "adapter", None)
    return adapter.seen([q.query for q in queries]) if adapter else 0


def in_sample_warning(seen: int, total: int) -> str:
    return (f"warning: the query adapter was fitted on {seen} of these {total} questions, so their figures are "
            "in-sample; cross-validate (bench/cv_adapter.py) or fit one without them (`zhiku train adapter`), "
            "or set ZHIKU_EMBEDDER__QUERY_ADAPTER=none")
