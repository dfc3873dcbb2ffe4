"""Fitting a query adapter on real questions against a real KB (three statutes, the bundled embedder), and the
`zhiku train adapter` command end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zhiku.errors import InputError


@pytest.fixture(scope="module")
def civil_kb(tmp_path_factory, law_files):
    """The whole 民法典 (where most STARD questions land) plus the test statutes: ~1,400 articles, ~15 s."""
    from zhiku.config import Settings
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.kb import KnowledgeBases

    s = Settings(home=tmp_path_factory.mktemp("civil_home"))
    c = KnowledgeBases(s)
    c.create("civil")
    kb = c.open("civil")
    files = sorted((law_files[0].parents[1] / "民法典").glob("*.md")) + list(law_files)
    report = Ingestor(kb, s).ingest(list(dict.fromkeys(files)))
    assert report.ok, report.files_failed
    yield kb
    c.close()


@pytest.fixture(scope="module")
def stard_civil(fixtures) -> list[dict]:
    """The 293 STARD dev questions whose gold articles all lie in 民法典, 劳动合同法 or 消费者权益保护法."""
    return [json.loads(x) for x in (fixtures / "stard_civil.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def pairs(civil_kb, stard_civil):
    """STARD dev questions whose gold articles are all in the test KB, their raw question vectors, the corpus."""
    from zhiku.train.query_adapter import Corpus

    kb = civil_kb
    refs, vectors = kb.store.vectors()
    corpus = Corpus.from_rows(refs, vectors)
    known = set(corpus.refs)
    qs = stard_civil
    assert len(qs) >= 200, len(qs)
    assert not [q["qid"] for q in qs if not all(g in known for g in q["gold"])]  # each gold article is in the KB
    base = getattr(kb.embedder, "base", kb.embedder)
    qv = np.stack([base.embed_query(q["query"]) for q in qs])
    return qs, qv, corpus


def test_fit_moves_questions_to_their_articles(pairs):
    from zhiku.train.query_adapter import FitParams, fit, rank_metrics

    qs, qv, corpus = pairs
    gold = [q["gold"] for q in qs]
    targets, kept = corpus.positives(gold)
    assert kept == list(range(len(qs)))
    losses: list[float] = []
    w = fit(qv, targets, corpus.vectors, FitParams(epochs=30), progress=lambda i, n, loss: losses.append(loss))
    assert len(losses) == 30 and losses[-1] < 0.8 * losses[0]
    before = rank_metrics(qv, gold, corpus)
    adapted = qv @ w.T
    after = rank_metrics(adapted / np.linalg.norm(adapted, axis=1, keepdims=True), gold, corpus)
    assert after["recall@10"] > before["recall@10"] + 0.1 and after["mrr@10"] > before["mrr@10"] + 0.1, (before, after)


def test_weight_decay_keeps_the_identity(pairs):
    from zhiku.train.query_adapter import FitParams, fit

    qs, qv, corpus = pairs
    targets, _ = corpus.positives([q["gold"] for q in qs])
    w = fit(qv, targets, corpus.vectors, FitParams(epochs=10, weight_decay=1e4, lr=1e-3))
    assert np.abs(w - np.eye(w.shape[0])).max() < 0.02


def test_cross_validation_scores_held_out_questions(pairs):
    from zhiku.train.query_adapter import FitParams, cross_validate

    qs, qv, corpus = pairs
    gold = [q["gold"] for q in qs]
    cv = cross_validate(qv, gold, corpus, FitParams(epochs=15), folds=3)
    assert cv["questions"] == len(qs) and set(cv) >= {"identity", "adapted"}
    assert set(cv["adapted"]) == {"recall@10", "recall@100", "mrr@10"}
    assert all(0 <= v <= 1 for v in cv["adapted"].values())
    with pytest.raises(InputError, match="--folds"):
        cross_validate(qv, gold, corpus, folds=1)


def test_fit_without_pairs_says_so(pairs):
    from zhiku.train.query_adapter import fit

    _, qv, corpus = pairs
    with pytest.raises(InputError, match="no training pairs"):
        fit(qv[:0], qv[:0], corpus.vectors)


def test_train_adapter_records_how_it_was_fitted(civil_kb, pairs, tmp_path):
    from zhiku.eval.dataset import Query
    from zhiku.train.query_adapter import FitParams, train_adapter, training_set

    queries = [Query(str(i), q["query"], q["gold"]) for i, q in enumerate(pairs[0][:40])]
    queries.append(Query("x", "离婚后孩子归谁", ["不在库中的法#第一条"]))
    data = training_set(civil_kb, queries, tmp_path / "pairs.jsonl")
    assert data.left_out == 1 and len(data.questions) == 40
    stages: dict[str, tuple[int, int]] = {}
    adapter = train_adapter(civil_kb.embedder, data, FitParams(epochs=3), folds=2,
                            progress=lambda stage, i, n: stages.__setitem__(stage, (i, n)))
    assert stages == {"embed questions": (40, 40), "2-fold cross-validation": (2, 2), "fit": (3, 3)}
    info = adapter.info
    assert (info["kb"], info["dataset"], info["questions"]) == ("civil", "pairs.jsonl", 40)
    assert info["cross_validation"]["folds"] == 2 and info["params"]["epochs"] == 3
    assert adapter.seen([q.query for q in queries]) == 40  # what flags an evaluation on them as in-sample
    with pytest.raises(InputError, match="none.jsonl: no question has its gold article in knowledge base 'civil'"):
        train_adapter(civil_kb.embedder, training_set(civil_kb, queries[-1:], tmp_path / "none.jsonl"))


# ---- the command --------------------------------------------------------------------------------------------------

ZHIKU = [sys.executable, "-m", "zhiku.cli"]


def run(home: Path, *args: str, check: int | None = 0, **env) -> subprocess.CompletedProcess:
    p = subprocess.run(ZHIKU + list(args), capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, ZHIKU_HOME=str(home), **env))
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def test_train_adapter_command_end_to_end(tmp_path, law_files, stard_civil):
    home = tmp_path / "home"
    run(home, "ingest", str(law_files[0]), "--kb", "laws", "--create")
    data = tmp_path / "pairs.jsonl"
    lines = [q for q in stard_civil if all(g.startswith("中华人民共和国劳动合同法#") for g in q["gold"])]
    assert len(lines) >= 10, len(lines)
    other = {"qid": "x", "query": "离婚后孩子归谁", "gold": ["中华人民共和国民法典#第一千零八十四条"]}  # not in this KB
    data.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in [*lines, other]), encoding="utf-8")
    out = tmp_path / "a.npz"
    p = run(home, "train", "adapter", "--kb", "laws", "--dataset", str(data), "--folds", "2", "--epochs", "10",
            "--out", str(out), "--json")
    report = json.loads(p.stdout)
    assert report["path"] == str(out) and out.is_file()
    assert report["questions"] == len(lines) and "1 of" in p.stderr  # the question without gold here is named
    assert report["cross_validation"]["folds"] == 2
    # the adapter is used by search, and a KB with another embedder refuses it with a clear error
    hits = json.loads(run(home, "search", "试用期最长多久", "--kb", "laws", "--json",
                          ZHIKU_EMBEDDER__QUERY_ADAPTER=str(out)).stdout)["hits"]
    assert "中华人民共和国劳动合同法#第十九条" in [h["ref"] for h in hits]
    # evaluating on the questions it was fitted on is flagged as in-sample, on stderr and in the JSON
    p = run(home, "eval", "retrieval", "--kb", "laws", "--dataset", str(data), "--stages", "dense", "--json",
            ZHIKU_EMBEDDER__QUERY_ADAPTER=str(out))
    assert f"fitted on {len(lines)} of these {len(lines) + 1} questions" in p.stderr
    assert json.loads(p.stdout)["adapter_fitted_on"] == len(lines)
    p = run(home, "eval", "retrieval", "--kb", "laws", "--dataset", str(data), "--stages", "dense", "--json",
            ZHIKU_EMBEDDER__QUERY_ADAPTER="none")
    assert "in-sample" not in p.stderr and "adapter_fitted_on" not in json.loads(p.stdout)
    from zhiku.index.embedders import QueryAdapter

    a = QueryAdapter.load(out)
    QueryAdapter(a.weight[:8, :8], "other-embedder").save(tmp_path / "other.npz")
    p = run(home, "search", "试用期", "--kb", "laws", check=2, ZHIKU_EMBEDDER__QUERY_ADAPTER=str(tmp_path / "other.npz"))
    assert "fitted for embedder 'other-embedder'" in p.stderr and "query_adapter" in p.stderr
    p = run(home, "train", "adapter", "--kb", "laws", "--dataset", str(tmp_path / "none.jsonl"), check=2)
    assert "none.jsonl" in p.stderr
