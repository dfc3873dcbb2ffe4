"""Stores that repair themselves and can be checked and backed up (issue 13).

Derived indexes of the local engine (tantivy, faiss) are checked against store.sqlite on open and rebuilt when
missing, stale or unreadable; Store.check verifies each engine's files and counts; snapshot/load copy a knowledge
base consistently, also while another process writes. Same data and engines as the contract tests.
"""
from __future__ import annotations

import logging
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from tests.index.test_store_contract import ART19, _batcher, _spawn, bm25, check_consistent, dense
from zhiku.errors import CorruptStoreError, KBExistsError
from zhiku.index.locks import WriterLock

LOCAL = pytest.mark.parametrize("engine", ["local"])
MILVUS = pytest.mark.parametrize("engine", ["milvus"])


def garbage(path: Path, size: int = 4096) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(size))


def truncate_segments(kb: Path) -> None:
    files = list((kb / "tantivy").glob("*.idx"))
    assert files
    for f in files:
        f.write_bytes(b"")


# how each derived index of the local engine gets lost or damaged, given the knowledge base's folder
DAMAGE = {
    "tantivy folder deleted, stamp kept": lambda kb: shutil.rmtree(kb / "tantivy"),
    "tantivy meta.json damaged": lambda kb: (kb / "tantivy" / "meta.json").write_text("{not json"),
    "tantivy segment files truncated": truncate_segments,
    "tantivy stamp stale": lambda kb: (kb / "tantivy.gen").write_text("0"),
    "dense.faiss deleted, stamp kept": lambda kb: (kb / "dense.faiss").unlink(),
    "dense.faiss damaged": lambda kb: garbage(kb / "dense.faiss"),
    "dense.faiss truncated": lambda kb: (kb / "dense.faiss").write_bytes((kb / "dense.faiss").read_bytes()[:1000]),
}


def filled_then_closed(make_store, corpus) -> None:
    s = make_store()
    s.write(corpus)
    s.flush()
    s.close()


def assert_searchable(store, corpus) -> None:
    assert store.count() == {"documents": 6, "chunks": 30}
    assert bm25(store)[0].meta["id"] == ART19
    assert dense(store, corpus[3].vectors[2])[0].chunk_id == corpus[3].chunks[2].chunk_id


# ---- local: derived indexes rebuilt on open -----------------------------------------------------------------------


@LOCAL
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_lost_or_damaged_derived_index_is_rebuilt_on_open(make_store, store_spec, corpus, damage, caplog):
    filled_then_closed(make_store, corpus)
    DAMAGE[damage](Path(store_spec["path"]))
    with caplog.at_level(logging.WARNING, logger="zhiku.index"):
        store = make_store()
    assert_searchable(store, corpus)
    assert [p.repaired for p in store.repaired] == [True], store.repaired
    assert "rebuilt from" in caplog.text and store.repaired[0].what.split(":")[0] in caplog.text
    report = store.check()  # what open repaired is reported; nothing is left wrong
    assert report.ok and report.problems == store.repaired
    assert report.counts == {"documents": 6, "chunks": 30, "keyword": 30, "dense": 30}
    store.close()
    again = make_store()  # the repair was written to disk: the next open finds nothing to do
    assert again.repaired == [] and again.check().problems == []


@LOCAL
def test_a_new_store_reports_no_repairs(store, caplog):
    assert store.repaired == [] and store.check().ok
    assert "rebuilt" not in caplog.text


@LOCAL
def test_an_unreadable_index_under_another_writer_is_searched_in_memory(make_store, store_spec, corpus):
    """The writer holding the lock may be writing there: leave the disk to it, search a copy rebuilt in RAM."""
    kb = Path(store_spec["path"])
    filled_then_closed(make_store, corpus)
    DAMAGE["tantivy meta.json damaged"](kb)
    other = WriterLock(kb / "LOCK", "the other writer")
    other.acquire()
    try:
        store = make_store()
        assert_searchable(store, corpus)
        assert store.repaired == []
        report = store.check()
        assert not report.ok and "keyword index: tantivy/ is unreadable" in report.problems[0].what
    finally:
        other.release()
    assert store.check(repair=True).ok
    assert store.check().problems == []


@LOCAL
def test_check_finds_and_repairs_damage_on_an_open_store(filled, store_spec, corpus):
    kb = Path(store_spec["path"])
    filled.flush()
    shutil.rmtree(kb / "tantivy")
    garbage(kb / "dense.faiss")
    report = filled.check()
    assert not report.ok
    assert [(p.what.split(":")[0], p.repaired) for p in report.problems] == [("keyword index", False),
                                                                            ("dense index", False)]
    assert "--repair" in report.problems[0].fix
    assert report.counts == {"documents": 6, "chunks": 30}  # neither index on disk could be read
    report = filled.check(repair=True)
    assert report.ok and [p.repaired for p in report.problems] == [True, True]
    assert filled.check().problems == []
    assert_searchable(filled, corpus)
    filled.write([corpus[0]])  # still writable after its keyword index was replaced under it
    assert_searchable(filled, corpus)


