"""Answer-quality evaluation of the full pipeline (retrieve -> gate -> generate -> cite) on labelled questions.

Per question it records what was cited, whether the pipeline refused, length and timings; the aggregates are:

- citation precision: cited refs (deduplicated articles) that are gold / cited refs, averaged over the answered
  answerable questions that cite at least one source (`answered_uncited` counts those that cite none);
  `citation_precision_micro` pools all citations instead.
- citation recall: gold refs cited / gold refs, averaged over *all* answerable questions (a refusal scores 0, so
  refusing cannot buy recall); `source_recall` is the same for the sources handed to the model, its upper bound.
- model vs retrieval: of the answerable questions whose sources hold a gold article (`gold_in_sources`), the share
  the model refused and the share where it cited a gold article: what the model does with the right article in
  hand, whatever retrieval did elsewhere; and `answered_with_gold`, the share of *all* answerable questions answered
  with at least one gold citation (the end-to-end figure both stages move).
- refusal: an answer is a refusal when the relevance gate found no basis (`grounded` is False) or when the model
  says the sources give no basis (generate/prompts.py `declines`: 资料中没有相关规定 and its variants) *and* cites
  nothing. An answer that declines but still cites a source is counted as answered: it shows the user a source as
  the basis. Refusal correctness = refused / unanswerable questions (`"answerable": false` or empty gold).
- length (characters) and speed (total and time-to-first-token p50/p90, generation tokens/s) over the answers the
  model generated; gate refusals never reach the model and would flatter the latency.
- faithfulness (optional): an LLM judge's 0..1 score of the answers that cite something (eval/judge.py).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from zhiku.eval.dataset import Query
from zhiku.eval.judge import FaithfulnessJudge
from zhiku.generate.base import Sampling
from zhiku.generate.prompts import declines
from zhiku.pipeline import RagPipeline
from zhiku.types import Answer


def _dedup(refs: list[str]) -> list[str]:
    return list(dict.fromkeys(refs))  # parts of one long article share a ref


def is_refusal(answer: Answer) -> bool:
    return not answer.grounded or (declines(answer.text) and not answer.citations)


def score_answer(q: Query, answer: Answer) -> dict:
    """One question's record: what was asked, answered and cited, and its metrics (None where undefined)."""
    cited = _dedup([c.hit.ref for c in answer.citations])
    sources = _dedup([c.hit.ref for c in answer.sources])
    gold = set(q.gold)
    refused = is_refusal(answer)
    t = answer.timings
    generated = answer.grounded  # the model ran
    tokens = answer.usage.get("completion_tokens", 0)
    gen_s = (t.get("total_ms", 0.0) - t.get("ttft_ms", 0.0)) / 1000
    rec = {
        "qid": q.qid,
        "query": q.query,
        "answerable": q.answerable,
        "gold": q.gold,
        "grounded": answer.grounded,
        "declined": generated and declines(answer.text),
        "refused": refused,
        "cited": cited,
        "sources": sources,
        "answer": answer.text,
        "chars": len(answer.text),
        "generated": generated,
        "retrieval_ms": round(t.get("retrieval_ms", 0.0), 1),
        "ttft_ms": round(t["ttft_ms"], 1) if generated and "ttft_ms" in t else None,
        "total_ms": round(t.get("total_ms", 0.0), 1),
        "completion_tokens": tokens,
        "tokens_per_s": round(tokens / gen_s, 2) if generated and tokens > 1 and gen_s > 0 else None,
        "precision": None,
        "recall": None,
        "source_recall": None,
        "gold_in_sources": bool(gold.intersection(sources)),
        "gold_cited": not refused and bool(gold.intersection(cited)),
    }
    if "category" in q.meta:  # samples/eval/unanswerable.jsonl: foreign_law, local_rule, ...
        rec["category"] = q.meta["category"]
    if q.answerable:
        rec["recall"] = 0.0 if refused else len(gold.intersection(cited)) / len(gold)
        rec["source_recall"] = len(gold.intersection(sources)) / len(gold)
        if not refused and cited:
            rec["precision"] = len(gold.intersection(cited)) / len(cited)
    return rec


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def _share(flags: list[bool]) -> float | None:
    return _mean([float(f) for f in flags])


