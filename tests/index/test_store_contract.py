"""The Store contract: every engine passes the same tests, so the pipeline cannot tell them apart.

Parametrised over `local` (LocalStore: SQLite + tantivy + faiss) and `milvus` (MilvusStore against a real
`milvus-lite server` process). Data: 30 real articles (劳动合同法 第十七–二十六条, 劳动法 第一–十条, 上海航运交易所管理规定
第一–十条) in 6 documents, seeded random unit vectors (dim 16), jieba tokens from zhiku.index.tokenize.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from zhiku.index.base import Filters, FusionParams, Store
from zhiku.retrieve.fusion import weighted_rrf
from zhiku.retrieve.hybrid import search

Q = "试用期最长多久"
ART19 = "中华人民共和国劳动合同法#第十九条"
ALL_IDS = [f"{d}-{p}#{i}" for d in ("ldht", "ldf", "hy") for p in (0, 1) for i in range(5)]


def bm25(store, q=Q, k=10, **kw):
    return search(store, q, None, k=k, mode="bm25", **kw)


def dense(store, vec, k=10, **kw):
    return search(store, "", vec, k=k, mode="dense", **kw)


def hybrid(store, vec, q=Q, k=10, **kw):
    return search(store, q, vec, k=k, mode="hybrid", **kw)


def ids(hits):
    return [h.chunk_id for h in hits]


# ---- basics -------------------------------------------------------------------------------------------------------


def test_is_a_store(store):
    assert isinstance(store, Store)
    assert store.dim == 16


def test_write_then_count(filled):
    assert filled.count() == {"documents": 6, "chunks": 30}


def test_empty_store(store, kit):
    assert store.count() == {"documents": 0, "chunks": 0}
    assert bm25(store) == [] and dense(store, kit.unit_vector("x")) == []
    assert store.get_chunks(["nope#0"]) == [] and store.doc_hashes() == {} and store.documents() == []


def test_rewrite_same_doc_does_not_duplicate(filled, corpus, kit):
    filled.write(corpus)
    filled.write(corpus[:2])
    assert filled.count() == {"documents": 6, "chunks": 30}
    assert ids(filled.get_chunks(ALL_IDS)) == ALL_IDS
    for hits in (bm25(filled, "劳动合同", k=50), dense(filled, kit.unit_vector("ldht-0#1"), k=50)):
        assert len(ids(hits)) == len(set(ids(hits)))
    assert len(dense(filled, kit.unit_vector("ldht-0#1"), k=50)) == 30


def test_changed_doc_with_fewer_chunks_replaces_old_chunks(filled, corpus, records, kit):
    new = kit.make_doc("ldht-0", records[:2], source="laws/ldht.md", version="修订")
    filled.write([new])
    assert filled.count() == {"documents": 6, "chunks": 27}
    assert filled.doc_hashes(["ldht-0"]) == {"ldht-0": new.doc.hash} != {"ldht-0": corpus[0].doc.hash}
    got = filled.get_chunks([f"ldht-0#{i}" for i in range(5)])
    assert ids(got) == ["ldht-0#0", "ldht-0#1"]
    assert [h.text for h in got] == [c.text for c in new.chunks]
    every = dense(filled, new.vectors[0], k=100)
    assert len(every) == 27
    assert every[0].chunk_id == "ldht-0#0" and every[0].text.endswith("（修订）")
    assert sorted(h.chunk_id for h in every if h.doc_id == "ldht-0") == ["ldht-0#0", "ldht-0#1"]
    assert all(h.text.endswith("（修订）") for h in every if h.doc_id == "ldht-0")
    assert all(h.doc_id != "ldht-0" or h.chunk_id in ("ldht-0#0", "ldht-0#1") for h in bm25(filled, "劳动合同", k=50))
    assert "（修订）" not in filled.get_chunks(["ldht-1#0"])[0].text


def test_delete(filled, kit):
    assert filled.delete(["ldht-0", "no-such-doc"]) == 1
    assert filled.delete(["ldht-0"]) == 0
    assert filled.count() == {"documents": 5, "chunks": 25}
    assert filled.get_chunks(["ldht-0#0", "ldht-0#4", "ldht-1#0"])[0].chunk_id == "ldht-1#0"
    assert len(filled.get_chunks(["ldht-0#0", "ldht-0#4"])) == 0
    assert "ldht-0" not in filled.doc_hashes()
    assert all(h.doc_id != "ldht-0" for h in dense(filled, kit.unit_vector("ldht-0#2"), k=100))
    assert all(h.doc_id != "ldht-0" for h in bm25(filled, "劳动合同", k=100))


# ---- search -------------------------------------------------------------------------------------------------------


def test_bm25_finds_article_19_first(filled):
    hits = bm25(filled)
    assert hits and hits[0].ref == ART19, [h.ref for h in hits]
    assert hits[0].title == "《中华人民共和国劳动合同法》第十九条"
    assert hits[0].meta["article"] == "第十九条" and "试用期不得超过六个月" in hits[0].text
    assert hits[0].scores["bm25"] > 0 and hits[0].score == hits[0].scores["bm25"]
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert "dense" not in hits[0].scores


def test_dense_finds_the_exact_vector_first(filled, corpus):
    for w in corpus:
        for c, v in zip(w.chunks, w.vectors):
            hits = dense(filled, v, k=3)
            assert hits[0].chunk_id == c.chunk_id and hits[0].doc_id == w.doc.doc_id
            assert hits[0].score == pytest.approx(1.0, abs=1e-4)
            assert hits[0].scores["dense"] == pytest.approx(1.0, abs=1e-4)
            assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_hybrid_is_weighted_rrf_of_the_two_rankings(filled, kit):
    vec = kit.unit_vector("ldf-1#3")
    b, d = bm25(filled, k=100), dense(filled, vec, k=100)
    assert b and len(d) == 30
    for bw, dw in ((1.0, 1.0), (2.0, 0.5), (0.3, 1.0)):
        fusion = FusionParams(bm25_weight=bw, dense_weight=dw, rrf_k=60, candidates=100)
        hits = hybrid(filled, vec, k=30, fusion=fusion)
        want = weighted_rrf([ids(b), ids(d)], [bw, dw], 60)[:30]
        assert [h.chunk_id for h in hits] == [c for c, _ in want]
        assert [h.score for h in hits] == pytest.approx([s for _, s in want])
        per = {h.chunk_id: h for h in b}
        for h in hits:  # per-retriever scores ride along
            assert h.scores["dense"] == pytest.approx(next(x.score for x in d if x.chunk_id == h.chunk_id))
            if h.chunk_id in per:
                assert h.scores["bm25"] == pytest.approx(per[h.chunk_id].score)
    # the union: every chunk either retriever found, when k covers it
    union = hybrid(filled, vec, k=100)
    assert set(ids(union)) == set(ids(b)) | set(ids(d))


def test_rank_one_view_at_a_time(filled, kit):
    """The narrow read side: each view ranks by itself, keys resolve to chunks, scores are the view's own."""
    assert set(filled.views) >= {"bm25", "dense"} and set(filled.views) <= {"bm25", "bigram", "dense"}
    vec = kit.unit_vector("ldht-0#2")
    for view in filled.views:
        ranking = filled.rank(view, vec if view == "dense" else Q, 5)
        assert 0 < len(ranking) <= 5 and all(a[1] >= b[1] for a, b in zip(ranking, ranking[1:])), view
        rows = filled.hits([key for key, _ in ranking])
        assert set(rows) == {key for key, _ in ranking} and all(h.score == 0 for h in rows.values())
    top = filled.hits([filled.rank("dense", vec, 1)[0][0]])
    assert [h.chunk_id for h in top.values()] == ["ldht-0#2"]
    law = "中华人民共和国劳动法"
    for view in filled.views:  # filters apply inside each view
        ranking = filled.rank(view, vec if view == "dense" else "劳动者 劳动合同", 30, Filters(laws=[law]))
        assert ranking and all(h.meta["law"] == law for h in filled.hits([k for k, _ in ranking]).values()), view
    assert filled.rank("bm25", "", 5) == [] and filled.rank("bm25", "。，的", 5) == []
    assert filled.rank("dense", vec, 0) == [] and filled.hits([]) == {}
    with pytest.raises(ValueError, match="view"):
        filled.rank("sparse", Q, 5)


