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


def histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """The q-quantile of a cumulative histogram [(upper_bound, count), ...] sorted by bound, interpolated
    linearly inside its bucket as Prometheus' histogram_quantile() does; None without observations."""
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):  # beyond the last finite bucket: its bound is the best we know
                return lower
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 0.0)
        lower, below = bound, count
    return lower


def _histogram(registry: CollectorRegistry, name: str) -> dict:
    """p50/p95 (ms) and count of a histogram, summed over all its label sets."""
    cumulative: dict[float, float] = {}
    total = 0.0
    for metric in registry.collect():
        if metric.name != name:
            continue
        for s in metric.samples:
            if s.name == name + "_bucket":
                le = float(s.labels["le"])
                cumulative[le] = cumulative.get(le, 0.0) + s.value
            elif s.name == name + "_sum":
                total += s.value
    buckets = sorted(cumulative.items())
    count = int(buckets[-1][1]) if buckets else 0

    def ms(q: float) -> float | None:
        v = histogram_quantile(buckets, q)
        return None if v is None else round(v * 1000, 1)

    # the mean is exact; percentiles are bucket estimates (coarse with few observations)
    mean = round(total / count * 1000, 1) if count else None
    return {"count": count, "mean_ms": mean, "p50_ms": ms(0.5), "p95_ms": ms(0.95)}


def summary(m: Metrics) -> dict:
    """What the status page shows: request counts by status class, latency percentiles, the generation queue."""
    by_class: dict[str, int] = {}
    for metric in m.registry.collect():
        if metric.name == "zhiku_http_requests":
            for s in metric.samples:
                if s.name.endswith("_total"):
                    cls = s.labels["status"][0] + "xx"
                    by_class[cls] = by_class.get(cls, 0) + int(s.value)
    return {
        "requests": sum(by_class.values()),
        "requests_by_status": dict(sorted(by_class.items())),
        "latency": _histogram(m.registry, "zhiku_http_request_seconds"),
        "retrieval": _histogram(m.registry, "zhiku_retrieval_seconds"),
        "ttft": _histogram(m.registry, "zhiku_ttft_seconds"),
        "queue_depth": int(_scalar(m.registry, "zhiku_generation_queue_depth")),
        "in_flight": int(_scalar(m.registry, "zhiku_generation_in_flight")),
        "rejected": int(_total(m.registry, "zhiku_generation_rejected_total")),
    }


def _scalar(registry: CollectorRegistry, sample: str) -> float:
    return registry.get_sample_value(sample) or 0.0


def _total(registry: CollectorRegistry, sample: str) -> float:
    """A sample summed over all its label sets (e.g. rejections by reason)."""
    return sum(s.value for metric in registry.collect() for s in metric.samples if s.name == sample)
