"""`ask` end to end with the configured (default: bundled 1.5B) model: retrieval ms, time to first token, tokens/s.

    python bench/bench_ask.py --home data --kb demo [--model qwen2.5-0.5b] [--n 5]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

QUESTIONS = [
    "劳动合同的试用期最长可以约定多久？",
    "用人单位解除劳动合同需要支付经济补偿吗？",
    "离婚冷静期是多长时间？",
    "买到假货商家要赔几倍？",
    "醉酒驾驶机动车会受到什么处罚？",
    "借款利率最高不能超过多少？",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--kb", default="demo")
    ap.add_argument("--model", default="")
    ap.add_argument("--n", type=int, default=len(QUESTIONS))
    args = ap.parse_args()
    os.environ["ZHIKU_HOME"] = args.home
    if args.model:
        os.environ["ZHIKU_LLM__MODEL"] = args.model
    from zhiku.config import get_settings
    from zhiku.generate import get_llm
    from zhiku.kb import KnowledgeBases
    from zhiku.pipeline import RagPipeline

    s = get_settings()
    t0 = time.perf_counter()
    pipe = RagPipeline(KnowledgeBases(s).open(args.kb), get_llm(s.llm, s.models_dir), s)
    pipe.ask("试用期")  # load the model and warm caches outside the measurement
    load_s = time.perf_counter() - t0
    rows = []
    for q in QUESTIONS[: args.n]:
        a = pipe.ask(q)
        gen_s = (a.timings["total_ms"] - a.timings.get("ttft_ms", 0)) / 1000
        toks = a.usage.get("completion_tokens", 0)
        rows.append({
            "question": q,
            "retrieval_ms": round(a.timings["retrieval_ms"], 1),
            "ttft_ms": round(a.timings.get("ttft_ms", 0)),
            "total_ms": round(a.timings["total_ms"]),
            "prompt_tokens": a.usage.get("prompt_tokens", 0),
            "completion_tokens": toks,
            "tokens_per_s": round(toks / gen_s, 1) if gen_s > 0 and toks else 0.0,
            "cited": [c.hit.ref for c in a.citations],
            "answer": a.text[:120],
        })
    summary = {
        "model": s.llm.model,
        "load_and_warmup_s": round(load_s, 1),
        "ttft_ms_p50": float(np.median([r["ttft_ms"] for r in rows])),
        "tokens_per_s_p50": float(np.median([r["tokens_per_s"] for r in rows])),
        "retrieval_ms_p50": float(np.median([r["retrieval_ms"] for r in rows])),
        "runs": rows,
    }
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
