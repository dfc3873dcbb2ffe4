"""The ingest component against a real store, real embedder and real files."""
import json
import time

import pytest

from tests.index.test_locks import held_elsewhere
from zhiku.errors import LockedError
from zhiku.ingest.ingestor import Ingestor


def _kb(kbs, name="t"):
    kbs.create(name)
    return kbs.open(name)


def test_idempotent_and_changed_file_replaces(kbs, settings, law_copy):
    kb = _kb(kbs)
    r1 = Ingestor(kb, settings).ingest([law_copy])
    assert r1.ok and r1.added == 1 and r1.chunks == 98  # 劳动合同法: 98 articles
    assert kb.store.count() == {"documents": 1, "chunks": 98}
    r2 = Ingestor(kb, settings).ingest([law_copy])
    assert r2.unchanged == 1 and r2.added == 0 and r2.chunks == 0
    assert kb.store.count()["chunks"] == 98
    # drop the last article: the new version replaces all old chunks
    text = law_copy.read_text(encoding="utf-8")
    cut = text.rindex("第九十八条")
    law_copy.write_text(text[:cut], encoding="utf-8")
    r3 = Ingestor(kb, settings).ingest([law_copy])
    assert r3.updated == 1
    assert kb.store.count() == {"documents": 1, "chunks": 97}


def test_jsonl_records_keep_ids_and_vanished_records_leave(kbs, settings, tmp_path):
    kb = _kb(kbs)
    f = tmp_path / "a.jsonl"
    recs = [
        {"id": "L#第一条", "law": "L", "article": "第一条", "text": "劳动者享有平等就业的权利。"},
        {"id": "L#第二条", "law": "L", "article": "第二条", "text": "用人单位应当依法缴纳社会保险费。"},
    ]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs), encoding="utf-8")
    r = Ingestor(kb, settings).ingest([f])
    assert r.added == 2
    src = str(f.resolve())
    assert {d.doc_id for d in kb.store.documents()} == {f"{src}#L#第一条", f"{src}#L#第二条"}
    f.write_text(json.dumps(recs[0], ensure_ascii=False), encoding="utf-8")
    r = Ingestor(kb, settings).ingest([f])
    assert r.unchanged == 1 and r.removed == 1
    assert [d.doc_id for d in kb.store.documents()] == [f"{src}#L#第一条"]


def test_bad_files_reported_rest_ingested(kbs, settings, tmp_path, law_copy):
    kb = _kb(kbs)
    tmp_path = tmp_path / "in"
    tmp_path.mkdir()
    law_copy = law_copy.rename(tmp_path / law_copy.name)
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "bin.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "notes.xyz").write_text("unsupported", encoding="utf-8")
    r = Ingestor(kb, settings).ingest([tmp_path, tmp_path / "missing.md"])
    assert r.added == 1 and kb.store.count()["chunks"] == 98
    failed = r.files_failed
    assert set(map(lambda p: p.rsplit("/", 1)[-1], failed)) == {"empty.txt", "bad.pdf", "bin.txt", "missing.md"}
    assert all(msg.startswith(str(tmp_path)) for msg in failed.values())
    assert any(p.endswith("notes.xyz") for p in r.files_ignored) and r.exit_code == 1


def test_pasted_lines(kbs, settings):
    kb = _kb(kbs)
    r = Ingestor(kb, settings).ingest(lines=["公司应当在每月十日前发放工资。", "", "  加班需提前申请。  "])
    assert r.added == 2
    r = Ingestor(kb, settings).ingest(lines=["公司应当在每月十日前发放工资。"])
    assert r.unchanged == 1


def test_the_writer_lock_comes_first_and_callers_may_wait(kbs, settings, tmp_path):
    kb = _kb(kbs)
    lock = settings.kb_root / "t" / "LOCK"
    with held_elsewhere(lock, 30) as holder:
        t = time.monotonic()
        with pytest.raises(LockedError, match=f"pid {holder.pid}"):  # before the (missing) path is even looked at
            Ingestor(kb, settings).ingest([tmp_path / "missing.md"], wait=0)
        assert time.monotonic() - t < 1
    with held_elsewhere(lock, 1.5):  # no wait given: settings.ingest.lock_wait, what the server's upload jobs get
        r = Ingestor(kb, settings).ingest(lines=["加班需提前申请。"])
    assert r.added == 1 and r.exit_code == 0
