"""A damaged store over HTTP (issue 13): derived indexes rebuild by themselves; a damaged store.sqlite is one JSON
error naming the file, the same line the CLI prints, never a traceback."""
from __future__ import annotations

import os
import shutil

import httpx

from tests.serve.conftest import start_server


def test_damaged_stores_over_http(tmp_path, law_files):
    from zhiku.config import Settings
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.kb import KnowledgeBases
    from zhiku.serve.app import create_app

    s = Settings(home=tmp_path / "home")
    kbs = KnowledgeBases(s)
    kbs.create("ok")
    kbs.create("bad")
    small = tmp_path / "劳动合同法.md"
    small.write_text(law_files[0].read_text(encoding="utf-8")[:3000], encoding="utf-8")
    assert Ingestor(kbs.open("ok"), s).ingest([small]).ok
    chunks = kbs.info("ok").stats["chunks"]
    kbs.close()
    ok, bad = s.kb_root / "ok", s.kb_root / "bad"
    shutil.rmtree(ok / "tantivy")
    (ok / "dense.faiss").write_bytes(os.urandom(4096))
    (bad / "store.sqlite").write_bytes(os.urandom(4096))

    srv, thread, base = start_server(create_app(s, warm_up=False))
    try:
        r = httpx.get(f"{base}/api/kbs/ok", timeout=60)
        assert r.status_code == 200 and r.json()["stats"] == {"documents": 1, "chunks": chunks}
        r = httpx.get(f"{base}/api/kbs/bad", timeout=60)
        assert r.status_code == 500
        error = r.json()["error"]
        assert error["type"] == "CorruptStoreError"
        assert error["message"].startswith(f"{bad / 'store.sqlite'}: damaged SQLite database (file is not a database)")
        assert "zhiku kb import" in error["message"] and "\n" not in error["message"]
    finally:
        srv.should_exit = True
        thread.join(30)
    assert (ok / "tantivy" / "meta.json").is_file()  # rebuilt on disk, not only in memory