def test_hybrid_fuses_every_view_the_engine_has(filled, kit):
    vec = kit.unit_vector("ldf-1#3")
    fusion = FusionParams(bm25_weight=1.0, dense_weight=1.5, bigram_weight=0.7, rrf_k=10, candidates=100)
    weights = {"bm25": 1.0, "dense": 1.5, "bigram": 0.7}
    views = [v for v in ("bm25", "dense", "bigram") if v in filled.views]
    rankings = [filled.rank(v, vec if v == "dense" else Q, 100) for v in views]
    rows = filled.hits(list({k for r in rankings for k, _ in r}))  # keys are the engine's own: compare chunk ids
    want = weighted_rrf([[rows[k].chunk_id for k, _ in r] for r in rankings], [weights[v] for v in views], 10)[:30]
    got = hybrid(filled, vec, k=30, fusion=fusion)
    assert [h.chunk_id for h in got] == [c for c, _ in want]
    assert [h.score for h in got] == pytest.approx([s for _, s in want])
    if "bigram" in filled.views:
        assert any("bigram" in h.scores for h in got)


def test_hybrid_with_zero_dense_weight_is_bm25_order(filled, kit):
    b = bm25(filled, k=10)
    h = hybrid(filled, kit.unit_vector("hy-0#0"), k=10, fusion=FusionParams(dense_weight=0.0))
    assert ids(h) == ids(b)
    assert h[0].ref == ART19
    only_dense = hybrid(filled, kit.unit_vector("hy-0#0"), k=5, fusion=FusionParams(bm25_weight=0.0))
    assert ids(only_dense) == ids(dense(filled, kit.unit_vector("hy-0#0"), k=5))