@LOCAL
def test_check_says_what_it_cannot_repair(filled, store_spec):
    db = sqlite3.connect(Path(store_spec["path"]) / "store.sqlite")
    db.execute("UPDATE documents SET chunks = 9 WHERE doc_id = 'ldht-0'")
    db.commit()
    db.close()
    report = filled.check(repair=True)
    assert not report.ok
    assert report.problems[0].what == "store.sqlite: its documents list 34 chunks, its chunks table holds 30"
    assert "zhiku kb import" in report.problems[0].fix and not report.problems[0].repaired


def damage_page(path: Path, page: int) -> None:
    size = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    with open(path, "r+b") as f:
        f.seek(page * size)
        f.write(np.random.default_rng(1).bytes(size))


@LOCAL
def test_check_runs_sqlite_integrity_check(filled, store_spec):
    path = Path(store_spec["path"]) / "store.sqlite"
    filled.close()
    damage_page(path, root_page(path, "documents_source"))  # an index no open or search reads
    store = filled.__class__(path.parent, store_spec["name"], store_spec["dim"])
    try:
        report = store.check()
    finally:
        store.close()
    assert not report.ok
    assert report.problems[0].what.startswith(f"{path} fails SQLite's integrity check")


def root_page(path: Path, name: str) -> int:
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file, where the damage goes
    page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
    db.close()
    return page - 1  # SQLite numbers pages from 1


@LOCAL
@pytest.mark.parametrize("where", ["header", "chunks table"])
def test_a_damaged_store_sqlite_is_one_error_naming_it(make_store, store_spec, corpus, where):
    path = Path(store_spec["path"]) / "store.sqlite"
    filled_then_closed(make_store, corpus)
    if where == "header":
        garbage(path, 100)
    else:
        damage_page(path, root_page(path, "chunks"))
    with pytest.raises(CorruptStoreError) as e:
        make_store().get_chunks(["ldht-0#0"])  # on open, or on the first read of the damaged page
    assert str(e.value).startswith(f"{path}: damaged SQLite database (")
    assert "zhiku kb import" in str(e.value)


# ---- Milvus: the collection against its registry ------------------------------------------------------------------


def _stored_rows(store, doc_id: str) -> list[dict]:
    from zhiku.index.milvus import _STORED, quote

    return store._client.query(store.collection, filter=f"doc_id == {quote(doc_id)}", output_fields=_STORED + ["dense"])


@MILVUS
def test_milvus_check_compares_the_collection_with_its_registry(filled):
    report = filled.check()
    assert report.ok and report.problems == []
    assert report.counts == {"documents": 6, "chunks": 30, "collection": 30, "committed": 30}

    stray = [dict(r, pk=f"{i:032x}", rev="0" * 16) for i, r in enumerate(_stored_rows(filled, "hy-1"))]
    filled._client.insert(filled.collection, stray)  # rows of a version nobody committed
    report = filled.check()
    assert not report.ok and report.problems[0].what.endswith("5 rows no committed document owns")
    assert report.counts["collection"] == 35 and report.counts["committed"] == 30
    assert filled.check(repair=True).ok
    assert filled.check().counts["collection"] == 30

    with filled._txn() as db:  # a writer that died between announcing and committing
        db.execute("UPDATE docs SET pending_rev = 'deadbeef' WHERE doc_id = 'ldf-0'")
    report = filled.check()
    assert "1 documents with an unfinished write" in report.problems[0].what and not report.ok
    assert filled.check(repair=True).ok and filled.check().problems == []

    filled._client.delete(filled.collection, filter='doc_id == "ldht-1"')  # rows lost: only a re-ingest helps
    report = filled.check(repair=True)
    assert not report.ok
    assert "the rows of 1 documents are missing or incomplete (ldht-1)" in report.problems[0].what
    assert "ingest those documents again" in report.problems[0].fix


# ---- snapshot and load (both engines) -----------------------------------------------------------------------------


def other_store(make_store, store_spec, tmp_path, tag: str):
    return make_store(name=f"{store_spec['name']}_{tag}", path=str(tmp_path / tag),
                      registry=str(tmp_path / f"{tag}.sqlite"))


def test_snapshot_and_load_round_trip(filled, make_store, store_spec, engine, corpus, tmp_path):
    snap = tmp_path / "snap"
    snap.mkdir()
    assert filled.snapshot(snap) == {"documents": 6, "chunks": 30}
    if engine == "local":  # one self-contained file: no -wal beside it, the derived indexes are rebuilt
        assert sorted(p.name for p in snap.iterdir()) == ["store.sqlite"]
    copy = other_store(make_store, store_spec, tmp_path, "copy")
    copy.load(snap)
    assert copy.count() == filled.count()
    assert [(d.doc_id, d.source, d.hash, d.chunks, d.meta) for d in copy.documents()] == [
        (d.doc_id, d.source, d.hash, d.chunks, d.meta) for d in filled.documents()]
    every = [c.chunk_id for w in corpus for c in w.chunks]
    assert [(h.text, h.meta) for h in copy.get_chunks(every)] == [(h.text, h.meta) for h in filled.get_chunks(every)]
    assert [h.chunk_id for h in bm25(copy)] == [h.chunk_id for h in bm25(filled)]
    refs, vecs = copy.vectors()
    assert np.array_equal(vecs[np.argsort(refs)], filled.vectors()[1][np.argsort(filled.vectors()[0])])
    assert copy.check().ok
    assert copy.doc_hashes() == filled.doc_hashes()  # so re-ingesting the same files finds them unchanged
    with pytest.raises(KBExistsError, match="is not empty"):
        copy.load(snap)


