"""Per-question wins/losses and a paired bootstrap CI for MRR@10: hybrid vs e5 RRF(k=10, 1:1) over the top 30.

python3 rr_paired.py /tmp/rr_cands260.json /tmp/rr_scores_e5_260.json
"""
import json, os, random, sys
sys.path.insert(0, os.path.dirname(__file__))
from rr_common import load, metrics, order_by, rrf

rows = load(sys.argv[1]); res = json.load(open(sys.argv[2]))
d = []
for r, x in zip(rows, res):
    base = list(range(len(r["cands"])))
    new = rrf([base, order_by(x["scores"])], k=10)
    d.append(metrics([r], [new])["MRR@10"] - metrics([r], [base])["MRR@10"])
print("wins", sum(v > 0 for v in d), "losses", sum(v < 0 for v in d), "ties", sum(v == 0 for v in d), "mean", sum(d) / len(d))
random.seed(0)
bs = sorted(sum(random.choices(d, k=len(d))) / len(d) for _ in range(2000))
print("95% CI of MRR@10 gain", bs[50], bs[1950])
