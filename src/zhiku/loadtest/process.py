"""Starting local servers for benchmarks, scripts and tests: a free loopback port, waiting until a subprocess
answers on it, and a `milvus-lite server` for the Milvus engine."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, within: float = 180, interval: float = 0.2) -> None:
    """Until GET `url` answers 200; SystemExit if `proc` dies or `within` seconds pass first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[:4]} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    raise SystemExit(f"{url} not ready in {within} s")


@contextmanager
def milvus_lite_server(data_dir: Path, within: float = 60) -> Iterator[str]:
    """A `milvus-lite server` on a free loopback port keeping its data under `data_dir`; yields its uri and stops it
    on exit. RuntimeError (with the server's log) when it does not accept connections within `within` seconds."""
    from pymilvus import MilvusClient

    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data_dir / "data.db"),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        uri = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + within
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"milvus-lite server exited {proc.returncode}: {log_path.read_text()[-2000:]}")
                try:
                    # dedicated: a shared channel would outlive close() and idle-ping the server into GOAWAY
                    client = MilvusClient(uri=uri, timeout=2, dedicated=True)
                    client.list_collections()
                    client.close()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"milvus-lite server did not accept connections within {within} s: "
                                           f"{log_path.read_text()[-2000:]}") from None
                    time.sleep(0.3)
            yield uri
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
