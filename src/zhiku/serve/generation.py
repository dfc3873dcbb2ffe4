"""Generation slots, their bounded waiting room, per-key limits, and the RAG run the routes share.

In-process llama.cpp runs one generation at a time (a context is not thread-safe): one slot. A remote
OpenAI-compatible server (vLLM, Ollama, ...) batches many at once, so it gets `server.remote_concurrency` slots;
here a generation is mostly waiting on a socket and a slot costs the server a coroutine, not a core.
Either way the waiting room is bounded: when every slot is taken and `max_queue` requests already wait, a new
one is refused at once with 503 + Retry-After; a client is never left hanging on a queue that cannot serve it
in time. One API key may have at most `server.key_concurrency` requests admitted at once (429 beyond), so one
client cannot take every slot.
"""
from __future__ import annotations

import asyncio
import os
import time
from typing import AsyncIterator

import anyio

from zhiku.errors import OverloadedError, RequestTimeoutError, TooManyRequestsError
from zhiku.generate.base import Message, Sampling
from zhiku.index.base import Filters
from zhiku.pipeline import DoneEvent, Event, RagPipeline
from zhiku.serve.metrics import Metrics


class Ticket:
    """One admitted request: waiting -> running (retrieval, then tokens) -> closed. `close()` is idempotent and always called (the
    response wrapper calls it even when the body never started)."""

    def __init__(self, gate: "GenerationGate", timeout: float, key: str | None):
        self.gate, self.state, self.key = gate, "waiting", key
        self.retrieved = False  # counted in gate.pending until its retrieval is done
        self.deadline = time.monotonic() + timeout

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RequestTimeoutError("request timed out (server.request_timeout)")
        return left

    async def acquire(self) -> None:
        try:
            await asyncio.wait_for(self.gate._slots.acquire(), self.remaining())
        except asyncio.TimeoutError:
            raise RequestTimeoutError("request timed out waiting for a generation slot") from None
        if self.state == "closed":  # closed while we waited: give the slot straight back
            self.gate._slots.release()
            return
        self.gate._started()
        self.state = "running"

    def retrieval_done(self, seconds: float | None = None) -> None:
        """Past retrieval (`seconds`: how long it took, for the gate's estimate; None when it never ran)."""
        if not self.retrieved:
            self.retrieved = True
            self.gate.pending -= 1
            if seconds is not None:
                self.gate.retrieval_s += 0.1 * (seconds - self.gate.retrieval_s)

    def close(self) -> None:
        if self.state == "closed":
            return
        self.retrieval_done()
        self.gate._finished(self, was_running=self.state == "running")
        self.state = "closed"


