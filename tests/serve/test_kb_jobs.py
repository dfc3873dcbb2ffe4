"""Knowledge bases over HTTP: create/list/delete, multipart upload as a background job, documents."""
from __future__ import annotations

import time

SMALL_LAW = """# 测试条例

第一条 为了测试上传功能，制定本条例。

第二条 上传的文件应当被切分为条文并编入索引。
"""


def wait_job(c, job_id, within=90):
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not finished: {job}")


def test_kb_lifecycle_and_upload(server):
    with server.client("admin") as c:
        r = c.post("/api/kbs", json={"name": "uploads", "description": "test"})
        assert r.status_code == 201, r.text
        assert c.post("/api/kbs", json={"name": "uploads"}).status_code == 409
        assert "uploads" in [k["name"] for k in c.get("/api/kbs").json()["kbs"]]

        files = [
            ("files", ("../../../etc/测试条例.md", SMALL_LAW.encode(), "text/markdown")),  # path trick in the name
            ("files", ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf")),
        ]
        r = c.post("/api/kbs/uploads/documents", files=files, data={"text": "劳动者有休息休假的权利。"})
        assert r.status_code == 202, r.text
        job = wait_job(c, r.json()["id"])
        assert job["state"] == "done" and job["files_done"] == job["files_total"] == 3
        failed = job["report"]["files_failed"]
        assert len(failed) == 1 and "broken.pdf" in next(iter(failed))
        assert job["report"]["chunks"] >= 2 and job["report"]["added"] == 2, job["report"]

        docs = c.get("/api/kbs/uploads/documents").json()["documents"]
        md = [d for d in docs if d["source"].endswith("测试条例.md")]
        assert len(md) == 1 and md[0]["chunks"] >= 1
        assert (server.home / "uploads" / "uploads" / "测试条例.md").is_file()  # kept inside ZHIKU_HOME
        assert not (server.home.parent / "etc").exists()

        r = c.delete(f"/api/kbs/uploads/documents/{md[0]['doc_id']}")
        assert r.status_code == 200, r.text
        assert len(c.get("/api/kbs/uploads/documents").json()["documents"]) == len(docs) - 1

        r = c.post("/api/kbs/uploads/documents", files=[("files", ("tool.exe", b"MZ", "application/octet-stream"))])
        assert r.status_code == 415 and "tool.exe" in r.json()["error"]["message"]
        assert c.post("/api/kbs/nope/documents", data={"text": "x"}).status_code == 404
        assert c.post("/api/kbs/uploads/documents", data={}).status_code == 422

        assert c.delete("/api/kbs/uploads").status_code == 200
        assert c.get("/api/kbs/uploads").status_code == 404
        assert not (server.home / "uploads" / "uploads").exists()  # its uploaded files went with it
    with server.client("admin") as c:
        assert c.get("/api/jobs/missing").status_code == 404


def test_ops_endpoints(server):
    with httpx_client(server) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").status_code == 200
        text = c.get("/metrics").text
    for name in ("zhiku_http_requests_total", "zhiku_http_request_seconds_bucket", "zhiku_ttft_seconds",
                 "zhiku_tokens_per_second", "zhiku_retrieval_seconds", "zhiku_generation_queue_depth",
                 "zhiku_generation_in_flight"):
        assert name in text


def httpx_client(server):
    import httpx

    return httpx.Client(base_url=server.base, timeout=30)
