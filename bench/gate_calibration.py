"""Calibrate `retrieval.min_relevance`: at each threshold, the share of answerable questions the "no basis found"
gate lets through and of off-topic / unanswerable ones it refuses (retrieve/relevance.py: similarity of the chunk
closest to the question's raw embedding).

    python bench/gate_calibration.py --home /tmp/full --kb laws --dataset ../shared/data/stard/dev.jsonl \
        --refuse samples/eval/off_topic.jsonl --refuse samples/eval/unanswerable.jsonl
"""
from __future__ import annotations

import argparse
import os

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--kb", default="laws")
    ap.add_argument("--dataset", required=True, help="answerable questions (jsonl)")
    ap.add_argument("--refuse", action="append", default=[], help="jsonl of questions that should be refused")
    ap.add_argument("--thresholds", default="0.30,0.32,0.34,0.36,0.38,0.40,0.42,0.46")
    args = ap.parse_args()
    os.environ["ZHIKU_HOME"] = args.home
    from zhiku.config import get_settings
    from zhiku.eval.dataset import load_dataset
    from zhiku.kb import KnowledgeBases
    from zhiku.retrieve.relevance import RelevanceGate

    s = get_settings()
    kb = KnowledgeBases(s).open(args.kb)
    gate = RelevanceGate(kb.store, kb.embedder, s.retrieval)
    sets = [(os.path.basename(args.dataset), load_dataset(args.dataset))]
    sets += [(os.path.basename(p), load_dataset(p, require_gold=False)) for p in args.refuse]
    ths = [float(t) for t in args.thresholds.split(",")]
    print("share of questions with closest-chunk similarity >= threshold (let through by the gate)")
    print("set | n | p5 | p50 | " + " | ".join(f"{t:.2f}" for t in ths))
    for name, qs in sets:
        sc = np.array([gate.score(q.query) for q in qs])
        p5, p50 = np.percentile(sc, [5, 50])
        print(f"{name} | {len(sc)} | {p5:.3f} | {p50:.3f} | " + " | ".join(f"{(sc >= t).mean():.3f}" for t in ths),
              flush=True)


if __name__ == "__main__":
    main()
