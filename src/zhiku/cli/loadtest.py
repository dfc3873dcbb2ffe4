"""`zhiku bench serve`: load-test a running server (zhiku.loadtest)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from zhiku.cli.common import err, guarded, out
from zhiku.errors import InputError

app = typer.Typer(help="Load-test a running server.", no_args_is_help=True)


@app.command("serve")
@guarded
def bench_serve(
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="Base URL of a running `zhiku serve`."),
    concurrency: int = typer.Option(10, "--concurrency", "-c", min=1, help="Clients streaming at once."),
    duration: float = typer.Option(30.0, "--duration", "-d", min=0.1, help="Seconds to start new requests."),
    questions: Optional[Path] = typer.Option(None, "--questions", help="One question a line (default: samples/eval/load_questions.txt)."),
    api: str = typer.Option("native", "--api", help="native (/api/rag/chat) or openai (/v1/chat/completions)."),
    kb: Optional[str] = typer.Option(None, "--kb", help="Knowledge base (default: the server's default)."),
    key: Optional[str] = typer.Option(None, "--key", envvar="ZHIKU_API_KEY", help="API key."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds per request before it counts as a timeout."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Cap each answer's length."),
    mix: Optional[str] = typer.Option(None, "--mix", help="Mixed traffic, e.g. 'chat=6,search=3,upload=1' (an "
                                      "upload is ingested, then deleted again; needs an admin key when keys are on)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the report as JSON to this file."),
) -> None:
    """Stream N concurrent clients at a server for S seconds: req/s, latency and TTFT percentiles, errors by kind."""
    import asyncio

    from zhiku.loadtest.client import LoadConfig, load_questions, report_table, run_load
    from zhiku.loadtest.ops import parse_mix

    if api not in ("native", "openai"):
        raise InputError(f"--api must be native or openai, got {api!r}")
    try:
        qs = load_questions(questions)
    except (OSError, ValueError) as e:
        raise InputError(f"questions file: {e}") from e
    try:
        weights = parse_mix(mix) if mix else None
    except ValueError as e:
        raise InputError(str(e)) from e
    cfg = LoadConfig(url, concurrency, duration, api, kb, key, timeout, max_tokens=max_tokens, mix=weights)
    report = asyncio.run(run_load(cfg, qs))
    out.print(report_table(report))
    for kind, sample in report.error_samples.items():
        err.print(f"{kind}: {sample}", markup=False)
    if json_out:
        json_out.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
