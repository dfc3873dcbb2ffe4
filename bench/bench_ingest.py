"""Ingest throughput into a fresh knowledge base: articles/s, total minutes, peak RSS.

    python bench/bench_ingest.py ../shared/data/laws/articles.jsonl.gz --home /tmp/bench_ingest
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--home", required=True, type=Path)
    ap.add_argument("--kb", default="laws")
    args = ap.parse_args()
    shutil.rmtree(args.home, ignore_errors=True)
    os.environ["ZHIKU_HOME"] = str(args.home)
    from zhiku.config import get_settings
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.kb import KnowledgeBases

    s = get_settings()
    s.home.mkdir(parents=True, exist_ok=True)
    c = KnowledgeBases(s)
    c.create(args.kb)
    kb = c.open(args.kb)
    report = Ingestor(kb, s).ingest(args.paths)
    kb.close()
    print(json.dumps({
        "documents": report.added + report.updated,
        "chunks": report.chunks,
        "seconds": round(report.seconds, 1),
        "minutes": round(report.seconds / 60, 2),
        "docs_per_s": round((report.added + report.updated) / report.seconds, 1),
        "chunks_per_s": round(report.chunks / report.seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "failed": report.files_failed,
    }, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