def test_filter_by_law(filled, kit):
    law = "中华人民共和国劳动法"
    vec = kit.unit_vector("ldht-0#2")  # a 劳动合同法 chunk, filtered out
    f = Filters(laws=[law])
    for hits in (dense(filled, vec, k=50, filters=f), hybrid(filled, vec, "劳动者 劳动合同", k=50, filters=f),
                 bm25(filled, "劳动者 劳动合同", k=50, filters=f)):
        assert hits and all(h.meta["law"] == law for h in hits)
    assert len(dense(filled, vec, k=50, filters=f)) == 10
    assert bm25(filled, k=10, filters=f) == [] or all(h.meta["law"] == law for h in bm25(filled, filters=f))
    two = dense(filled, vec, k=50, filters=Filters(laws=[law, "上海航运交易所管理规定"]))
    assert len(two) == 20 and ART19 not in [h.ref for h in two]
    assert dense(filled, vec, k=50, filters=Filters(laws=["没有这部法"])) == []


def test_filter_by_doc_id_and_law(filled, kit):
    vec = kit.unit_vector("ldht-0#2")
    hits = dense(filled, vec, k=50, filters=Filters(doc_ids=["ldht-1", "hy-0"]))
    assert len(hits) == 10 and {h.doc_id for h in hits} == {"ldht-1", "hy-0"}
    both = Filters(laws=["中华人民共和国劳动合同法"], doc_ids=["ldht-1", "hy-0"])
    assert {h.doc_id for h in dense(filled, vec, k=50, filters=both)} == {"ldht-1"}
    assert [h.ref for h in bm25(filled, filters=Filters(doc_ids=["ldht-0"]))][:1] == [ART19]
    assert bm25(filled, filters=Filters(doc_ids=["ldht-1"])) == [] or ART19 not in [
        h.ref for h in bm25(filled, filters=Filters(doc_ids=["ldht-1"]))]


