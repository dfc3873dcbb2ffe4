"""Per-key limits, keys over HTTP, session ownership, the body-size limit and jobs that outlive a restart, on a
real server with auth on and a stand-in upstream whose answers take 2 s (long enough to overlap requests)."""
from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.serve.conftest import start_server
from tests.serve.test_kb_jobs import SMALL_LAW, wait_job
from zhiku.loadtest.standin import StandinApp, StandinConfig


@pytest.fixture(scope="module")
def limited(tmp_path_factory, law_files):
    from zhiku.config import LLMSettings, ServerSettings, Settings
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.kb import KnowledgeBases
    from zhiku.serve.app import create_app
    from zhiku.serve.auth import KeyStore

    up, up_thread, upstream = start_server(StandinApp(StandinConfig(tokens=40, rate=20)), ready_path="/health")
    home = tmp_path_factory.mktemp("limits_home")
    llm = LLMSettings(backend="openai", base_url=f"{upstream}/v1", model="standin")
    server = ServerSettings(key_concurrency=1, retry_after=2, max_json_mb=0.5, max_request_mb=1)
    s = Settings(home=home, default_kb="laws", llm=llm, server=server)
    kbs = KnowledgeBases(s)
    kbs.create("laws")
    assert Ingestor(kbs.open("laws"), s).ingest([law_files[0]]).ok
    kbs.close()
    keys = KeyStore(home)
    tokens = {"admin": keys.create("admin", "a")[1], "alice": keys.create("user", "alice")[1],
              "bob": keys.create("user", "bob")[1]}  # fmt: skip
    keys.close()
    srv, thread, base = start_server(create_app(s))

    def client(who: str) -> httpx.Client:
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=60)

    yield client, s
    srv.should_exit = up.should_exit = True
    thread.join(30)
    up_thread.join(10)


def test_one_key_over_its_limit_gets_429_others_do_not(limited):
    client, _ = limited
    with client("alice") as a, client("bob") as b, a.stream("POST", "/api/rag/chat", json={"query": "试用期最长多久？"}) as first:
        assert first.status_code == 200
        second = a.post("/api/rag/chat", json={"query": "试用期最长多久？"})  # alice's first is still streaming
        assert second.status_code == 429 and second.headers["retry-after"] == "2"
        assert "in flight" in second.json()["error"]["message"]
        assert b.post("/api/search", json={"query": "试用期"}).status_code == 200
        other = b.post("/api/rag/chat", json={"query": "试用期最长多久？", "stream": False})
        assert other.status_code == 200, other.text  # bob has his own allowance
        assert "event: done" in "\n".join(first.iter_lines())
    with client("alice") as a:  # alice's stream ended: her place is back
        assert a.post("/api/rag/chat", json={"query": "试用期最长多久？", "stream": False}).status_code == 200


def test_admin_manages_keys_over_http(limited):
    client, _ = limited
    with client("admin") as adm:
        r = adm.post("/api/keys", json={"scope": "user", "name": "carol"})
        assert r.status_code == 201 and r.json()["key"].startswith("zk_")
        made = r.json()
        assert made["id"] in [k["id"] for k in adm.get("/api/keys").json()["keys"]]
        assert "key" not in adm.get("/api/keys").json()["keys"][0]  # secrets are never listed
        assert adm.post("/api/keys", json={"scope": "root"}).status_code == 422
        carol = {"Authorization": f"Bearer {made['key']}"}
        assert httpx.get(f"{adm.base_url}/api/sessions", headers=carol).status_code == 200
        assert adm.delete(f"/api/keys/{made['id']}").json() == {"revoked": made["id"]}
        assert httpx.get(f"{adm.base_url}/api/sessions", headers=carol).status_code == 401
        assert adm.delete("/api/keys/nosuchid").status_code == 404
    with client("alice") as a:
        r = a.get("/api/keys")
        assert r.status_code == 403 and r.json()["error"]["type"] == "ForbiddenError"


