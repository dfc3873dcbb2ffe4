"""One real `zhiku serve` app under uvicorn on a free loopback port, with a real KB (one statute), the bundled
0.5B model, and API keys (so auth is on). max_queue=1 so backpressure is reachable with a few requests."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from zhiku.loadtest.process import free_port

pytest.importorskip("llama_cpp")


@dataclass
class Server:
    base: str
    home: Path
    admin_key: str
    user_key: str
    app: object

    def client(self, key: str | None = "user", **kw) -> httpx.Client:
        token = {"user": self.user_key, "admin": self.admin_key}.get(key, key) if key else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=120, **kw)


@pytest.fixture(scope="session")
def server(tmp_path_factory, law_files):
    from zhiku.config import ServerSettings, Settings
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.kb import KnowledgeBases
    from zhiku.serve.app import create_app
    from zhiku.serve.auth import KeyStore

    home = tmp_path_factory.mktemp("serve_home")
    s = Settings(home=home, default_kb="laws", server=ServerSettings(max_queue=1, request_timeout=120, retry_after=3))
    kbs = KnowledgeBases(s)
    kbs.create("laws")
    report = Ingestor(kbs.open("laws"), s).ingest([law_files[0]])  # 劳动合同法
    assert report.ok, report.files_failed
    kbs.close()
    keys = KeyStore(home)
    admin_key = keys.create("admin", "test admin")[1]
    user_key = keys.create("user", "test user")[1]
    keys.close()

    app = create_app(s)
    srv, thread, base = start_server(app)
    yield Server(base, home, admin_key, user_key, app)
    srv.should_exit = True
    thread.join(30)


@dataclass
class Keyless:
    """A server with no API keys (the fresh-install case: it trusts loopback), no LLM loaded, one empty KB "demo",
    kb.lan in server.allowed_hosts and a 64 kB per-file upload limit."""

    base: str
    home: Path
    port: int

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=60, **kw)


@pytest.fixture(scope="session")
def keyless(tmp_path_factory):
    from zhiku.config import ServerSettings, Settings
    from zhiku.kb import KnowledgeBases
    from zhiku.serve.app import create_app

    home = tmp_path_factory.mktemp("keyless_home")
    s = Settings(home=home, default_kb="demo", server=ServerSettings(allowed_hosts=["kb.lan"], max_upload_mb=1 / 16))
    kbs = KnowledgeBases(s)
    kbs.create("demo")
    kbs.close()
    srv, thread, base = start_server(create_app(s, warm_up=False))
    yield Keyless(base, home, int(base.rsplit(":", 1)[1]))
    srv.should_exit = True
    thread.join(30)


def start_server(app, ready_path: str = "/readyz", **config):
    """(uvicorn.Server, thread, base URL) of `app` on a free loopback port, once `ready_path` answers 200."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **config))
    thread = threading.Thread(target=srv.run, name="uvicorn-test", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}{ready_path}", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert thread.is_alive(), "uvicorn thread died"
        assert time.monotonic() < deadline, "server not ready in 120 s"
        time.sleep(0.2)
    return srv, thread, base


def sse_events(response: httpx.Response) -> list[tuple[str, str]]:
    """(event, data) pairs of an SSE response, comments (pings) skipped."""
    out, event, data = [], "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                out.append((event, "\n".join(data)))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        out.append((event, "\n".join(data)))
    return out


def wait_idle(server: Server, within: float) -> float:
    """Seconds until no generation runs or waits; fails after `within`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        r = httpx.get(f"{server.base}/readyz", timeout=5).json()
        if not r["generation_busy"] and r["queue"] == 0:
            return time.monotonic() - t0
        time.sleep(0.05)
    pytest.fail(f"generation still busy after {within} s: {r}")


def jdata(pairs, name):
    return [json.loads(d) for e, d in pairs if e == name]
