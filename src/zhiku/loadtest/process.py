"""Starting local servers for benchmarks, scripts and tests: a free loopback port, and waiting until a
subprocess answers on it."""
from __future__ import annotations

import socket
import subprocess
import time

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
