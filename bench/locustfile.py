"""Locust load test for `zhiku serve`: streaming POST /api/rag/chat, time to first token as its own metric.

    pip install locust   # not a zhiku dependency
    locust -f bench/locustfile.py --host http://127.0.0.1:8000 --headless -u 100 -r 20 -t 60s
    ZHIKU_API_KEY=zk_... ZHIKU_KB=laws locust -f bench/locustfile.py --host ...

Locust's table then has a "chat" row (time to response headers; failures: backpressure and stream errors), an
"SSE ttft" row (request sent -> first token event) and an "SSE answer" row (request sent -> done event). 503/429 count as failures named "backpressure"; the user then waits the
server's Retry-After, as `zhiku bench serve` does. For the numbers in docs/benchmarks.md use `zhiku bench serve`:
Locust's gevent client costs more CPU per stream, which matters when client and server share a machine.
"""
from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

from locust import HttpUser, constant, task

QUESTIONS_FILE = Path(__file__).resolve().parents[1] / "samples" / "eval" / "load_questions.txt"
QUESTIONS = [q.strip() for q in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines()
             if q.strip() and not q.startswith("#")]  # fmt: skip
_next = itertools.count()


class ChatUser(HttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        key = os.environ.get("ZHIKU_API_KEY")
        if key:
            self.client.headers["Authorization"] = f"Bearer {key}"
        self.kb = os.environ.get("ZHIKU_KB")
        self.pause = 0.0

    @task
    def chat(self) -> None:
        if self.pause:
            time.sleep(self.pause)  # gevent-patched: yields to other users
            self.pause = 0.0
        body = {"query": QUESTIONS[next(_next) % len(QUESTIONS)], "stream": True}
        if self.kb:
            body["kb"] = self.kb
        t0 = time.perf_counter()
        with self.client.post("/api/rag/chat", json=body, stream=True, catch_response=True, name="chat") as r:
            if r.status_code in (429, 503):
                self.pause = float(r.headers.get("Retry-After", 1))
                r.failure(f"backpressure {r.status_code}")
                return
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}: {r.text[:200]}")
                return
            self._read(r, t0)

    def _read(self, r, t0: float) -> None:
        event, ttft = "message", None
        for raw in r.iter_lines():
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                if event == "token" and ttft is None:
                    ttft = (time.perf_counter() - t0) * 1000
                    self.environment.events.request.fire(request_type="SSE", name="ttft", response_time=ttft,
                                                         response_length=0, exception=None, context={})  # fmt: skip
                elif event == "error":
                    r.failure(f"stream error: {json.loads(line[5:])['error']['message'][:200]}")
                    return
                elif event == "done":
                    total = (time.perf_counter() - t0) * 1000
                    self.environment.events.request.fire(request_type="SSE", name="answer", response_time=total,
                                                         response_length=0, exception=None, context={})  # fmt: skip
                    r.success()
                    return
        r.failure("stream ended without a done event")
