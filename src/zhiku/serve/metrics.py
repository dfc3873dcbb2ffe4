"""Prometheus metrics, one registry per app (several apps in one process, e.g. tests, do not collide)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("zhiku_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "zhiku_http_request_seconds", "HTTP request latency (streams: until the last byte)",
            ["method", "route", "status"], buckets=_LATENCY, registry=r,
        )  # fmt: skip
        self.ttft = Histogram("zhiku_ttft_seconds", "Time to first token", buckets=_LATENCY, registry=r)
        self.tokens_per_s = Histogram(
            "zhiku_tokens_per_second", "Generation speed", buckets=(1, 2, 5, 10, 20, 40, 80, 160), registry=r
        )
        self.retrieval = Histogram("zhiku_retrieval_seconds", "Retrieval latency", buckets=_LATENCY, registry=r)
        self.queue_depth = Gauge("zhiku_generation_queue_depth", "Requests waiting for a generation slot", registry=r)
        self.in_flight = Gauge("zhiku_generation_in_flight", "Generations running", registry=r)
        self.rejected = Counter(
            "zhiku_generation_rejected_total", "Requests refused: 503 queue_full or retrieval_backlog, 429 key_limit", ["reason"], registry=r
        )
