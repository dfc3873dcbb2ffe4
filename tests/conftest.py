"""Shared fixtures: an isolated ZHIKU_HOME per session, the small bundled model for generation tests, one real
knowledge base built from real statutes in samples/laws (ingested once per session), the small data files in
tests/fixtures, and the one way to reach data outside the repository (`external_data`).

The suite reads nothing outside the clone unless told to: corpus-scale tests take their data from environment
variables (ZHIKU_TEST_CORPUS, see `law_corpus`) and skip without them. `.ci/run` sets them when the shared data
sits beside the clone."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "laws"
FIXTURES = REPO / "tests" / "fixtures"  # small extracts shipped with the tests (tests/fixtures/README.md)
# A few well-known laws: fast to embed, enough for real retrieval and answers.
LAW_FILES = [
    SAMPLES / "社会法" / "劳动合同法(2012-12-28).md",
    SAMPLES / "民法典" / "婚姻家庭编.md",
    SAMPLES / "民法商法" / "消费者权益保护法(2013-10-25).md",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def external_data(var: str, what: str) -> Path:
    """The data file outside the repository that environment variable `var` names, for corpus-scale tests.

    Unset: the test skips, in CI too (a clone may well have no corpus beside it). Set to a path that does not
    exist: the test skips, except under CI=true, where it fails: there a set variable promises the data."""
    value = os.environ.get(var, "").strip()
    if not value:
        pytest.skip(f"{what}: set {var} to its path to run this test")
    path = Path(value).expanduser()
    if not path.is_file():
        message = f"{var}={value}: no such file ({what})"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def law_corpus() -> Path:
    """The full law corpus (shared/data/laws/articles.jsonl.gz, 58,536 articles), from ZHIKU_TEST_CORPUS."""
    return external_data("ZHIKU_TEST_CORPUS", "the full law corpus articles.jsonl.gz")


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory) -> str:
    """A real `milvus-lite server` on 127.0.0.1 for the whole session."""
    from zhiku.loadtest.process import milvus_lite_server

    with milvus_lite_server(tmp_path_factory.mktemp("milvus")) as uri:
        yield uri


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """tests/fixtures: corpus articles and STARD questions small enough to ship (see its README.md)."""
    return FIXTURES


@pytest.fixture(scope="session")
def law_files() -> list[Path]:
    return list(LAW_FILES)


@pytest.fixture(scope="session", autouse=True)
def zhiku_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("zhiku_home")
    os.environ["ZHIKU_HOME"] = str(home)
    os.environ["ZHIKU_LLM__MODEL"] = "qwen2.5-0.5b"  # the small bundled model keeps generation tests fast
    os.environ["ZHIKU_LLM__MAX_TOKENS"] = "96"
    os.environ["ZHIKU_RERANK__DEPTH"] = "5"  # the real bundled reranker, on fewer passages
    os.environ["ZHIKU_LLM__N_THREADS"] = "1"  # tests run servers and subprocesses side by side: see LLMSettings
    os.environ.pop("ZHIKU_CONFIG", None)
    from zhiku.config import reset_settings

    reset_settings()
    yield home


@pytest.fixture()
def settings(tmp_path, monkeypatch):
    """Settings with a fresh ZHIKU_HOME for one test."""
    monkeypatch.setenv("ZHIKU_HOME", str(tmp_path / "home"))
    from zhiku.config import get_settings, reset_settings

    reset_settings()
    s = get_settings()
    s.home.mkdir(parents=True, exist_ok=True)
    yield s
    reset_settings()


@pytest.fixture()
def kbs(settings):
    from zhiku.kb import KnowledgeBases

    c = KnowledgeBases(settings)
    yield c
    c.close()


@pytest.fixture(scope="session")
def law_kb(tmp_path_factory):
    """(KnowledgeBases, KnowledgeBase) with three real statutes ingested; shared, treat as read-only."""
    from zhiku.config import Settings
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.kb import KnowledgeBases

    home = tmp_path_factory.mktemp("law_home")
    s = Settings(home=home)
    c = KnowledgeBases(s)
    c.create("laws")
    kb = c.open("laws")
    report = Ingestor(kb, s).ingest(LAW_FILES)
    assert report.ok, report.files_failed
    yield s, c, kb
    c.close()


@pytest.fixture()
def law_copy(tmp_path):
    """A private copy of one law file, for tests that modify it."""
    dst = tmp_path / "劳动合同法.md"
    shutil.copy(LAW_FILES[0], dst)
    return dst


@pytest.fixture(scope="session")
def law_pipe(law_kb):
    """A RagPipeline on `law_kb` with the small bundled model and short answers (generation tests)."""
    from zhiku.generate import get_llm
    from zhiku.pipeline import RagPipeline

    s, _, kb = law_kb
    s.llm.model = "qwen2.5-0.5b"
    s.llm.max_tokens = 64
    return RagPipeline(kb, get_llm(s.llm, s.models_dir), s)
