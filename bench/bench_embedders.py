"""Pick the default embedder by measurement: ingest speed and STARD retrieval on the demo laws, per backend.

    python bench/bench_embedders.py --backends use,e5 --home /tmp/bench_emb \
        [--dataset ../shared/data/stard/dev_in_demo.jsonl]

Ingests samples/laws (26 files, ~3,400 articles) with each bundled embedder, then evaluates dense-only and
hybrid retrieval on shared/data/stard/dev_in_demo.jsonl (386 dev questions whose gold articles are in the demo).
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "data" / "stard" / "dev_in_demo.jsonl"  # the default --dataset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="use,e5")
    ap.add_argument("--home", default="/tmp/bench_emb")
    ap.add_argument("--dataset", type=Path, default=DATASET,
                    help="STARD-format jsonl (default: ../shared/data/stard/dev_in_demo.jsonl beside the repo)")
    args = ap.parse_args()
    from zhiku.config import EmbedderSettings, Settings
    from zhiku.eval.retrieval import evaluate_retrieval, load_dataset
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.kb import KnowledgeBases
    from zhiku.retrieve.hybrid import HybridRetriever

    queries = load_dataset(args.dataset)
    rows = {}
    for backend in args.backends.split(","):
        home = Path(args.home) / backend
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        s = Settings(home=home, embedder=EmbedderSettings(backend=backend))
        c = KnowledgeBases(s)
        c.create("demo")
        kb = c.open("demo")
        t = time.perf_counter()
        report = Ingestor(kb, s).ingest([REPO / "samples" / "laws"])
        secs = time.perf_counter() - t
        r = HybridRetriever(kb.store, kb.embedder, s.retrieval)
        rows[backend] = {
            "embedder": kb.embedder.name,
            "chunks": report.chunks,
            "ingest_s": round(secs, 1),
            "chunks_per_s": round(report.chunks / secs, 1),
            "dense": evaluate_retrieval(r, queries, [10, 100], mode="dense"),
            "hybrid": evaluate_retrieval(r, queries, [10, 100], mode="hybrid"),
        }
        c.close()
        print(json.dumps({backend: rows[backend]}, ensure_ascii=False), flush=True)
    print(json.dumps(rows, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
