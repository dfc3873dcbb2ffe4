"""Schemathesis over /openapi.json against a real server (stand-in upstream LLM, real KB), once with auth on (an
admin key) and once without keys (the fresh-install mode, where the server trusts loopback): valid and invalid
requests for every operation. No answer may be a 5xx, and every 4xx is a JSON error body naming the problem."""
from __future__ import annotations

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402

from tests.loadtest.conftest import standin  # noqa: E402,F401 - a fixture
from tests.serve.conftest import start_server  # noqa: E402

# per operation, generation mode and auth mode: about a minute per auth mode on 2 cores (without keys the
# requests get past auth and do the work: uploads, ingest, answers); ZHIKU_FUZZ_EXAMPLES=200 for a deeper run
EXAMPLES = int(os.environ.get("ZHIKU_FUZZ_EXAMPLES", "8"))


@pytest.fixture(scope="module", params=["keys", "no keys"])
def fuzz_server(request, tmp_path_factory, law_files, standin):  # noqa: F811
    from zhiku.config import LLMSettings, ServerSettings, Settings
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.kb import KnowledgeBases
    from zhiku.serve.app import create_app
    from zhiku.serve.auth import KeyStore

    _, upstream = standin
    home = tmp_path_factory.mktemp("fuzz_home")
    llm = LLMSettings(backend="openai", base_url=f"{upstream}/v1", model="standin")
    s = Settings(home=home, default_kb="laws", llm=llm, server=ServerSettings(retry_after=1))
    kbs = KnowledgeBases(s)
    kbs.create("laws")
    assert Ingestor(kbs.open("laws"), s).ingest([law_files[0]]).ok
    kbs.close()
    auth = {}
    if request.param == "keys":
        keys = KeyStore(home)
        auth = {"Authorization": f"Bearer {keys.create('admin', 'fuzz')[1]}"}
        keys.close()
    srv, thread, base = start_server(create_app(s))
    yield base, auth
    srv.should_exit = True
    thread.join(30)


def _check(response) -> str | None:
    """What is wrong with one answer, or None."""
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        try:
            err = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            return f"{response.status_code} without a JSON error body: {response.text[:200]}"
        if not (err.get("type") and err.get("message")):
            return f"{response.status_code} error body lacks type/message: {err}"
    return None


def test_no_5xx_and_json_errors_for_fuzzed_requests(fuzz_server):
    base, auth = fuzz_server
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    problems: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def run(case):
                response = case.call(base_url=base, headers=auth, timeout=30)
                problem = _check(response)
                if problem:
                    problems.append(f"{op.label} ({mode.value}) {case.body!r:.200} -> {problem}")

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
                pass
    assert not problems, "\n".join(dict.fromkeys(problems))
