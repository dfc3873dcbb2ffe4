"""Generation fixtures: the small bundled model (0.5B) assembled once into the configured models_dir, one
in-process LlamaCppLLM on it, and a real `python -m llama_cpp.server` on loopback for the OpenAI backend."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from zhiku.loadtest.process import free_port

SMALL = "qwen2.5-0.5b"


@pytest.fixture(scope="session")
def small_gguf() -> Path:
    """The 0.5B GGUF. Assembled (once per machine) into the same models_dir `zhiku models prepare` uses."""
    from zhiku.config import Settings
    from zhiku.models.bundled import resolve_model

    return resolve_model(SMALL, Settings().models_dir)


@pytest.fixture(scope="session")
def small_llm(small_gguf):
    pytest.importorskip("llama_cpp")
    from zhiku.generate.llama_cpp import LlamaCppLLM

    llm = LlamaCppLLM(small_gguf, n_ctx=2048, n_threads=1, name=SMALL).load()
    yield llm
    llm.close()


@pytest.fixture(scope="session")
def llama_server(small_gguf, tmp_path_factory):
    """Base URL (…/v1) of a real llama_cpp.server serving the 0.5B model."""
    pytest.importorskip("llama_cpp.server")
    port = free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(small_gguf), "--model_alias", SMALL,
        "--n_threads", "1", "--n_ctx", "2048",
        "--host", "127.0.0.1", "--port", str(port),
        "--interrupt_requests", "False",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not come up in 90 s:\n{log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