def summarize(records: list[dict]) -> dict:
    """Aggregates over score_answer records (see the module docstring for the definitions)."""
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    answered = [r for r in ans if not r["refused"]]
    with_cites = [r for r in answered if r["cited"]]
    n_cited = sum(len(r["cited"]) for r in with_cites)
    n_good = sum(len(set(r["gold"]).intersection(r["cited"])) for r in with_cites)
    gen = [r for r in records if r["generated"]]
    in_hand = [r for r in ans if r["gold_in_sources"]]
    out: dict = {"n": len(records)}
    out["answerable"] = {
        "n": len(ans),
        "answered": len(answered),
        "refused": len(ans) - len(answered),
        "refused_by_gate": sum(not r["grounded"] for r in ans),
        "answered_uncited": len(answered) - len(with_cites),
        "citation_precision": _mean([r["precision"] for r in with_cites]),
        "citation_precision_micro": round(n_good / n_cited, 4) if n_cited else None,
        "citation_recall": _mean([r["recall"] for r in ans]),
        "citation_recall_answered": _mean([r["recall"] for r in answered]),
        "source_recall": _mean([r["source_recall"] for r in ans]),
        "citations_per_answer": _mean([len(r["cited"]) for r in answered]),
        "gold_in_sources": len(in_hand),
        "gold_in_sources_refused": _share([r["refused"] for r in in_hand]),
        "gold_in_sources_cited": _share([r["gold_cited"] for r in in_hand]),
        "answered_with_gold": _share([r["gold_cited"] for r in ans]),
    }
    refused = [r for r in una if r["refused"]]
    out["unanswerable"] = {
        "n": len(una),
        "refused": len(refused),
        "refused_by_gate": sum(not r["grounded"] for r in una),
        "refused_by_model": sum(r["grounded"] for r in refused),
        "refusal_correctness": round(len(refused) / len(una), 4) if una else None,
    }
    cats = sorted({r["category"] for r in una if "category" in r})
    if cats:  # "refused/n" per kind of unanswerable question
        out["unanswerable"]["by_category"] = {
            c: f"{sum(r['refused'] for r in una if r.get('category') == c)}/{sum(r.get('category') == c for r in una)}"
            for c in cats
        }
    totals = [r["total_ms"] for r in gen]
    ttfts = [r["ttft_ms"] for r in gen if r["ttft_ms"] is not None]
    out["generation"] = {
        "n": len(gen),
        "answer_chars_mean": _mean([r["chars"] for r in gen]),
        "answer_chars_p50": _pct([r["chars"] for r in gen], 50),
        "total_ms_p50": _pct(totals, 50),
        "total_ms_p90": _pct(totals, 90),
        "ttft_ms_p50": _pct(ttfts, 50),
        "ttft_ms_p90": _pct(ttfts, 90),
        "tokens_per_s_p50": _pct([r["tokens_per_s"] for r in gen if r["tokens_per_s"]], 50),
        "retrieval_ms_p50": _pct([r["retrieval_ms"] for r in records], 50),
    }
    judged = [r["judge"] for r in records if r.get("judge")]
    if judged:
        scores = [j["score"] for j in judged if j["score"] is not None]
        out["faithfulness"] = {
            "judged": len(judged),
            "unreadable": len(judged) - len(scores),
            "mean": _mean(scores),
            "supported_share": _mean([float(s >= 0.5) for s in scores]),  # answers judged mostly supported
        }
    return out


def evaluate_answers(
    pipeline: RagPipeline,
    queries: list[Query],
    limit: int = 0,
    progress: Callable[[int, int], None] | None = None,
    judge: FaithfulnessJudge | None = None,
    on_record: Callable[[dict], None] | None = None,
) -> tuple[dict, list[dict]]:
    """Ask every question (the first `limit` when > 0) through the pipeline; returns (summary, per-question records).
    `on_record` sees each record as soon as it is scored (the CLI streams them to --per-query: an hour-long run
    that is interrupted keeps what it measured)."""
    if limit:
        queries = queries[:limit]
    if queries:  # load the model outside the measurement: the first question's latency would include it
        pipeline.llm.complete([{"role": "user", "content": "你好"}], Sampling(max_tokens=1, temperature=0.0))
    records = []
    for i, q in enumerate(queries):
        answer = pipeline.ask(q.query)
        rec = score_answer(q, answer)
        if judge is not None and answer.citations and not rec["refused"]:
            rec["judge"] = judge.judge(q.query, answer.text, answer.citations).to_dict()
        records.append(rec)
        if on_record:
            on_record(rec)
        if progress:
            progress(i + 1, len(queries))
    head = {"model": pipeline.llm.name, **({"judge_model": judge.name} if judge is not None else {})}
    return head | summarize(records), records
