"""Stage 1: hybrid top-30 candidates for the first N STARD dev questions -> JSON (read-only use of the KB).

ZHIKU_HOME=/tmp/full nice -n 10 .venv/bin/python docs/research/rr_candidates.py 60 /tmp/rr_cands.json
"""
import json, sys, time
from zhiku.config import Settings
from zhiku.kb import KnowledgeBases
from zhiku.retrieve.hybrid import HybridRetriever

n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
out = sys.argv[2] if len(sys.argv) > 2 else "/tmp/rr_cands.json"
qs = [json.loads(l) for l in open("/work/shared/data/stard/dev.jsonl", encoding="utf-8")][:n]
s = Settings()
kbs = KnowledgeBases(s)
kb = kbs.open("laws")
r = HybridRetriever(kb.store, kb.embedder, s.retrieval)
rows = []
for q in qs:
    t = time.perf_counter()
    hits = r.run(q["query"], k=30)
    ms = (time.perf_counter() - t) * 1000
    rows.append({"qid": q["qid"], "query": q["query"], "gold": q["gold"], "retrieve_ms": ms,
                 "cands": [{"ref": h.ref, "text": h.text, "score": h.score, "meta": {k: v for k, v in h.meta.items() if isinstance(v, (str, int, float))}} for h in hits]})
json.dump(rows, open(out, "w", encoding="utf-8"), ensure_ascii=False)
print("wrote", out, len(rows))
