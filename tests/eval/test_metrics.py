import math

from zhiku.eval.metrics import mrr_at, ndcg_at, recall_at


def test_recall_counts_gold_in_top_k():
    ranked = ["a", "b", "c", "d"]
    assert recall_at(ranked, {"b", "x"}, 1) == 0.0
    assert recall_at(ranked, {"b", "x"}, 2) == 0.5
    assert recall_at(ranked, {"b", "d"}, 10) == 1.0


def test_mrr_first_gold_rank():
    assert mrr_at(["a", "b", "c"], {"c"}, 10) == 1 / 3
    assert mrr_at(["a", "b", "c"], {"c"}, 2) == 0.0


def test_ndcg_binary_gains():
    assert ndcg_at(["g", "a"], {"g"}, 10) == 1.0
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert abs(ndcg_at(["a", "g", "h"], {"g", "h"}, 2) - expected) < 1e-9
