"""Search latency p50/p95 per mode (BM25, dense, hybrid) on a knowledge base, query embedding included.

    python bench/bench_search.py --home /tmp/full --kb laws [--milvus-uri http://127.0.0.1:19530] [--queries 200] \
        [--dataset ../shared/data/stard/dev.jsonl]

With --milvus-uri the local KB's chunks and vectors are copied into a Milvus collection (no re-embedding)
and both engines are measured side by side on the same queries (STARD dev questions) and the same data.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "stard" / "dev.jsonl"  # the default --dataset


def copy_to_milvus(local, uri: str, name: str, registry: Path):
    """Copy every chunk of a LocalStore into a MilvusStore, one DocWrite per document."""
    from zhiku.index.base import DocWrite
    from zhiku.index.milvus import MilvusStore
    from zhiku.types import Chunk, Document

    ms = MilvusStore(uri, name, local.dim, registry)
    if ms.count()["chunks"] == local.count()["chunks"]:
        return ms
    docs = {d.doc_id: d for d in local.documents()}
    rows = local._db.execute("SELECT doc_id, chunk_id, ordinal, text, meta, vector FROM chunks ORDER BY doc_id, ordinal")
    batch, cur, t0 = [], None, time.perf_counter()

    def flush_doc():
        if cur:
            info = docs[cur["doc_id"]]
            doc = Document(cur["doc_id"], "", info.source, info.meta)
            batch.append(DocWrite(doc, cur["chunks"], np.vstack(cur["vecs"])))

    for doc_id, chunk_id, ordinal, text, meta, vec in rows:
        if cur is None or cur["doc_id"] != doc_id:
            flush_doc()
            cur = {"doc_id": doc_id, "chunks": [], "vecs": []}
            if len(batch) >= 2000:
                ms.write(batch)
                batch = []
        m = json.loads(meta)
        # The store keeps chunk text, not index_text; law + text stands in for Milvus' own BM25 field. This
        # benchmark measures latency, so the small difference in what Milvus keyword-indexes does not matter here.
        index_text = f"{m.get('law', '')} {text}"
        cur["chunks"].append(Chunk(chunk_id, doc_id, ordinal, text, index_text, m))
        cur["vecs"].append(np.frombuffer(vec, dtype=np.float32))
    flush_doc()
    if batch:
        ms.write(batch)
    ms.flush()
    print(f"copied {ms.count()['chunks']} chunks into Milvus in {time.perf_counter() - t0:.0f}s")
    return ms


def bench(retriever, queries, modes, k):
    out = {}
    for mode in modes:
        retriever.run(queries[0], k=k, mode=mode)  # warm-up
        lat = []
        for q in queries:
            t = time.perf_counter()
            retriever.run(q, k=k, mode=mode)
            lat.append((time.perf_counter() - t) * 1000)
        out[mode] = {"p50_ms": round(float(np.percentile(lat, 50)), 2), "p95_ms": round(float(np.percentile(lat, 95)), 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--kb", default="laws")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=100, help="fused results returned (the floor is for top 100)")
    ap.add_argument("--milvus-uri", default="")
    ap.add_argument("--dataset", type=Path, default=DEV,
                    help="jsonl with a query per line (default: ../shared/data/stard/dev.jsonl beside the repo)")
    args = ap.parse_args()
    os.environ["ZHIKU_HOME"] = args.home
    from zhiku.config import get_settings
    from zhiku.kb import KnowledgeBases
    from zhiku.retrieve.hybrid import HybridRetriever

    s = get_settings()
    kb = KnowledgeBases(s).open(args.kb)
    lines = args.dataset.read_text(encoding="utf-8").splitlines()[: args.queries]
    queries = [json.loads(line)["query"] for line in lines]
    modes = ["bm25", "dense", "hybrid"]
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "kb": args.kb,
        "chunks": kb.store.count()["chunks"],
        "queries": len(queries),
        "k": args.k,
        "local": bench(HybridRetriever(kb.store, kb.embedder, s.retrieval), queries, modes, args.k),
    }
    if args.milvus_uri:
        ms = copy_to_milvus(kb.store, args.milvus_uri, args.kb, Path(args.home) / "milvus_registry.sqlite")
        result["milvus"] = bench(HybridRetriever(ms, kb.embedder, s.retrieval), queries, modes, args.k)
        result["hybrid_ratio_milvus_over_local"] = round(result["milvus"]["hybrid"]["p50_ms"] / result["local"]["hybrid"]["p50_ms"], 1)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
