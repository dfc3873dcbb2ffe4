"""How `zhiku serve` starts: which address it may bind (no API keys: loopback only, unauthenticated), whether
several workers are possible (only on a store they all share), and the uvicorn run itself."""
from __future__ import annotations

from dataclasses import dataclass

from zhiku.config import Settings
from zhiku.errors import InputError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Bind:
    host: str
    port: int
    notice: str = ""  # what the operator must know: why the host changed, or that nobody needs a key


def bind(s: Settings, host: str | None = None, port: int | None = None, workers: int = 1) -> Bind:
    """The address to serve on. Without API keys (or with server.auth = "off") anyone who reaches the port
    could use it, so the server stays on 127.0.0.1 whatever `host` asked for."""
    from zhiku.serve.auth import KeyStore

    if workers > 1 and s.store.backend == "local":
        raise InputError("--workers > 1 needs a store every worker shares: the embedded local store has one writer "
                         "per knowledge base. Point them at Milvus (ZHIKU_STORE__BACKEND=milvus "
                         "ZHIKU_STORE__URI=http://127.0.0.1:19530, or `milvus-lite server`).")  # fmt: skip
    s.home.mkdir(parents=True, exist_ok=True)
    host = host or s.server.host
    port = port or s.server.port
    keys = KeyStore(s.home)
    protected = s.server.auth == "auto" and keys.has_keys()
    keys.close()
    if protected:
        return Bind(host, port)
    if host not in LOOPBACK:
        return Bind("127.0.0.1", port, f"no API keys configured: binding to 127.0.0.1 instead of {host} "
                                       "(create one with `zhiku keys create --scope admin`)")
    return Bind("127.0.0.1", port, "no API keys configured: serving on localhost only, without authentication")


def run(s: Settings, where: Bind, workers: int = 1) -> None:
    """Serve until stopped. Several workers: each process builds its own app from the same environment
    (ZHIKU_HOME set by --home), so uvicorn gets the factory's import path instead of an app."""
    import logging

    import uvicorn

    from zhiku.serve import app

    logging.getLogger("zhiku.access").setLevel(logging.INFO)  # one structured line per request
    target = "zhiku.serve.app:app_from_env" if workers > 1 else app.create_app(s)
    uvicorn.run(target, factory=workers > 1, workers=workers, host=where.host, port=where.port,
                log_level=s.log_level.lower(), access_log=False, timeout_graceful_shutdown=int(s.server.drain_seconds))