def test_sessions_belong_to_their_key(limited):
    client, _ = limited
    with client("alice") as a, client("bob") as b, client("admin") as adm:
        sid = a.post("/api/sessions", json={"title": "alice's"}).json()["id"]
        assert a.get(f"/api/sessions/{sid}").status_code == 200
        r = b.get(f"/api/sessions/{sid}")
        assert r.status_code == 404 and "does not exist" in r.json()["error"]["message"]  # as if missing
        assert sid not in [x["id"] for x in b.get("/api/sessions").json()["sessions"]]
        assert b.post("/api/rag/chat", json={"query": "试用期？", "session_id": sid}).status_code == 404
        assert b.delete(f"/api/sessions/{sid}").status_code == 404
        assert adm.get(f"/api/sessions/{sid}").status_code == 200
        assert sid in [x["id"] for x in adm.get("/api/sessions").json()["sessions"]]
        assert a.delete(f"/api/sessions/{sid}").status_code == 200


def test_oversized_bodies_get_413_json(limited):
    client, _ = limited
    big = "试" * 200_000  # 600 kB of UTF-8, over max_json_mb=0.5
    with client("alice") as a, client("admin") as adm:
        r = a.post("/api/rag/chat", json={"query": big})
        assert r.status_code == 413 and r.json()["error"]["type"] == "PayloadTooLargeError"

        def chunks():  # no Content-Length: counted as it arrives
            yield b'{"query": "'
            for _ in range(10):
                yield b"x" * 100_000
            yield b'"}'

        r = a.post("/api/search", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "0.5 MB" in r.json()["error"]["message"]
        files = {"files": ("big.txt", b"x" * (1_200_000), "text/plain")}  # over max_request_mb=1
        r = adm.post("/api/kbs/laws/documents", files=files)
        assert r.status_code == 413 and r.json()["error"]["type"] == "PayloadTooLargeError"
        assert a.post("/api/search", json={"query": "试用期"}).status_code == 200  # and the server carries on


def test_jobs_survive_a_restart(limited):
    """A finished job is still there for a new app on the same home; one cut off by the restart is failed."""
    from zhiku.serve.app import create_app
    from zhiku.serve.jobs import INTERRUPTED, JobManager

    client, s = limited
    with client("admin") as adm:
        assert adm.post("/api/kbs", json={"name": "jobs"}).status_code == 201
        r = adm.post("/api/kbs/jobs/documents", files={"files": ("测试条例.md", SMALL_LAW.encode(), "text/markdown")})
        done = wait_job(adm, r.json()["id"])
        assert done["state"] == "done"
    # a job still running when its process stops: a second manager on the same database plays the restart
    release = threading.Event()
    old = JobManager(s.home / "jobs.sqlite")
    cut = old.submit("jobs", [], ["第一条 测试。"], lambda *a: release.wait(30) and {})
    while old.get(cut.id).state != "running":
        time.sleep(0.02)
    old.shutdown()  # the old process is gone: whatever its worker does next reaches no database
    JobManager(s.home / "jobs.sqlite").shutdown()
    release.set()
    srv, thread, base = start_server(create_app(s))  # the restarted server
    try:
        h = {"Authorization": client("admin").headers["Authorization"]}
        again = httpx.get(f"{base}/api/jobs/{done['id']}", headers=h).json()
        assert again["state"] == "done" and again["report"] == done["report"]
        lost = httpx.get(f"{base}/api/jobs/{cut.id}", headers=h).json()
        assert lost["state"] == "failed" and lost["error"] == INTERRUPTED
        assert {done["id"], cut.id} <= {j["id"] for j in httpx.get(f"{base}/api/jobs", headers=h).json()["jobs"]}
    finally:
        srv.should_exit = True
        thread.join(30)


def test_restart_leaves_a_live_sibling_workers_job_alone(tmp_path):
    """Several workers share jobs.sqlite: a worker starting up fails only jobs whose process is gone."""
    import subprocess
    import sys

    from zhiku.serve.jobs import INTERRUPTED, Job, JobManager

    sibling = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        jm = JobManager(tmp_path / "jobs.sqlite")
        jm._save(Job("live", "kb", state="running", pid=sibling.pid))
        jm._save(Job("dead", "kb", state="running", pid=2**22 + 7))  # above the kernel's pid_max: never alive
        jm.shutdown()
        again = JobManager(tmp_path / "jobs.sqlite")
        assert again.get("live").state == "running"
        assert again.get("dead").state == "failed" and again.get("dead").error == INTERRUPTED
        again.shutdown()
    finally:
        sibling.kill()
        sibling.wait()
