"""sentence-transformers from a local model directory (bge-m3, bge-large-zh, ...). Never downloads."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zhiku.errors import ConfigError
from zhiku.index.embedders.base import normalize


class SentenceTransformersEmbedder:
    def __init__(self, model_path: str, batch_size: int = 32, query_prefix: str = "", passage_prefix: str = ""):
        if not model_path or not Path(model_path).is_dir():
            raise ConfigError(
                f"embedder 'sentence-transformers' needs a local model directory in embedder.model, got {model_path!r}"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a missing file must fail, not download
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ConfigError("embedder 'sentence-transformers' needs: pip install sentence-transformers") from e
        self._model = SentenceTransformer(model_path, device="cpu")
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self.name = f"st:{Path(model_path).name}"
        self.batch_size = batch_size
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode([self.passage_prefix + t for t in texts], batch_size=self.batch_size)
        return normalize(vecs)

    def embed_query(self, text: str) -> np.ndarray:
        return normalize(self._model.encode([self.query_prefix + text]))[0]
