"""Grid-search fusion parameters on a labelled dataset, from cached BM25 and dense rankings (dev split only).

    python bench/tune_fusion.py --home /tmp/full --kb laws --dataset ../shared/data/stard/dev.jsonl

Each query is searched once per retriever (top N); fusion variants are then scored offline, so a grid of
hundreds of settings takes seconds. Prints recall@10/@100, MRR@10, nDCG@10 per setting, best first.
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
    args = ap.parse_args()
    os.environ["ZHIKU_HOME"] = args.home
    from zhiku.config import get_settings
    from zhiku.eval.metrics import mrr_at, ndcg_at, recall_at
    from zhiku.eval.retrieval import load_dataset
    from zhiku.index.fusion import weighted_rrf
    from zhiku.index.tokenize import tokenize
    from zhiku.kb import KnowledgeBases
    from zhiku.types import chunk_ref

    s = get_settings()
    kb = KnowledgeBases(s).open(args.kb)
    store = kb.store
    qs = load_dataset(args.dataset)
    ref_of: dict[int, str] = {}
    for cid, cid_str, meta in store._db.execute("SELECT id, chunk_id, meta FROM chunks"):
        ref_of[cid] = chunk_ref(cid_str, json.loads(meta))
    runs = []
    for q in qs:
        bm = store._bm25(tokenize(q.query), args.n, None)
        de = store._dense(kb.embedder.embed_query(q.query), args.n, None)
        runs.append((bm, de, set(q.gold)))

    def score(ranked_cids, gold):
        refs = list(dict.fromkeys(ref_of[c] for c in ranked_cids))
        return recall_at(refs, gold, 10), recall_at(refs, gold, 100), mrr_at(refs, gold, 10), ndcg_at(refs, gold, 10)

    results = []
    for wb, wd, k, n in itertools.product([1.0], [0.0, 0.5, 0.7, 0.85, 1.0, 1.2, 1.5], [10, 30, 60, 100], [50, 100, 200, 300]):
        m = np.zeros(4)
        for bm, de, gold in runs:
            fused = weighted_rrf([[c for c, _ in bm[:n]], [c for c, _ in de[:n]]], [wb, wd], k)
            m += score([c for c, _ in fused], gold)
        m /= len(runs)
        results.append(((wb, wd, k, n), m))
    results.sort(key=lambda r: -(r[1][0] + r[1][1]))
    print("bm25_w dense_w rrf_k cand | R@10 R@100 MRR@10 nDCG@10")
    for (wb, wd, k, n), m in results[:25]:
        print(f"{wb:5.2f} {wd:5.2f} {k:4d} {n:4d} | " + " ".join(f"{x:.4f}" for x in m))


if __name__ == "__main__":
    main()
