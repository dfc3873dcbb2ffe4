"""A real stand-in upstream (uvicorn, loopback) and a real `zhiku serve` app whose openai LLM backend points at
it, on a real KB of one statute: the load tester runs against the whole stack, no model needed."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.serve.conftest import start_server
from zhiku.loadtest.standin import StandinApp, StandinConfig

# short answers keep the tests fast: 10 tokens at 200/s after 20 ms = 70 ms upstream per answer
STANDIN = StandinConfig(tokens=10, rate=200.0, latency=0.02)
LABOUR_QUESTIONS = ["劳动合同的试用期最长可以约定多久？", "用人单位拖欠工资，劳动者可以解除劳动合同吗？",
                    "劳动合同期满终止，用人单位要支付经济补偿吗？"]  # fmt: skip


@dataclass
class Stack:
    base: str  # zhiku
    upstream: str  # stand-in, .../v1
    standin: StandinApp


@pytest.fixture(scope="session")
def standin():
    app = StandinApp(STANDIN)
    srv, thread, base = start_server(app, ready_path="/health")
    yield app, base
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def bench_home(tmp_path_factory, law_files):
    """One KB of 劳动合同法, shared by every stack (they only read it)."""
    from zhiku.config import Settings
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.kb import KnowledgeBases

    home = tmp_path_factory.mktemp("bench_home")
    s = Settings(home=home, default_kb="laws")
    kbs = KnowledgeBases(s)
    kbs.create("laws")
    assert Ingestor(kbs.open("laws"), s).ingest([law_files[0]]).ok
    kbs.close()
    return home


def start_stack(home, standin, **server) -> tuple[Stack, object, object]:
    from zhiku.config import LLMSettings, ServerSettings, Settings
    from zhiku.serve.app import create_app

    app_standin, upstream = standin
    llm = LLMSettings(backend="openai", base_url=f"{upstream}/v1", model="standin")
    s = Settings(home=home, default_kb="laws", llm=llm, server=ServerSettings(auth="off", **server))
    srv, thread, base = start_server(create_app(s))
    return Stack(base, f"{upstream}/v1", app_standin), srv, thread


@pytest.fixture(scope="session")
def stack(bench_home, standin):
    st, srv, thread = start_stack(bench_home, standin)
    yield st
    srv.should_exit = True
    thread.join(30)
