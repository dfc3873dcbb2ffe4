"""The load tester against a real server stack (zhiku + stand-in upstream): counts, percentiles, error kinds."""
from __future__ import annotations

import asyncio
import json

import httpx

from typer.testing import CliRunner

from tests.loadtest.conftest import LABOUR_QUESTIONS, STANDIN, start_stack
from zhiku.loadtest.client import KINDS, LoadConfig, load_questions, percentiles, run_load
from zhiku.loadtest.process import free_port


def test_percentiles_nearest_rank():
    assert percentiles([0.1 * i for i in range(1, 101)]) == {"p50": 5000.0, "p90": 9000.0, "p99": 9900.0, "max": 10000.0}
    assert percentiles([]) == {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}


def test_default_questions_file():
    qs = load_questions()
    assert len(qs) >= 30 and len(set(qs)) == len(qs) and not any(q.startswith("#") for q in qs)


def _sane(report, upstream_ms: float) -> None:
    assert report.requests >= report.ok > 0
    assert report.errors == {k: 0 for k in KINDS[1:]}, report.error_samples
    assert upstream_ms * 0.9 <= report.latency_ms["p50"] <= report.latency_ms["p90"] <= report.latency_ms["max"]
    assert 0 < report.ttft_ms["p50"] <= report.latency_ms["p50"]
    assert 0 < report.tokens <= report.ok * STANDIN.tokens
    assert report.req_per_s > 0 and report.tokens_per_s > 0 and report.client_cpu_s > 0


def test_native_and_openai_streams(stack):
    before = stack.standin.requests
    native = asyncio.run(run_load(LoadConfig(stack.base, concurrency=3, duration=1.5), LABOUR_QUESTIONS))
    _sane(native, STANDIN.answer_seconds * 1000)
    assert 0 < native.server_ttft_ms["p50"] <= native.server_total_ms["p50"] <= native.latency_ms["max"]
    openai = asyncio.run(run_load(LoadConfig(stack.base, concurrency=2, duration=1.0, api="openai", kb="laws"),
                                  LABOUR_QUESTIONS))  # fmt: skip
    _sane(openai, STANDIN.answer_seconds * 1000)
    assert openai.server_total_ms["max"] == 0  # the OpenAI stream carries no server timings
    # every grounded answer went upstream once (ungrounded ones are answered without the LLM)
    assert 0 < stack.standin.requests - before <= native.ok + openai.ok


def test_backpressure_and_connection_errors_are_classified(bench_home, standin):
    st, srv, thread = start_stack(bench_home, standin, remote_concurrency=1, max_queue=0, retry_after=1)
    try:
        report = asyncio.run(run_load(LoadConfig(st.base, concurrency=6, duration=1.5), LABOUR_QUESTIONS))
    finally:
        srv.should_exit = True
        thread.join(30)
    assert report.ok > 0 and report.errors["backpressure_503"] > 0, report
    assert "server busy" in report.error_samples["backpressure_503"]
    assert 0 < report.refused_ms["max"] < 1000  # refused at once, not after a wait
    assert sum(report.errors.values()) == report.errors["backpressure_503"]
    # clients wait the server's Retry-After (1 s) before retrying: at most 2 refusals each in 1.5 s, not a storm
    assert report.errors["backpressure_503"] <= 6 * 2
    dead = asyncio.run(run_load(LoadConfig(f"http://127.0.0.1:{free_port()}", concurrency=2, duration=0.3), ["x"]))
    assert dead.ok == 0 and dead.errors["connection"] == dead.requests > 0


def test_cli_writes_json_report(stack, tmp_path):
    from zhiku.cli import app

    qfile, out = tmp_path / "q.txt", tmp_path / "report.json"
    qfile.write_text("# comment\n" + "\n".join(LABOUR_QUESTIONS) + "\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["bench", "serve", "--url", stack.base, "-c", "2", "-d", "1", "--questions",
                                 str(qfile), "--json", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "req/s" in r.output and "TTFT ms" in r.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["ok"] > 0 and data["concurrency"] == 2 and set(data["errors"]) == set(KINDS[1:])
    bad = CliRunner().invoke(app, ["bench", "serve", "--url", stack.base, "--api", "grpc"])
    assert bad.exit_code == 2 and "native or openai" in bad.output


def test_mixed_load_uploads_and_deletes_what_it_added(stack):
    from zhiku.loadtest.ops import parse_mix, schedule

    assert schedule(parse_mix("chat=2,search=1,upload=1")) == ["chat", "search", "upload", "chat"]
    for bad, why in (("chat=x", "integer"), ("grpc=1", "unknown operation"), ("chat=0", "positive")):
        try:
            parse_mix(bad)
        except ValueError as e:
            assert why in str(e)
        else:
            raise AssertionError(bad)
    docs = lambda: httpx.get(f"{stack.base}/api/kbs/laws/documents").json()["documents"]  # noqa: E731
    before = sorted(d["doc_id"] for d in docs())
    cfg = LoadConfig(stack.base, concurrency=2, duration=2.0, kb="laws", mix={"chat": 1, "search": 1, "upload": 1})
    report = asyncio.run(run_load(cfg, LABOUR_QUESTIONS))
    assert report.errors == {k: 0 for k in KINDS[1:]}, report.error_samples
    assert set(report.ops) == {"chat", "search", "upload"}
    assert all(o["ok"] == o["requests"] > 0 for o in report.ops.values()), report.ops
    assert report.ok == report.requests == sum(o["requests"] for o in report.ops.values())
    assert sorted(d["doc_id"] for d in docs()) == before  # every upload was deleted again
