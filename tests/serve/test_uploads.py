"""Uploads (issue 13, item 7): document ids that do not reveal the server's paths, namesakes that do not silently
replace each other, refused or cut-off uploads that leave no file, jobs that user keys cannot read."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.serve.test_kb_jobs import SMALL_LAW, wait_job

LAW_V2 = SMALL_LAW + "\n第三条 本条例自公布之日起施行。\n"


def _upload(c, name: str, text: str, **data):
    return c.post("/api/kbs/demo/documents", files=[("files", (name, text.encode(), "text/markdown"))], data=data)


def _leftovers(home, kb="demo") -> list[str]:
    folder = home / "uploads" / kb
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_uploaded_documents_do_not_show_server_paths(keyless):
    with keyless.client() as c:
        r = _upload(c, "../secret/路径条例.md", SMALL_LAW)
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json()["id"])["report"]["added"] == 1
        doc = next(d for d in c.get("/api/kbs/demo/documents").json()["documents"] if "路径条例" in d["doc_id"])
        assert doc["doc_id"] == doc["source"] == "uploads/路径条例.md"
        query = {"query": "上传的文件应当被切分", "kb": "demo", "mode": "bm25"}
        hits = c.post("/api/search", json=query).json()["hits"]
        mine = [h for h in hits if h["doc_id"] == doc["doc_id"]]
        assert mine and mine[0]["chunk_id"].startswith("uploads/路径条例.md#")
        assert str(keyless.home) not in json.dumps(hits, ensure_ascii=False)
        article = c.get(f"/api/kbs/demo/chunks/{mine[0]['chunk_id']}").json()
        assert str(keyless.home) not in json.dumps(article, ensure_ascii=False)
        # the same file again is still "unchanged": the ids are stable
        r = _upload(c, "路径条例.md", SMALL_LAW)
        assert wait_job(c, r.json()["id"])["report"]["unchanged"] == 1


def test_namesake_from_another_folder_does_not_replace_silently(keyless):
    with keyless.client() as c:
        r = _upload(c, "a/同名条例.md", SMALL_LAW)
        assert wait_job(c, r.json()["id"])["report"]["added"] == 1
        r = _upload(c, "b/同名条例.md", LAW_V2)
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["type"] == "UploadExistsError" and "同名条例.md" in err["message"] and "replace" in err["message"]
        assert (keyless.home / "uploads" / "demo" / "同名条例.md").read_text(encoding="utf-8") == SMALL_LAW
        r = _upload(c, "b/同名条例.md", LAW_V2, replace="true")
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json()["id"])["report"]["updated"] == 1
        assert (keyless.home / "uploads" / "demo" / "同名条例.md").read_text(encoding="utf-8") == LAW_V2


def test_deleting_an_uploaded_document_removes_its_file(keyless):
    folder = keyless.home / "uploads" / "demo"
    with keyless.client() as c:
        r = _upload(c, "删除条例.md", SMALL_LAW)
        assert wait_job(c, r.json()["id"])["report"]["added"] == 1
        assert (folder / "删除条例.md").is_file()
        assert c.delete("/api/kbs/demo/documents/uploads/删除条例.md").status_code == 200
        assert not (folder / "删除条例.md").exists()
        r = _upload(c, "删除条例.md", LAW_V2)  # no longer a namesake of anything
        assert r.status_code == 202, r.text


def test_refused_upload_leaves_no_file(keyless):
    before = _leftovers(keyless.home)
    files = [("files", ("先到.md", SMALL_LAW.encode(), "text/markdown")),
             ("files", ("过大.md", b"x" * 70_000, "text/markdown"))]  # over max_upload_mb (64 kB)  # fmt: skip
    with keyless.client() as c:
        r = c.post("/api/kbs/demo/documents", files=files)
        assert r.status_code == 413, r.text
        assert "过大.md" in r.json()["error"]["message"]
    assert _leftovers(keyless.home) == before


def test_upload_cut_off_mid_body_leaves_no_file(keyless):
    before = _leftovers(keyless.home)
    boundary = "zhikuboundary"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"中断.md\"\r\n"
            f"Content-Type: text/markdown\r\n\r\n{SMALL_LAW}\r\n").encode()  # fmt: skip
    head = (f"POST /api/kbs/demo/documents HTTP/1.1\r\nHost: 127.0.0.1:{keyless.port}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(part) + 50_000}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", keyless.port), timeout=10) as sock:
        sock.sendall(head.encode() + part + b"y" * 10_000)  # a whole file part, then the client goes away
    time.sleep(1.0)
    with keyless.client() as c:
        assert c.get("/healthz").status_code == 200
    assert _leftovers(keyless.home) == before


def test_user_keys_cannot_read_jobs(server):
    with server.client("admin") as adm:
        r = adm.post("/api/kbs/laws/documents", data={"text": "仅管理员可见的任务。"})
        job = wait_job(adm, r.json()["id"])
        assert job["id"] in [j["id"] for j in adm.get("/api/jobs").json()["jobs"]]
    with server.client("user") as c:
        for path in ("/api/jobs", f"/api/jobs/{job['id']}"):
            r = c.get(path)
            assert r.status_code == 403 and r.json()["error"]["type"] == "ForbiddenError", path


def test_upload_ingestor_ids_are_stable_and_replace_absolute_ones(kbs, settings):
    """A file uploaded before ids were relative (stored under its absolute path) is taken over on re-upload;
    records that left a re-uploaded file leave the KB (stale removal still finds them by their source)."""
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.serve.uploads import Uploads, upload_ingestor

    kbs.create("up")
    kb = kbs.open("up")
    uploads = Uploads(settings.home / "uploads")

    def save(name: str, text: str) -> Path:
        with uploads.staging("up", replace=True) as stage:
            stage.add(name, text.encode())
        return stage.paths[0]

    law = save("旧条例.md", SMALL_LAW)
    assert Ingestor(kb, settings).ingest([law]).added == 1  # the old way: absolute id
    ingest = upload_ingestor(kb, settings, uploads.folder("up"))
    report = ingest.ingest([law])
    assert (report.added, report.removed) == (1, 1)
    assert [d.doc_id for d in kb.store.documents()] == ["uploads/旧条例.md"]
    assert ingest.ingest([law]).unchanged == 1

    rows = [{"id": "r1", "text": "第一条记录的正文。"}, {"id": "r2", "text": "第二条记录的正文。"}]
    records = save("记录.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    assert ingest.ingest([records]).added == 2
    save("记录.jsonl", json.dumps(rows[0], ensure_ascii=False))
    report = ingest.ingest([records])
    assert (report.unchanged, report.removed) == (1, 1)
    assert sorted(d.doc_id for d in kb.store.documents()) == ["uploads/旧条例.md", "uploads/记录.jsonl#r1"]


@pytest.mark.parametrize("raw", ["法" * 150 + ".md", "a" * 300 + ".txt"])
def test_long_names_fit_any_file_system(raw):
    from zhiku.serve.uploads import MAX_NAME_BYTES, safe_filename

    name = safe_filename(raw)
    assert len(name.encode()) <= MAX_NAME_BYTES and name.endswith(raw[-4:])


def test_long_upload_name_is_accepted(keyless):
    with keyless.client() as c:  # 150 CJK characters are 450 bytes: the file system's limit is 255
        r = _upload(c, "法" * 150 + ".md", SMALL_LAW)
        assert r.status_code == 202, r.text[:300]
        assert wait_job(c, r.json()["id"])["state"] == "done"


def test_a_killed_servers_staged_parts_are_swept_at_start(tmp_path):
    """kill -9 mid-upload skips Staging.discard: the next start removes the stale `.part`, not a fresh one that
    another worker may be writing."""
    import os
    import time

    from zhiku.serve.uploads import STALE_PART_S, Uploads

    folder = tmp_path / "uploads" / "demo"
    folder.mkdir(parents=True)
    stale, fresh, kept = folder / ".0123456789ab.part", folder / ".ba9876543210.part", folder / "law.md"
    for p in (stale, fresh, kept):
        p.write_text("x")
    old = time.time() - STALE_PART_S - 60
    os.utime(stale, (old, old))
    os.utime(kept, (old, old))
    assert Uploads(tmp_path / "uploads").swept == 1
    assert not stale.exists() and fresh.exists() and kept.exists()