@LOCAL
def test_load_refuses_a_damaged_snapshot(make_store, store_spec, tmp_path):
    snap = tmp_path / "snap"
    snap.mkdir()
    garbage(snap / "store.sqlite")
    store = other_store(make_store, store_spec, tmp_path, "copy")
    with pytest.raises(CorruptStoreError, match="store.sqlite: damaged SQLite database"):
        store.load(snap)
    assert store.count() == {"documents": 0, "chunks": 0}


def test_snapshot_while_another_process_writes(make_store, store_spec, engine, kit, tmp_path, records):
    """Every write of the other process is all in the snapshot or not at all."""
    writer = _spawn(kit, store_spec, tmp_path, records)
    snap = tmp_path / "snap"
    snap.mkdir()
    try:
        assert writer.stdout.readline().strip() == "1", writer.stderr.read()
        time.sleep(0.3)
        reader = make_store()
        reader.snapshot(snap)
    finally:
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate(timeout=30)
    last = max([1] + [int(x) for x in out.split()])
    copy = other_store(make_store, store_spec, tmp_path, "copy")
    copy.load(snap)
    make_batch = _batcher(kit, records)
    versions = set(range(1, last + 2))
    check_consistent(copy, engine, make_batch, versions, {1}, versions)
    hashes = copy.doc_hashes()
    v = next(i for i in versions if make_batch(i)[0].doc.hash == hashes["A"])
    assert sorted(d for d in hashes if d != "A") == sorted(f"N{i}" for i in range(1, v + 1))  # batch v and no other
    assert copy.check().ok


# ---- kb export / import of both engines, through the catalog ------------------------------------------------------


def test_export_import_between_homes(engine, request, tmp_path, corpus, kit):
    """The archive carries the engine's snapshot and the catalog entry; a second home restores it under a new name
    (for Milvus, into a new collection of its own server)."""
    import uuid

    from zhiku.backup import export_kb, import_kb
    from zhiku.config import Settings, StoreSettings
    from zhiku.index.base import DocWrite
    from zhiku.kb import KnowledgeBases

    uri = request.getfixturevalue("milvus_uri") if engine == "milvus" else ""
    prefix = f"t{uuid.uuid4().hex[:8]}_"  # collections of this test only, on the shared server
    homes = [Settings(home=tmp_path / h, store=StoreSettings(backend=engine, uri=uri, collection_prefix=prefix))
             for h in ("a", "b")]
    a, b = KnowledgeBases(homes[0]), KnowledgeBases(homes[1])
    try:
        a.create("laws", description="backup test")
        dim = a.get("laws").dim  # the configured embedder's; vectors need only the right shape here
        docs = [DocWrite(w.doc, w.chunks, np.stack([kit.unit_vector(c.chunk_id, dim) for c in w.chunks]))
                for w in corpus]
        a.open("laws").store.write(docs)
        archive = tmp_path / "laws.tar.gz"
        manifest = export_kb(a, "laws", archive)
        assert manifest["kb"]["store"] == engine and manifest["kb"]["stats"] == {"documents": 6, "chunks": 30}
        info = import_kb(b, archive, "copy")
        assert (info.name, info.store, info.description, info.stats) == ("copy", engine, "backup test",
                                                                          {"documents": 6, "chunks": 30})
        assert b.check("copy").ok
        src, dst = a.open("laws").store, b.open("copy").store
        assert dst.doc_hashes() == src.doc_hashes()
        assert [h.chunk_id for h in bm25(dst)] == [h.chunk_id for h in bm25(src)]
        assert sorted(p.name for p in b.root.iterdir()) == ["copy"]  # no staging folder left
        with pytest.raises(KBExistsError, match="'copy' already exists"):
            import_kb(b, archive, "copy")
        if engine == "milvus":  # b's "laws" would be a's collection on the shared server: refused, left alone
            with pytest.raises(KBExistsError, match="is not empty"):
                import_kb(b, archive)
            assert a.check("laws").ok and a.info("laws").stats == {"documents": 6, "chunks": 30}
            assert not b.exists("laws") and sorted(p.name for p in b.root.iterdir()) == ["copy"]
    finally:
        for kbs in (a, b):
            for kb in kbs.list():
                kbs.delete(kb.name)
            kbs.close()