def test_filter_values_with_quotes_and_backslashes(store, records, kit):
    odd = 'a"b\'c\\d 《法》'
    recs = [dict(r, law=odd) for r in records[:3]]
    store.write([kit.make_doc('doc "q"\\1', recs, source="odd"), kit.make_doc("plain", records[3:6], source="x")])
    hits = dense(store, kit.unit_vector("plain#0"), k=10, filters=Filters(laws=[odd]))
    assert len(hits) == 3 and all(h.meta["law"] == odd and h.doc_id == 'doc "q"\\1' for h in hits)
    hits = dense(store, kit.unit_vector("plain#0"), k=10, filters=Filters(doc_ids=['doc "q"\\1']))
    assert len(hits) == 3
    assert store.delete(['doc "q"\\1']) == 1 and store.count() == {"documents": 1, "chunks": 3}


# ---- registry -----------------------------------------------------------------------------------------------------


def test_get_chunks_in_order_skipping_unknown(filled, corpus):
    want = ["hy-1#4", "unknown#1", "ldht-0#2", "ldf-0#0", "ldht-0#99"]
    got = filled.get_chunks(want)
    assert ids(got) == ["hy-1#4", "ldht-0#2", "ldf-0#0"]
    assert got[1].ref == ART19 and got[1].doc_id == "ldht-0" and got[1].score == 0
    assert got[1].text == corpus[0].chunks[2].text and got[1].meta == corpus[0].chunks[2].meta
    assert filled.get_chunks([]) == []


def test_vectors_returns_every_chunk_with_its_ref(filled, corpus, kit):
    refs, vectors = filled.vectors()
    assert vectors.shape == (sum(len(w.chunks) for w in corpus), kit.dim) and vectors.dtype == np.float32
    want = {c.chunk_id: v for w in corpus for c, v in zip(w.chunks, w.vectors)}
    ref_of = {h.chunk_id: h.ref for h in filled.get_chunks(list(want))}
    # each (ref, vector) pair is one stored chunk's, whatever order the engine returns them in
    got = sorted((r, tuple(np.round(v, 5))) for r, v in zip(refs, vectors))
    expected = sorted((ref_of[c], tuple(np.round(v, 5))) for c, v in want.items())
    assert got == expected
    assert ART19 in refs


def test_vectors_of_an_empty_store(store, kit):
    refs, vectors = store.vectors()
    assert refs == [] and vectors.shape == (0, kit.dim)


def test_documents_by_source(filled, corpus):
    docs = filled.documents(source="laws/ldf.md")
    assert [d.doc_id for d in docs] == ["ldf-0", "ldf-1"]
    d = docs[0]
    assert (d.source, d.hash, d.chunks) == ("laws/ldf.md", corpus[2].doc.hash, 5)
    assert d.meta == corpus[2].doc.meta and d.updated_at > 1e9
    assert sorted(x.doc_id for x in filled.documents()) == sorted(w.doc.doc_id for w in corpus)
    assert filled.documents(source="nope") == []


def test_doc_hashes(filled, corpus):
    assert filled.doc_hashes() == {w.doc.doc_id: w.doc.hash for w in corpus}
    assert filled.doc_hashes(["hy-1", "nope"]) == {"hy-1": corpus[5].doc.hash}
    assert filled.doc_hashes([]) == {}


def test_reopen_sees_the_same_data(make_store, corpus, kit):
    s1 = make_store()
    s1.write(corpus)
    before = (ids(bm25(s1)), ids(dense(s1, kit.unit_vector("hy-0#3"))), s1.doc_hashes())
    s1.close()
    s2 = make_store()
    assert s2.count() == {"documents": 6, "chunks": 30}
    assert (ids(bm25(s2)), ids(dense(s2, kit.unit_vector("hy-0#3"))), s2.doc_hashes()) == before
    s2.delete(["hy-0"])
    s2.close()
    assert make_store().count() == {"documents": 5, "chunks": 25}


