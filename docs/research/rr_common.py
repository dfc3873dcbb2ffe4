"""Shared bits for the reranker study: candidate loading, passage formatting, metrics."""
import json, re, statistics

def load(path="/tmp/rr_cands.json"):
    return json.load(open(path, encoding="utf-8"))

def passage(c, max_chars=None):
    """Law title + article text (the stored text lacks the law name)."""
    m = c.get("meta", {})
    text = c["text"]
    art = m.get("article") or ""
    if art and text.startswith(art):
        text = text[len(art):].strip()
    if max_chars:
        text = text[:max_chars]
    law = m.get("law") or ""
    return f"《{law}》{art}：{text}" if law else text

def metrics(rows, orders):
    """rows: candidate rows; orders: list (per row) of candidate index lists, best first."""
    r5 = r10 = mrr = 0.0
    for row, order in zip(rows, orders):
        refs = [row["cands"][i]["ref"] for i in order]
        gold = set(row["gold"])
        r5 += len(gold & set(refs[:5])) / len(gold)
        r10 += len(gold & set(refs[:10])) / len(gold)
        for rank, ref in enumerate(refs[:10], 1):
            if ref in gold:
                mrr += 1 / rank
                break
    n = len(rows)
    return {"R@5": r5 / n, "R@10": r10 / n, "MRR@10": mrr / n}

def order_by(scores):
    return sorted(range(len(scores)), key=lambda i: -scores[i])

def rrf(orders_list, k=60, weights=None):
    """Fuse several rankings (each a list of candidate indices, best first)."""
    weights = weights or [1.0] * len(orders_list)
    n = len(orders_list[0])
    s = [0.0] * n
    for w, order in zip(weights, orders_list):
        for rank, i in enumerate(order):
            s[i] += w / (k + rank + 1)
    return order_by(s)

def p50(xs):
    return statistics.median(xs) if xs else float("nan")
