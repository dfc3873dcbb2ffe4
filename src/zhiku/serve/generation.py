"""The one generation slot of the in-process LLM, its bounded waiting room, and the RAG run the routes share.

llama.cpp runs one generation at a time (a context is not thread-safe), so requests queue for a single slot.
The queue is bounded: when `max_queue` requests already wait, a new one is refused at once with 503 +
Retry-After; a client is never left hanging on a queue that cannot serve it in time.
"""
from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

import anyio

from zhiku.errors import OverloadedError, RequestTimeoutError
from zhiku.generate.base import Message
from zhiku.index.base import Filters
from zhiku.pipeline import DoneEvent, Event, RagPipeline
from zhiku.serve.metrics import Metrics


class Ticket:
    """One admitted request: waiting -> running -> closed. `close()` is idempotent and always called (the
    response wrapper calls it even when the body never started)."""

    def __init__(self, gate: "GenerationGate", timeout: float):
        self.gate, self.state = gate, "waiting"
        self.deadline = time.monotonic() + timeout

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RequestTimeoutError("request timed out (server.request_timeout)")
        return left

    async def acquire(self) -> None:
        try:
            await asyncio.wait_for(self.gate._slot.acquire(), self.remaining())
        except asyncio.TimeoutError:
            raise RequestTimeoutError("request timed out waiting for the generation slot") from None
        if self.state == "closed":  # closed while we waited: give the slot straight back
            self.gate._slot.release()
            return
        self.gate._left_waiting()
        self.state = "running"
        self.gate.metrics.in_flight.inc()

    def close(self) -> None:
        if self.state == "waiting":
            self.gate._left_waiting()
        elif self.state == "running":
            self.gate._slot.release()
            self.gate.metrics.in_flight.dec()
        self.state = "closed"


class GenerationGate:
    def __init__(self, max_queue: int, timeout: float, metrics: Metrics, drain_seconds: float = 0.0):
        self.max_queue, self.timeout, self.metrics = max_queue, timeout, metrics
        self.drain_seconds = drain_seconds
        self._slot = asyncio.Semaphore(1)
        self.waiting = 0

    def admit(self) -> Ticket:
        """Reserve a place or refuse now. Synchronous: no await between the check and the reservation."""
        # admitted-but-not-yet-running requests count as waiting, so a burst cannot overshoot the bound
        running = 1 if self._slot.locked() else 0
        if self.waiting + running >= 1 + self.max_queue:
            self.metrics.rejected.inc()
            raise OverloadedError(f"server busy: {self.waiting} requests already waiting for the model; retry later")
        self.waiting += 1
        self.metrics.queue_depth.set(self.waiting)
        return Ticket(self, self.timeout)

    def _left_waiting(self) -> None:
        self.waiting -= 1
        self.metrics.queue_depth.set(self.waiting)

    @property
    def busy(self) -> bool:
        return self._slot.locked()


async def run_rag(
    pipe: RagPipeline,
    ticket: Ticket,
    metrics: Metrics,
    question: str,
    history: list[Message] | None = None,
    top_k: int | None = None,
    filters: Filters | None = None,
    rerank: bool | None = None,
    sample_top_k: int | None = None,  # the LLM's top-k sampling (`top_k` is the number of sources retrieved)
    **sampling,
) -> AsyncIterator[Event]:
    """Events of one answer: prepare (retrieval, condense) in a worker thread, then `pipe.astream`.

    The caller owns `ticket` and closes it. Leaving this generator early (client gone, timeout) closes
    `astream`, which stops llama.cpp within a token.
    """
    await ticket.acquire()
    p = await anyio.to_thread.run_sync(lambda: pipe.prepare(question, history, top_k=top_k, filters=filters, rerank=rerank))
    metrics.retrieval.observe(p.timings.get("retrieval_ms", 0.0) / 1000)
    events = pipe.astream(p, top_k=sample_top_k, **sampling)
    try:
        while True:
            try:
                ev = await asyncio.wait_for(events.__anext__(), ticket.remaining())
            except StopAsyncIteration:
                return
            except asyncio.TimeoutError:
                raise RequestTimeoutError("request timed out during generation (server.request_timeout)") from None
            if isinstance(ev, DoneEvent):
                _observe(metrics, ev)
            yield ev
    finally:
        await events.aclose()


def _observe(metrics: Metrics, ev: DoneEvent) -> None:
    t, n = ev.answer.timings, ev.answer.usage.get("completion_tokens", 0)
    if "ttft_ms" in t:
        metrics.ttft.observe(t["ttft_ms"] / 1000)
        gen_s = (t.get("total_ms", 0) - t["ttft_ms"]) / 1000
        if n > 1 and gen_s > 0:
            metrics.tokens_per_s.observe(n / gen_s)