def test_drop_removes_everything(make_store, store_spec, corpus):
    s = make_store()
    s.write(corpus)
    s.drop()
    if store_spec["engine"] == "milvus":
        from pymilvus import MilvusClient

        from zhiku.index.milvus import collection_name

        c = MilvusClient(uri=store_spec["uri"])
        assert not c.has_collection(collection_name(store_spec["name"]))
        c.close()
        assert not Path(store_spec["registry"]).exists()
    else:
        assert not Path(store_spec["path"]).exists()
    fresh = make_store()
    assert fresh.count() == {"documents": 0, "chunks": 0} and fresh.get_chunks(ALL_IDS) == []


def test_chinese_kb_name(make_store, corpus):
    s = make_store(name="劳动法规库")
    s.write(corpus[:1])
    assert s.count() == {"documents": 1, "chunks": 5}
    assert bm25(s)[0].ref == ART19


# ---- crash consistency: a real SIGKILL in the middle of writes ----------------------------------------------------

# Writes, forever, batch i = [doc "A" version i (2..26 chunks), new doc "N<i>" (3 chunks)] and prints i after
# each write returns. With a crash point (milvus only) it SIGKILLs itself at that step of write 2 instead.
WRITER = r"""
import importlib.util, json, os, signal, sys
spec, conftest, records, crash_at = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
m = importlib.util.spec_from_file_location("contract_conftest", conftest)
cf = importlib.util.module_from_spec(m); m.loader.exec_module(cf)
recs = json.load(open(records, encoding="utf-8"))
store = cf.open_store(spec)

def batch(i):
    n = 2 + (i * 7) % 25
    return [cf.make_doc("A", [recs[j % 30] for j in range(i, i + n)], "a.md", version=f"v{i}"),
            cf.make_doc(f"N{i}", recs[i % 27 : i % 27 + 3], "n.md", version=f"n{i}")]

def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)

def after(fn):
    def run(*a, **k):
        out = fn(*a, **k)
        die()
    return run

if crash_at:
    store.write(batch(1)); print(1, flush=True)
    if crash_at == "insert":      # rows of version 2 inserted, registry not committed
        store._client.insert = after(store._client.insert)
    elif crash_at == "commit":    # version 2 committed, version 1 rows not yet deleted
        store._clean = die
    elif crash_at == "delete":    # delete of A announced in the registry, rows still there
        store._delete_docs = die
        store.delete(["A"])
    store.write(batch(2))
    sys.exit(3)
i = 0
while True:
    i += 1
    store.write(batch(i))
    print(i, flush=True)
"""


def check_consistent(store, engine, make_batch, a_versions: set[int], n_required: set[int], n_possible: set[int]):
    """After reopen: A is exactly one of `a_versions` (absent if empty), each N<i> is all there or not at all."""
    hashes = store.doc_hashes()
    probe = [f"A#{j}" for j in range(30)]
    a_chunks = []
    if not a_versions:
        assert "A" not in hashes and store.get_chunks(probe) == []
    else:
        v = next((i for i in a_versions if make_batch(i)[0].doc.hash == hashes["A"]), None)
        assert v is not None, f"A is none of the versions {sorted(a_versions)}"
        want = make_batch(v)[0]
        got = store.get_chunks(probe)
        assert [(h.chunk_id, h.text) for h in got] == [(c.chunk_id, c.text) for c in want.chunks], f"A is v{v}"
        a_chunks = want.chunks
        every = dense(store, want.vectors[0], k=500)
        assert every[0].chunk_id == "A#0"
        assert sorted(h.chunk_id for h in every if h.doc_id == "A") == sorted(c.chunk_id for c in a_chunks)
        assert all(h.text.endswith(f"（v{v}）") for h in every if h.doc_id == "A")
    present = {int(d[1:]) for d in hashes if d != "A"}
    assert n_required <= present <= n_required | n_possible, "a written doc was lost or an unknown doc appeared"
    for i in n_required | n_possible:
        got = store.get_chunks([f"N{i}#{j}" for j in range(3)])
        if i in present:
            assert hashes[f"N{i}"] == make_batch(i)[1].doc.hash
            assert [h.text for h in got] == [c.text for c in make_batch(i)[1].chunks]
        else:
            assert got == [], f"N{i} was never committed but left chunks"
    assert store.count() == {"documents": len(hashes), "chunks": len(a_chunks) + 3 * len(present)}
    if engine == "milvus":  # and no stray rows are left in the collection itself
        rows = store._client.query(store.collection, filter='doc_id != ""', output_fields=["chunk_id"])
        assert sorted(r["chunk_id"] for r in rows) == sorted(
            [c.chunk_id for c in a_chunks] + [f"N{i}#{j}" for i in present for j in range(3)])


