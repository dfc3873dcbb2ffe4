"""A rerank endpoint: POST {base_url}/rerank with {"model", "query", "documents", "top_n"}, answered with
{"results": [{"index", "relevance_score"}, ...]}: the shape of vLLM (`vllm serve BAAI/bge-reranker-v2-m3`),
Xinference, Jina, Cohere v2 and `zhiku serve`'s own /v1/rerank."""
from __future__ import annotations

import httpx

from zhiku.errors import BackendError, ConfigError


class HttpReranker:
    def __init__(self, base_url: str, model: str = "", api_key: str = "", timeout: float = 30.0):
        if not base_url:
            raise ConfigError("rerank.backend 'http' needs rerank.base_url, e.g. http://127.0.0.1:8000/v1")
        self.url = base_url.rstrip("/") + "/rerank"
        self.model = model
        self.name = f"http:{model or self.url}"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)

    def score(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        body = {"query": query, "documents": passages, "top_n": len(passages)}
        if self.model:
            body["model"] = self.model
        try:
            r = self._client.post(self.url, json=body)
            r.raise_for_status()
            results = r.json()["results"]
            scores = [float("-inf")] * len(passages)
            for item in results:
                scores[int(item["index"])] = float(item["relevance_score"])
        except httpx.HTTPStatusError as e:
            raise BackendError(f"rerank endpoint {self.url}: HTTP {e.response.status_code}: {e.response.text[:200]}") from e
        except httpx.HTTPError as e:
            raise BackendError(f"rerank endpoint {self.url}: {type(e).__name__}: {e}") from e
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise BackendError(f"rerank endpoint {self.url}: unexpected response shape ({e!r})") from e
        return scores
