"""What the query adapter is worth on questions it never saw: k-fold cross-validation through the real pipeline.

    python bench/cv_adapter.py --home /tmp/full --kb laws --dataset ../shared/data/stard/dev.jsonl \
        --stages hybrid,hybrid+rerank --dense-weights 0.85,1.5,2,3

For each fold an adapter is fitted on the other folds' questions (zhiku.train.query_adapter, the same code as
`zhiku train adapter`), swapped into the KB's embedder, and the held-out questions go through the Searcher
(`zhiku eval retrieval`'s path) for each stage and fusion weight. Metrics are pooled over all held-out questions,
so every question is scored exactly once by an adapter that never saw it. Dev split only.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--kb", default="laws")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="how the questions are dealt into folds")
    ap.add_argument("--stages", default="dense,hybrid")
    ap.add_argument("--dense-weights", default="", help="comma-separated retrieval.dense_weight values to try")
    ap.add_argument("--no-adapter", action="store_true", help="the same folds without an adapter (baseline)")
    ap.add_argument("--epochs", type=int, default=0, help="override FitParams.epochs")
    ap.add_argument("--json", help="write pooled results here")
    args = ap.parse_args()
    os.environ["ZHIKU_HOME"] = args.home
    os.environ["ZHIKU_EMBEDDER__QUERY_ADAPTER"] = "none"
    from zhiku.config import get_settings
    from zhiku.eval.retrieval import evaluate_retrieval, load_dataset, markdown_table, parse_stage
    from zhiku.index.embedders import AdaptedEmbedder, QueryAdapter
    from zhiku.kb import KnowledgeBases
    from zhiku.retrieve.searcher import Searcher
    from zhiku.train.query_adapter import Corpus, FitParams, fit, split_folds

    s = get_settings()
    kb = KnowledgeBases(s).open(args.kb)
    base = kb.embedder
    queries = load_dataset(args.dataset)
    refs, vectors = kb.store.vectors()
    corpus = Corpus.from_rows(refs, vectors)
    gold = [q.gold for q in queries]
    targets, kept = corpus.positives(gold)
    assert len(kept) == len(queries), "every question needs its gold in the KB"
    qv = np.stack([base.embed_query(q.query) for q in queries])
    params = FitParams(**({"epochs": args.epochs} if args.epochs else {}))
    weights = [float(w) for w in args.dense_weights.split(",") if w] or [s.retrieval.dense_weight]
    stages = [parse_stage(x) for x in args.stages.split(",") if x]
    rows: dict[tuple[str, float], list[dict]] = {}
    for k, (train, test) in enumerate(split_folds(len(queries), args.folds, args.seed)):
        t = time.perf_counter()
        if args.no_adapter:
            kb.embedder = base
        else:
            w = fit(qv[train], targets[train], corpus.vectors, params)
            kb.embedder = AdaptedEmbedder(base, QueryAdapter(w, base.name))
        held = [queries[i] for i in test]
        for dw in weights:
            fold_settings = s.model_copy(update={"retrieval": s.retrieval.model_copy(update={"dense_weight": dw})})
            searcher = Searcher(kb, fold_settings)
            for stage in stages:
                per: list[dict] = []
                evaluate_retrieval(searcher, held, [10, 100], stage, per_query=per)
                rows.setdefault((stage.name, dw), []).extend(per)
                print(f"  fold {k + 1} {stage.name} dense_weight {dw}: R@10 "
                      f"{np.mean([p['recall@10'] for p in per]):.4f} R@100 {np.mean([p['recall@100'] for p in per]):.4f}")
        print(f"fold {k + 1}/{args.folds}: {time.perf_counter() - t:.0f} s", flush=True)
    results = []
    for (stage, dw), per in rows.items():
        r = {"stage": stage, "dense_weight": dw, "n": len(per)}
        for m in ("recall@10", "recall@100", "mrr@10", "ndcg@10"):
            r[m] = round(float(np.mean([p[m] for p in per])), 4)
        r["latency_ms_p50"] = round(float(np.percentile([p["ms"] for p in per], 50)), 2)
        r["latency_ms_p95"] = round(float(np.percentile([p["ms"] for p in per], 95)), 2)
        results.append(r)
    print(markdown_table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
