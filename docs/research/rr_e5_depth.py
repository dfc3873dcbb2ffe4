"""Quality of the e5 second stage when it only rescores the hybrid top-N (N=10/15/20/30); rest keep hybrid order.

python3 rr_e5_depth.py /tmp/rr_cands.json /tmp/rr_scores_e5.json
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from rr_common import load, metrics, order_by, rrf

rows = load(sys.argv[1]); res = json.load(open(sys.argv[2]))
for N in (10, 15, 20, 30):
    for name, w in (("alone", None), ("RRF 1:1", 1.0), ("RRF 1:0.5", 0.5)):
        orders = []
        for r, x in zip(rows, res):
            top = order_by(x["scores"][:N]) + list(range(N, len(r["cands"])))
            orders.append(top if w is None else rrf([list(range(len(r["cands"]))), top], k=10, weights=[1.0, w]))
        m = metrics(rows, orders)
        print(f"| e5 top-{N} {name} | {m['R@5']:.3f} | {m['R@10']:.3f} | {m['MRR@10']:.3f} |")
