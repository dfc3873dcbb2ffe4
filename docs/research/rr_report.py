"""Metrics table for the reranker study from the stored candidates and score files.

python3 rr_report.py /tmp/rr_cands.json e5=/tmp/rr_scores_e5.json q05=/tmp/rr_scores_q05.json ...
For each scorer: rerank alone (top-N it scored, rest keep hybrid order) and RRF-fused with the hybrid rank,
evaluated on the questions that scorer covered, next to the hybrid baseline on the same questions.
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from rr_common import load, metrics, order_by, rrf, p50

rows_all = load(sys.argv[1])
byq = {r["qid"]: r for r in rows_all}
print(f"| method | n | R@5 | R@10 | MRR@10 | p50 rerank ms | p90 |")
print("|---|---|---|---|---|---|---|")
def line(name, rows, orders, ms=None):
    m = metrics(rows, orders)
    lat = f"{p50(ms):.0f} | {sorted(ms)[int(0.9*(len(ms)-1))]:.0f}" if ms else "– | –"
    print(f"| {name} | {len(rows)} | {m['R@5']:.3f} | {m['R@10']:.3f} | {m['MRR@10']:.3f} | {lat} |")
line("hybrid (baseline)", rows_all, [list(range(len(r["cands"]))) for r in rows_all])
for arg in sys.argv[2:]:
    name, path = arg.split("=", 1)
    res = json.load(open(path))
    rows = [byq[x["qid"]] for x in res]
    base = [list(range(len(r["cands"]))) for r in rows]
    alone, fused, fused2 = [], [], []
    for r, x in zip(rows, res):
        n = len(x["scores"])
        top = order_by(x["scores"]) + list(range(n, len(r["cands"])))
        alone.append(top)
        fused.append(rrf([list(range(len(r["cands"]))), top], k=10))
        fused2.append(rrf([list(range(len(r["cands"]))), top], k=10, weights=[1.0, 0.5]))
    ms = [x["ms"] for x in res]
    line(f"hybrid baseline on {name}'s questions", rows, base)
    line(f"{name} alone (top {n})", rows, alone, ms)
    line(f"{name} RRF(k=10) with hybrid rank, 1:1", rows, fused, ms)
    line(f"{name} RRF(k=10) with hybrid rank, 1:0.5", rows, fused2, ms)
