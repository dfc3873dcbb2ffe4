"""Query adapter: a linear map on question embeddings, fitted on (question, answering article) pairs.

A layperson asks 「老板拖着工资不给怎么办」; the article says 「用人单位应当按时足额支付劳动报酬」. A general-purpose
embedder puts the two far apart. The adapter W moves the question's vector toward the articles that answer such
questions: score(q, d) = normalize(W q) · d. Document vectors are untouched, so one adapter serves every KB built
with the same embedder, needs no re-ingest, and costs one mat-vec per question (~0.05 ms at 512-d).
Fitted by `zhiku train adapter` (zhiku.train.query_adapter); the bundled one is measured in docs/benchmarks.md.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from zhiku.errors import ConfigError
from zhiku.index.embedders.base import Embedder, normalize

BUNDLED_DIR = Path(__file__).parent / "adapters"
# embedder name -> the adapter shipped for it (fitted on STARD dev questions against the full statute corpus)
BUNDLED = {"use-multilingual-v3": "use-multilingual-v3.stard-dev.npz"}


@dataclass
class QueryAdapter:
    weight: np.ndarray  # (dim, dim): adapted = normalize(weight @ q)
    embedder: str  # the embedder whose question vectors it maps; anything else is refused
    info: dict = field(default_factory=dict)  # how it was fitted: data, pairs, settings, cross-validated metrics

    @property
    def dim(self) -> int:
        return int(self.weight.shape[0])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """(dim,) or (n, dim) L2-normalised question vectors -> the same shape, adapted and re-normalised."""
        return normalize(np.asarray(vectors, dtype=np.float32) @ self.weight.T)

    def seen(self, questions: list[str]) -> int:
        """How many of `questions` the adapter was fitted on (an evaluation on them would be in-sample)."""
        fitted = set(self.info.get("question_sha1", []))
        return sum(question_key(q) in fitted for q in questions)

    def save(self, path: str | Path) -> Path:
        """Writes `path` (.npz) atomically; float16 halves the file and changes no ranking measurably."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, weight=self.weight.astype(np.float16), embedder=np.array(self.embedder),
                 info=np.array(json.dumps(self.info, ensure_ascii=False)))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> QueryAdapter:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"query adapter {path}: no such file (embedder.query_adapter)")
        try:
            with np.load(path, allow_pickle=False) as z:
                weight = z["weight"].astype(np.float32)
                embedder, info = str(z["embedder"]), json.loads(str(z["info"]))
        except (OSError, KeyError, ValueError) as e:
            raise ConfigError(f"query adapter {path}: not a zhiku adapter file ({e})") from e
        if weight.ndim != 2 or weight.shape[0] != weight.shape[1]:
            raise ConfigError(f"query adapter {path}: weight must be square, got {weight.shape}")
        return cls(weight, embedder, info)


def question_key(text: str) -> str:
    """A short hash of a training question: the adapter records these, not the questions themselves."""
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()[:12]


def resolve_adapter(setting: str, embedder: Embedder) -> QueryAdapter | None:
    """`embedder.query_adapter`: "auto" = the bundled adapter for this embedder if there is one, "none" (or
    empty) = off, anything else = the path of an .npz from `zhiku train adapter`."""
    setting = (setting or "none").strip()
    if setting.lower() == "none":
        return None
    if setting.lower() == "auto":
        bundled = BUNDLED.get(embedder.name)
        return _load(str(BUNDLED_DIR / bundled)) if bundled and (BUNDLED_DIR / bundled).is_file() else None
    adapter = _load(str(Path(setting).expanduser().resolve()))
    if adapter.embedder != embedder.name or adapter.dim != embedder.dim:
        raise ConfigError(
            f"query adapter {setting} was fitted for embedder '{adapter.embedder}' ({adapter.dim}-d), the "
            f"configured one is '{embedder.name}' ({embedder.dim}-d): fit one with `zhiku train adapter` or set "
            "embedder.query_adapter = \"none\""
        )
    return adapter


@lru_cache(maxsize=8)
def _load(path: str) -> QueryAdapter:
    return QueryAdapter.load(path)


class AdaptedEmbedder:
    """An embedder whose questions go through a QueryAdapter; documents (and HyDE drafts) are embedded as is."""

    def __init__(self, base: Embedder, adapter: QueryAdapter):
        self.base, self.adapter = base, adapter
        self.name, self.dim = base.name, base.dim  # same vector space: KBs built with `base` open unchanged

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self.base.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.adapter.apply(self.base.embed_query(text))