def _python(script: str, *args: str, **popen) -> subprocess.Popen:
    """`script` in another Python process that imports this checkout's zhiku."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[2] / "src"),
                                                       os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **popen)


def _spawn(kit, store_spec, tmp_path, records, crash_at=""):
    rec_file = tmp_path / "records.json"
    rec_file.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return _python(WRITER, json.dumps(store_spec), str(kit.conftest), str(rec_file), crash_at)


def _batcher(kit, records):
    recs = json.loads(json.dumps(records, ensure_ascii=False))

    def make_batch(i):
        n = 2 + (i * 7) % 25
        return [kit.make_doc("A", [recs[j % 30] for j in range(i, i + n)], "a.md", version=f"v{i}"),
                kit.make_doc(f"N{i}", recs[i % 27 : i % 27 + 3], "n.md", version=f"n{i}")]

    return make_batch


@pytest.mark.parametrize("delay", [0.0, 0.1, 0.35, 0.8])
def test_sigkill_mid_write_leaves_no_half_document(make_store, store_spec, engine, kit, tmp_path, records, delay):
    proc = _spawn(kit, store_spec, tmp_path, records)
    try:
        first = proc.stdout.readline()
        assert first.strip() == "1", proc.stderr.read()
        time.sleep(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    last = int(([first] + out.split())[-1])
    store = make_store()  # reopen: recovery runs here
    done = set(range(1, last + 1))
    check_consistent(store, engine, _batcher(kit, records), {last, last + 1}, done, {last + 1})
    store.write(_batcher(kit, records)(last + 5))  # and the KB is writable again
    check_consistent(store, engine, _batcher(kit, records), {last + 5}, done | {last + 5}, {last + 1})


@pytest.mark.parametrize("engine", ["milvus"])  # steps of the Milvus write protocol; local has the test above
@pytest.mark.parametrize("crash_at", ["insert", "commit", "delete"])
def test_sigkill_at_each_write_step(make_store, store_spec, engine, kit, tmp_path, records, crash_at):
    proc = _spawn(kit, store_spec, tmp_path, records, crash_at)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    assert out.split() == ["1"]
    make_batch = _batcher(kit, records)
    store = make_store()
    if crash_at == "insert":  # version 2 never committed: A is still v1, N2 absent
        check_consistent(store, engine, make_batch, {1}, {1}, set())
    elif crash_at == "commit":  # committed: A is v2 and the leftover v1 rows are gone
        check_consistent(store, engine, make_batch, {2}, {1, 2}, set())
    else:  # delete announced: A is gone for good, rows included
        check_consistent(store, engine, make_batch, set(), {1}, set())


@pytest.mark.parametrize("engine", ["milvus"])  # local commits in one SQLite transaction: no in-between to observe
def test_readers_never_see_an_uncommitted_write(make_store, store_spec, engine, kit, tmp_path, records):
    """Between insert and commit another reader (no recovery: the writer holds the lock) sees only v1."""
    make_batch = _batcher(kit, records)
    w = make_store()
    w.write(make_batch(1))
    reader = make_store()
    seen = {}
    real_insert = w._client.insert

    def insert_then_look(*a, **k):
        out = real_insert(*a, **k)
        seen["A"] = [(h.chunk_id, h.text) for h in reader.get_chunks([f"A#{j}" for j in range(30)])]
        seen["N2"] = reader.get_chunks(["N2#0"])
        seen["dense"] = [h.chunk_id for h in dense(reader, make_batch(2)[0].vectors[0], k=100) if h.doc_id == "A"]
        return out

    w._client.insert = insert_then_look
    w.write(make_batch(2))
    v1 = make_batch(1)[0]
    assert seen["A"] == [(c.chunk_id, c.text) for c in v1.chunks] and seen["N2"] == []
    assert sorted(seen["dense"]) == sorted(c.chunk_id for c in v1.chunks)
    check_consistent(reader, engine, make_batch, {2}, {1, 2}, set())


# ---- one writer per knowledge base ---------------------------------------------------------------------------------

# Opens the store, holds it as the writer (looking like `zhiku ingest docs`), prints "held", and lets go when its
# stdin closes.
HOLDER = r"""
import importlib.util, json, sys
spec, conftest = json.loads(sys.argv[1]), sys.argv[2]
m = importlib.util.spec_from_file_location("contract_conftest", conftest)
cf = importlib.util.module_from_spec(m); m.loader.exec_module(cf)
store = cf.open_store(spec)
sys.argv = ["zhiku", "ingest", "docs"]
with store.writer():
    print("held", flush=True)
    sys.stdin.read()
