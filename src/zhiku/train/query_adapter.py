"""Fit a query adapter (index/embedders/adapter.py) on (question, gold article) pairs against a KB's own vectors.

The loss is a softmax over every chunk of the KB (the retrieval task itself, no sampled negatives): at 58.5k
chunks x 512-d one full-batch step over 600 questions is two ~15 GFLOP products, ~2 s on 2 cores. Adam on
W = I + delta, with weight decay pulling delta to zero so a question unlike any training one keeps its vector.
`cross_validate` reports what a user should expect on questions the fit never saw (k folds over the questions).
`train_adapter` is the whole of `zhiku train adapter`: a dataset and a KB in, a QueryAdapter that records how.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from zhiku.errors import InputError
from zhiku.eval.dataset import Query
from zhiku.index.embedders.adapter import QueryAdapter, question_key
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


@dataclass
class TrainingSet:
    """The questions of a dataset whose gold articles are in a KB, with that KB's vectors."""

    kb: str
    source: Path  # the dataset file
    corpus: Corpus
    questions: list[str]
    gold: list[list[str]]  # per question, its gold articles that are in the KB
    left_out: int  # questions none of whose gold articles is in the KB


def training_set(kb, queries: list[Query], source: Path) -> TrainingSet:
    refs, vectors = kb.store.vectors()
    if not refs:
        raise InputError(f"knowledge base '{kb.name}' is empty: ingest documents first")
    corpus = Corpus.from_rows(refs, vectors)
    known = set(corpus.refs)
    usable = [q for q in queries if any(g in known for g in q.gold)]
    return TrainingSet(kb.name, Path(source), corpus, [q.query for q in usable],
                       [[g for g in q.gold if g in known] for q in usable], len(queries) - len(usable))


def train_adapter(
    embedder,
    data: TrainingSet,
    params: FitParams = FitParams(),
    folds: int = 5,
    progress: Callable[[str, int, int], None] | None = None,
) -> QueryAdapter:
    """An adapter for `embedder` fitted on all of `data`, after `folds`-fold cross-validation (0 = skip). Its
    info records the data, the parameters, the held-out metrics and the questions' hashes (evaluations on them
    are flagged as in-sample). `progress(stage, done, total)` per step of each stage."""
    if not data.questions:
        raise InputError(f"{data.source}: no question has its gold article in knowledge base '{data.kb}'")
    report = progress or (lambda stage, done, total: None)
    base = getattr(embedder, "base", embedder)  # fit on raw question vectors, not adapted ones
    n = len(data.questions)
    report("embed questions", 0, n)
    qv = np.empty((n, base.dim), dtype=np.float32)
    for i, q in enumerate(data.questions):
        qv[i] = base.embed_query(q)
        report("embed questions", i + 1, n)
    cv = None
    if folds:
        stage = f"{folds}-fold cross-validation"
        report(stage, 0, folds)
        cv = cross_validate(qv, data.gold, data.corpus, params, folds, progress=lambda i, k: report(stage, i, k))
    report("fit", 0, params.epochs)
    t0 = time.perf_counter()
    targets, _ = data.corpus.positives(data.gold)
    weight = fit(qv, targets, data.corpus.vectors, params, progress=lambda i, k, loss: report("fit", i, k))
    info = {"kb": data.kb, "dataset": data.source.name, "questions": n, "chunks": len(data.corpus.groups),
            "params": asdict(params), "fit_seconds": round(time.perf_counter() - t0, 1), "cross_validation": cv,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "question_sha1": sorted(question_key(q) for q in data.questions)}
    return QueryAdapter(weight, base.name, info)


def adapter_path(home: Path, kb: str) -> Path:
    """Where `zhiku train adapter` saves a KB's adapter unless told otherwise."""
    return home / "adapters" / f"{kb}.npz"
