"""Fit a query adapter (index/embedders/adapter.py) on (question, gold article) pairs against a KB's own vectors.

The loss is a softmax over every chunk of the KB (the retrieval task itself, no sampled negatives): at 58.5k
chunks x 512-d one full-batch step over 600 questions is two ~15 GFLOP products, ~2 s on 2 cores. Adam on
W = I + delta, with weight decay pulling delta to zero so a question unlike any training one keeps its vector.
`cross_validate` reports what a user should expect on questions the fit never saw (k folds over the questions).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from zhiku.errors import InputError
from zhiku.index.embedders.base import normalize


@dataclass(frozen=True)
class FitParams:
    # Chosen by 5-fold cross-validation on STARD dev (docs/benchmarks.md, "Query adapter").
    epochs: int = 40
    lr: float = 1e-3
    temperature: float = 20.0  # softmax scale on cosine similarities
    weight_decay: float = 0.01
    block: int = 256  # questions per product: bounds memory at block x chunks floats


@dataclass
class Corpus:
    """A KB's vectors: one row per chunk, `groups[i]` = index of the chunk's citation unit (article) in `refs`."""

    vectors: np.ndarray
    groups: np.ndarray
    refs: list[str]

    @classmethod
    def from_rows(cls, chunk_refs: list[str], vectors: np.ndarray) -> Corpus:
        refs = list(dict.fromkeys(chunk_refs))
        index = {r: i for i, r in enumerate(refs)}
        return cls(np.ascontiguousarray(vectors, dtype=np.float32), np.array([index[r] for r in chunk_refs]), refs)

    def positives(self, gold: list[list[str]]) -> tuple[np.ndarray, list[int]]:
        """Per question, the mean vector of its gold articles' chunks; questions with no gold in the KB are
        dropped (their indexes are returned so the caller can say so)."""
        index = {r: i for i, r in enumerate(self.refs)}
        rows_of: dict[int, list[int]] = {}
        for row, g in enumerate(self.groups):
            rows_of.setdefault(int(g), []).append(row)
        targets, kept = [], []
        for qi, refs in enumerate(gold):
            rows = [r for ref in refs if ref in index for r in rows_of[index[ref]]]
            if rows:
                targets.append(self.vectors[rows].mean(0))
                kept.append(qi)
        return np.array(targets, dtype=np.float32).reshape(-1, self.vectors.shape[1]), kept


def fit(
    questions: np.ndarray,
    targets: np.ndarray,
    docs: np.ndarray,
    params: FitParams = FitParams(),
    progress: Callable[[int, int, float], None] | None = None,
) -> np.ndarray:
    """W (dim x dim) minimising the softmax loss of each question's targets among all `docs`."""
    n, dim = questions.shape
    if n == 0:
        raise InputError("no training pairs: none of the questions' gold articles is in the knowledge base")
    eye = np.eye(dim, dtype=np.float32)
    w = eye.copy()
    m, v = np.zeros_like(w), np.zeros_like(w)
    s = params.temperature
    for t in range(1, params.epochs + 1):
        grad_u = np.empty_like(questions)
        loss = 0.0
        for i in range(0, n, params.block):
            q, tgt = questions[i : i + params.block], targets[i : i + params.block]
            u = q @ w.T
            logits = s * (u @ docs.T)
            top = logits.max(1, keepdims=True)
            p = np.exp(logits - top)
            z = p.sum(1, keepdims=True)
            p /= z
            # cross-entropy of the target against all chunks: log-sum-exp minus the target's logit
            loss += float(np.sum(np.log(z[:, 0]) + top[:, 0] - s * np.einsum("ij,ij->i", u, tgt)))
            grad_u[i : i + params.block] = s * (p @ docs - tgt)
        grad = grad_u.T @ questions / n + params.weight_decay * (w - eye)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w -= params.lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        if progress:
            progress(t, params.epochs, loss / n)
    return w


def rank_metrics(questions: np.ndarray, gold: list[list[str]], corpus: Corpus, ks=(10, 100)) -> dict[str, float]:
    """Dense-only recall@k and MRR@10 over articles (a question's chunks collapse to their article)."""
    depth = min(len(corpus.groups), 3 * max(ks) + 50)  # chunks to look at: enough for max(ks) distinct articles
    sums = {f"recall@{k}": 0.0 for k in ks} | {"mrr@10": 0.0}
    for i in range(0, len(questions), 256):
        scores = questions[i : i + 256] @ corpus.vectors.T
        for row, refs in zip(scores, gold[i : i + 256]):
            top = np.argpartition(-row, depth - 1)[:depth] if depth < len(row) else np.arange(len(row))
            top = top[np.argsort(-row[top], kind="stable")]
            ranked = [corpus.refs[g] for g in dict.fromkeys(corpus.groups[top].tolist())]
            want = set(refs)
            for k in ks:
                sums[f"recall@{k}"] += len(want & set(ranked[:k])) / len(want)
            sums["mrr@10"] += next((1 / (j + 1) for j, r in enumerate(ranked[:10]) if r in want), 0.0)
    return {k: round(v / max(1, len(questions)), 4) for k, v in sums.items()}


def split_folds(n: int, folds: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) question indexes per fold: a seeded shuffle dealt into `folds` parts, each the test once."""
    parts = np.array_split(np.random.RandomState(seed).permutation(n), folds)
    return [(np.concatenate([p for j, p in enumerate(parts) if j != k]), test) for k, test in enumerate(parts)]


def cross_validate(
    questions: np.ndarray,
    gold: list[list[str]],
    corpus: Corpus,
    params: FitParams = FitParams(),
    folds: int = 5,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Dense-only metrics on held-out folds, without and with an adapter fitted on the other folds."""
    if folds < 2 or folds > len(questions):
        raise InputError(f"--folds must be between 2 and the number of questions ({len(questions)}), got {folds}")
    targets, kept = corpus.positives(gold)
    assert len(kept) == len(questions), "cross_validate expects questions whose gold is in the corpus"
    before: list[dict] = []
    after: list[dict] = []
    for k, (train, test) in enumerate(split_folds(len(questions), folds, seed)):
        w = fit(questions[train], targets[train], corpus.vectors, params)
        held_gold = [gold[i] for i in test]
        before.append(rank_metrics(questions[test], held_gold, corpus) | {"n": len(test)})
        after.append(rank_metrics(normalize(questions[test] @ w.T), held_gold, corpus) | {"n": len(test)})
        if progress:
            progress(k + 1, folds)

    def pooled(rows: list[dict]) -> dict:
        n = sum(r["n"] for r in rows)
        return {m: round(sum(r[m] * r["n"] for r in rows) / n, 4) for m in rows[0] if m != "n"}

    return {"folds": folds, "seed": seed, "questions": len(questions), "identity": pooled(before),
            "adapted": pooled(after)}
