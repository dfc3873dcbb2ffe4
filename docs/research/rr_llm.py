"""Pointwise LLM relevance scoring with the bundled Qwen2.5-Coder GGUFs (llama-cpp-python, read-only).

nice -n 10 /work/main/.venv/bin/python rr_llm.py MODEL.gguf /tmp/rr_cands.json OUT.json NQ TOPN THREADS [noreuse]
score = logit("是") - logit("否") after a yes/no prompt; the question prefix is evaluated once per question and
its KV cache reused for every candidate (candidate last), unless `noreuse` is given.
"""
import json, os, sys, time
import numpy as np
from llama_cpp import Llama
sys.path.insert(0, os.path.dirname(__file__))
from rr_common import load, passage

model, cands, out = sys.argv[1], sys.argv[2], sys.argv[3]
nq, topn, threads = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
reuse = not (len(sys.argv) > 7 and sys.argv[7] == "noreuse")
llm = Llama(model_path=model, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=512, verbose=False)
tok = lambda s: llm.tokenize(s.encode("utf-8"), add_bos=False, special=True)
YES, NO = tok("是"), tok("否")
assert len(YES) == 1 and len(NO) == 1, (YES, NO)
YES, NO = YES[0], NO[0]
nv = llm.n_vocab()

def logits():
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(nv,))

def prefix(q):
    return ("<|im_start|>system\n你是法律检索助手，判断给出的法条是否与用户的法律问题直接相关。<|im_end|>\n"
            f"<|im_start|>user\n问题：{q}\n")

def suffix(p):
    return f"法条：{p}\n这条法条能用来回答上述问题吗？只回答“是”或“否”。<|im_end|>\n<|im_start|>assistant\n"

rows = load(cands)[:nq]
res = []
for row in rows:
    t = time.perf_counter()
    scores, ntoks = [], 0
    pre = tok(prefix(row["query"]))
    llm.reset()
    if reuse:
        llm.eval(pre); npre = llm.n_tokens; ntoks += len(pre)
    for c in row["cands"][:topn]:
        suf = tok(suffix(passage(c, 160)))
        if reuse:
            llm.n_tokens = npre
            llm.eval(suf)
        else:
            llm.reset(); llm.eval(pre + suf); ntoks += len(pre)
        ntoks += len(suf)
        lg = logits()
        scores.append(float(lg[YES] - lg[NO]))
    ms = (time.perf_counter() - t) * 1000
    res.append({"qid": row["qid"], "scores": scores, "ms": ms, "tokens": ntoks})
    print(row["qid"], f"{ms:.0f} ms {ntoks} tok {ms/len(scores):.0f} ms/cand", flush=True)
json.dump(res, open(out, "w"), ensure_ascii=False)
