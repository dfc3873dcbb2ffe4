"""Any OpenAI-compatible /v1/embeddings endpoint (vLLM, Xinference, Ollama, TEI, zhiku serve itself)."""
from __future__ import annotations

import httpx
import numpy as np

from zhiku.errors import BackendError, ConfigError
from zhiku.index.embedders.base import normalize


class OpenAICompatEmbedder:
    def __init__(self, base_url: str, model: str, api_key: str = "", batch_size: int = 64, timeout: float = 60.0):
        if not base_url or not model:
            raise ConfigError("embedder 'openai' needs embedder.base_url (ending in /v1) and embedder.model")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        self.batch_size = batch_size
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)
        self.dim = int(self._embed(["维度探测"]).shape[1])  # the endpoint tells its dimension

    def _embed(self, texts: list[str]) -> np.ndarray:
        url = f"{self.base_url}/embeddings"
        try:
            r = self._client.post(url, json={"model": self.model, "input": texts})
        except httpx.HTTPError as e:
            raise BackendError(f"embedding server {self.base_url}: {e}") from e
        if r.status_code >= 400:
            raise BackendError(f"embedding server {self.base_url}: HTTP {r.status_code}: {r.text[:200]}")
        data = sorted(r.json()["data"], key=lambda d: d["index"])
        return normalize(np.array([d["embedding"] for d in data], dtype=np.float32))

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._embed(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)])

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text])[0]