class GenerationGate:
    def __init__(self, slots: int, max_queue: int, timeout: float, metrics: Metrics, drain_seconds: float = 0.0,
                 key_concurrency: int = 0, retrieval_threads: int = 0, retrieval_wait: float = 0.25):  # fmt: skip
        self.slots, self.max_queue, self.timeout, self.metrics = slots, max_queue, timeout, metrics
        self.drain_seconds, self.key_concurrency = drain_seconds, key_concurrency
        self._slots = asyncio.Semaphore(slots)
        self.waiting = self.running = 0
        self.pending = 0  # admitted and not yet past retrieval
        self.retrieval_s = 0.05  # moving average of one retrieval's duration
        self.retrieval_wait = retrieval_wait
        self._per_key: dict[str, int] = {}
        self.retrieval_threads = retrieval_threads or os.cpu_count() or 2
        self._retrieval: anyio.CapacityLimiter | None = None

    def retrieval_limiter(self) -> anyio.CapacityLimiter:
        """Threads that may retrieve at once. Retrieval is CPU work (embedding, faiss, SQLite, fusion): more
        threads than cores only fight over the GIL with the event loop that relays every token, which under
        load stretched token latency far more than queueing for a retrieval thread does."""
        if self._retrieval is None:  # created in the loop that uses it
            self._retrieval = anyio.CapacityLimiter(self.retrieval_threads)
        return self._retrieval

    def admit(self, key: str | None = None) -> Ticket:
        """Reserve a place or refuse now. Synchronous: no await between the checks and the reservation."""
        held = self._per_key.get(key, 0) if key else 0
        if key and self.key_concurrency and held >= self.key_concurrency:
            self.metrics.rejected.labels("key_limit").inc()
            raise TooManyRequestsError(
                f"API key '{key}' already has {held} requests in flight (server.key_concurrency); retry later"
            )
        # admitted-but-not-yet-running requests count as waiting, so a burst cannot overshoot the bound
        if self.waiting + self.running >= self.slots + self.max_queue:
            self.metrics.rejected.labels("queue_full").inc()
            raise OverloadedError(f"server busy: {self.running} generations running and {self.waiting} waiting; "
                                  "retry later")  # fmt: skip
        # Retrieval is the CPU-bound stage: with many remote slots the cores saturate before the slots do, and
        # then every stream slows down together. A question that would wait longer than `retrieval_wait` for a
        # retrieval thread (backlog x average retrieval time) is refused at once: the time to first token stays
        # near one retrieval, bursts that clear quickly still get in, and the average grows with CPU contention.
        # Only while a slot is free: when every slot is taken (always, soon, for the one llama.cpp slot) the
        # waiting room above is the bound, and those requests wait for the model, not for retrieval.
        expected = self.pending / self.retrieval_threads * self.retrieval_s
        if self.running < self.slots and self.pending >= self.retrieval_threads and expected > self.retrieval_wait:
            self.metrics.rejected.labels("retrieval_backlog").inc()
            raise OverloadedError(f"server busy: {self.pending} questions waiting for retrieval "
                                  f"(~{expected:.1f} s); retry later")  # fmt: skip
        self.waiting += 1
        self.pending += 1
        self.metrics.queue_depth.set(self.waiting)
        if key:
            self._per_key[key] = held + 1
        return Ticket(self, self.timeout, key)

    def _started(self) -> None:
        self.waiting -= 1
        self.running += 1
        self.metrics.queue_depth.set(self.waiting)
        self.metrics.in_flight.set(self.running)

    def _finished(self, ticket: Ticket, was_running: bool) -> None:
        if was_running:
            self.running -= 1
            self._slots.release()
        else:
            self.waiting -= 1
        self.metrics.queue_depth.set(self.waiting)
        self.metrics.in_flight.set(self.running)
        if ticket.key:
            left = self._per_key.pop(ticket.key, 1) - 1
            if left:
                self._per_key[ticket.key] = left

    @property
    def busy(self) -> bool:
        return self.running > 0


async def run_rag(
    pipe: RagPipeline,
    ticket: Ticket,
    metrics: Metrics,
    question: str,
    history: list[Message] | None = None,
    top_k: int | None = None,
    filters: Filters | None = None,
    rerank: bool | None = None,
    sampling: Sampling | None = None,
) -> AsyncIterator[Event]:
    """Events of one answer: prepare (retrieval, condense) in a worker thread, then `pipe.astream`.

    The caller owns `ticket` and closes it. Leaving this generator early (client gone, timeout) closes
    `astream`, which stops llama.cpp within a token.
    """
    await ticket.acquire()
    p = await anyio.to_thread.run_sync(
        lambda: pipe.prepare(question, history, top_k=top_k, filters=filters, rerank=rerank),
        limiter=ticket.gate.retrieval_limiter(),
    )
    ticket.retrieval_done((p.timings.get("condense_ms", 0.0) + p.timings.get("retrieval_ms", 0.0)) / 1000)
    metrics.retrieval.observe(p.timings.get("retrieval_ms", 0.0) / 1000)
    events = pipe.astream(p, sampling)
    try:
        while True:
            try:
                # a timeout around each await only (not across the yield): a timer handle per token, where
                # asyncio.wait_for made a Task per token
                async with asyncio.timeout(ticket.remaining()):
                    ev = await events.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
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