store.close()
"""


def test_a_second_writer_is_refused_at_once_or_waits(make_store, store_spec, kit, corpus):
    from zhiku.errors import LockedError

    holder = _python(HOLDER, json.dumps(store_spec), str(kit.conftest), stdin=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()
        store = make_store()
        t = time.monotonic()
        with pytest.raises(LockedError, match=rf"locked by another process \(pid {holder.pid}: zhiku ingest docs\)"):
            with store.writer():
                store.write(corpus[:1])
        assert time.monotonic() - t < 2
        t = time.monotonic()
        threading.Timer(1.0, holder.stdin.close).start()
        with store.writer(timeout=60):
            waited = time.monotonic() - t
            store.write(corpus[:1])
        assert 0.8 < waited < 30
    finally:
        holder.kill()
        holder.wait()
    assert store.count() == {"documents": 1, "chunks": 5}


# ---- engine-specific errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["milvus"])
def test_unreachable_milvus_is_a_backend_error(engine, tmp_path):
    from zhiku.errors import BackendError
    from zhiku.index.milvus import MilvusStore

    from zhiku.loadtest.process import free_port

    port = free_port()
    with pytest.raises(BackendError, match=rf"Milvus at http://127.0.0.1:{port}"):
        MilvusStore(f"http://127.0.0.1:{port}", "x", 16, registry_path=tmp_path / "r.sqlite")


@pytest.mark.parametrize("engine", ["milvus"])
def test_local_milvus_db_open_elsewhere_is_locked(engine, tmp_path, corpus):
    from zhiku.errors import LockedError
    from zhiku.index.milvus import MilvusStore

    db = tmp_path / "kb.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pymilvus import MilvusClient; "
         "MilvusClient(sys.argv[1]).list_collections(); print('ok', flush=True); time.sleep(120)", str(db)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(LockedError, match=re.escape(str(db))):
            MilvusStore(str(db), "x", 16, registry_path=tmp_path / "r.sqlite")
    finally:
        holder.kill()
        holder.wait()
    s = MilvusStore(str(db), "x", 16, registry_path=tmp_path / "r.sqlite")  # embedded, once free
    s.write(corpus[:2])
    assert s.count() == {"documents": 2, "chunks": 10} and bm25(s)[0].ref == ART19
    s.close()
    s = MilvusStore(str(db), "x", 16, registry_path=tmp_path / "r.sqlite")  # reopen in the same process
    assert bm25(s)[0].ref == ART19
    s.close()
