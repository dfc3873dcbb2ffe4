"""Grid-search fusion parameters on a labelled dataset, from cached BM25 and dense rankings (dev split only).

    python bench/tune_fusion.py --home /tmp/full --kb laws --dataset ../shared/data/stard/dev.jsonl

Each query is searched once per retriever (jieba BM25, dense, character-bigram BM25; top N); fusion weights,
RRF k and the statute-level prior are then scored offline, so a grid of hundreds of settings takes seconds. Prints recall@10/@100, MRR@10, nDCG@10 per setting, best first.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--kb", default="laws")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--n", type=int, default=300, help="candidates per retriever")
    ap.add_argument("--cv-adapter", type=int, default=0, metavar="FOLDS",
                    help="dense queries through a query adapter fitted on the other FOLDS-1 folds (held-out scores)")
    args = ap.parse_args()
    os.environ["ZHIKU_HOME"] = args.home
    if args.cv_adapter:
        os.environ["ZHIKU_EMBEDDER__QUERY_ADAPTER"] = "none"
    from zhiku.config import get_settings
    from zhiku.eval.metrics import mrr_at, ndcg_at, recall_at
    from zhiku.eval.retrieval import load_dataset
    from zhiku.retrieve.fusion import weighted_rrf
    from zhiku.kb import KnowledgeBases
    from zhiku.types import chunk_ref

    s = get_settings()
    kb = KnowledgeBases(s).open(args.kb)
    store = kb.store
    qs = load_dataset(args.dataset)
    ref_of: dict[int, str] = {}
    level: dict[int, str] = {}
    for cid, cid_str, meta in store._db.execute("SELECT id, chunk_id, meta FROM chunks"):
        m = json.loads(meta)
        ref_of[cid] = chunk_ref(cid_str, m)
        level[cid] = m.get("level") or ""
    qvec = np.stack([kb.embedder.embed_query(q.query) for q in qs])
    if args.cv_adapter:  # every question's vector comes from an adapter that never saw it (bench/cv_adapter.py)
        from zhiku.index.embedders import normalize
        from zhiku.train.query_adapter import Corpus, fit, split_folds

        corpus = Corpus.from_rows(*store.vectors())
        targets, _ = corpus.positives([q.gold for q in qs])
        held = qvec.copy()
        for train, test in split_folds(len(qs), args.cv_adapter):
            held[test] = normalize(qvec[test] @ fit(qvec[train], targets[train], corpus.vectors).T)
        qvec = held
    runs = []
    for q, v in zip(qs, qvec):
        bm = [c for c, _ in store.rank("bm25", q.query, args.n)]  # the local engine's keys are chunk rowids
        de = [c for c, _ in store.rank("dense", v, args.n)]
        bg = [c for c, _ in store.rank("bigram", q.query, args.n)]
        runs.append((bm, de, bg, set(q.gold)))

    def score(ranked_cids, gold):
        refs = list(dict.fromkeys(ref_of[c] for c in ranked_cids))
        return recall_at(refs, gold, 10), recall_at(refs, gold, 100), mrr_at(refs, gold, 10), ndcg_at(refs, gold, 10)

    results = []
    dense_ws = [1.0, 1.5, 2.0, 2.5, 3.0] if args.cv_adapter else [0.7, 0.85, 1.0]
    grid = itertools.product(dense_ws, [0.0, 0.5, 0.7, 1.0], [10, 30, 60], [100, 200, 300], [1.0, 0.7, 0.5], [1.0, 0.8])
    for wd, wg, k, n, w_reg, w_interp in grid:
        prior = {"行政法规": w_reg, "部门规章": w_reg, "地方性法规": w_reg, "司法解释": w_interp}
        m = np.zeros(4)
        for bm, de, bg, gold in runs:
            fused = weighted_rrf([bm[:n], de[:n], bg[:n]], [1.0, wd, wg], k)
            fused = sorted(((c, sc * prior.get(level[c], 1.0)) for c, sc in fused), key=lambda x: -x[1])
            m += score([c for c, _ in fused], gold)
        m /= len(runs)
        results.append(((wd, wg, k, n, w_reg, w_interp), m))
    results.sort(key=lambda r: -(r[1][0] + r[1][1]))
    print("dense_w bigram_w rrf_k cand w_regulation w_interpretation | R@10 R@100 MRR@10 nDCG@10")
    for params, m in results[:25]:
        print(" ".join(f"{p:g}" for p in params) + " | " + " ".join(f"{x:.4f}" for x in m))


if __name__ == "__main__":
    main()
