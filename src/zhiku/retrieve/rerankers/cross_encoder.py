"""sentence-transformers CrossEncoder (bge-reranker-base/large/v2-m3 etc.) from a local path: the accurate
choice on a GPU box. Needs `pip install sentence-transformers` (and torch); nothing is downloaded at run time."""
from __future__ import annotations

import os
import threading

from zhiku.errors import ConfigError


class CrossEncoderReranker:
    def __init__(self, model: str, batch_size: int = 32, max_length: int = 512):
        if not model:
            raise ConfigError("rerank.backend 'cross-encoder' needs rerank.model: a local model directory")
        if not os.path.isdir(model):
            raise ConfigError(f"rerank.model {model!r}: no such directory (models are never downloaded at run time)")
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as e:
            raise ConfigError("rerank.backend 'cross-encoder' needs: pip install sentence-transformers") from e
        self.name = f"cross-encoder:{os.path.basename(os.path.normpath(model))}"
        self._m = CrossEncoder(model, max_length=max_length, device="cpu")
        self.batch_size = batch_size
        self._lock = threading.Lock()  # torch modules are not re-entrant across our worker threads

    def score(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        with self._lock:
            scores = self._m.predict([(query, p) for p in passages], batch_size=self.batch_size)
        return [float(s) for s in scores]
