"""Stand-in OpenAI-compatible upstream for serving benchmarks (see zhiku.loadtest.standin).

    python bench/standin_upstream.py --port 8011 --tokens 50 --rate 50 --latency 0
    export ZHIKU_LLM__BACKEND=openai ZHIKU_LLM__BASE_URL=http://127.0.0.1:8011/v1 ZHIKU_LLM__MODEL=standin

Every answer takes latency + tokens/rate seconds (1.0 s by default), whatever the prompt.
"""
from __future__ import annotations

import argparse

import uvicorn

from zhiku.loadtest.standin import StandinApp, StandinConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8011)
    p.add_argument("--tokens", type=int, default=50, help="tokens per answer")
    p.add_argument("--rate", type=float, default=50.0, help="tokens per second")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before the first token")
    p.add_argument("--model", default="standin")
    a = p.parse_args()
    app = StandinApp(StandinConfig(a.tokens, a.rate, a.latency, a.model))
    # a backlog above the default 2048 and no access log: hundreds of streams at once, little CPU of its own
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning", access_log=False, backlog=4096)


if __name__ == "__main__":
    main()
