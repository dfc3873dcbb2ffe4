"""The golden path, top to bottom: condense -> retrieve -> relevance gate -> prompt -> stream -> cite.

One `RagPipeline` serves the CLI, the HTTP API and the web UI. It is split into `prepare` (everything before
generation) and `finish` (everything after), so the sync `stream()` and the server's async `astream()` share all
logic and differ only in how tokens are pulled from the LLM. A non-streaming reply is the same event stream,
collected by `collect_answer` / `acollect_answer`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import AsyncIterable, AsyncIterator, Iterable, Iterator

from zhiku.config import Settings
from zhiku.errors import ZhikuError
from zhiku.generate.base import LLM, Message, Sampling, Usage
from zhiku.generate.prompts import (
    NO_BASIS_ANSWER,
    build_messages,
    mentioned_sources,
    parse_citations,
)
from zhiku.index.base import Filters
from zhiku.kb import KnowledgeBase
from zhiku.retrieve.condense import Condenser
from zhiku.retrieve.relevance import RelevanceGate
from zhiku.retrieve.searcher import Searcher
from zhiku.types import Answer, Citation, Hit


@dataclass
class TokenEvent:
    text: str


@dataclass
class SourcesEvent:
    """Sent before the first token: what the answer will be grounded on."""

    sources: list[Citation]
    question: str
    grounded: bool
    retrieval_ms: float


@dataclass
class DoneEvent:
    answer: Answer


Event = TokenEvent | SourcesEvent | DoneEvent


@dataclass
class Prepared:
    question: str  # the standalone question actually searched
    original: str
    hits: list[Hit]
    grounded: bool
    messages: list[Message]
    timings: dict[str, float] = field(default_factory=dict)
    t0: float = 0.0

    @property
    def sources(self) -> list[Citation]:
        return [Citation(i + 1, h) for i, h in enumerate(self.hits)]


class RagPipeline:
    def __init__(self, kb: KnowledgeBase, llm: LLM, settings: Settings):
        self.kb, self.llm, self.settings = kb, llm, settings
        self.searcher = Searcher(kb, settings, llm=lambda: self.llm)
        self.gate = RelevanceGate(kb.store, kb.embedder, settings.retrieval)

    # ---------- before generation ----------
    def condense(self, question: str, history: list[Message] | None) -> str:
        """Rewrite a follow-up into a standalone question using the last turns (no-op without history)."""
        return Condenser(self.llm, self.settings.chat.history_turns).condense(question, history)

    def prepare(
        self,
        question: str,
        history: list[Message] | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
        rerank: bool | None = None,
    ) -> Prepared:
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        standalone = self.condense(question, history)
        t1 = time.perf_counter()
        if history:
            timings["condense_ms"] = (t1 - t0) * 1000
        rs = self.settings.retrieval
        hits = self.searcher.run(standalone, k=top_k or rs.top_k, filters=filters, timings=timings, rerank=rerank)
        grounded = bool(hits) and self.gate.has_basis(standalone, filters)
        timings["retrieval_ms"] = (time.perf_counter() - t1) * 1000
        if not grounded:
            hits = []
        messages = build_messages(standalone, hits, max_source_chars=rs.max_source_chars)
        return Prepared(standalone, question, hits, grounded, messages, timings, t0)

    # ---------- after generation ----------
    def finish(self, p: Prepared, text: str, usage: Usage, ttft_ms: float | None) -> Answer:
        # Citations follow the [n] markers as the user saw them stream; rewriting them afterwards (e.g. to match
        # a law name the model got wrong) made the list disagree with the text. Without any marker, fall back to
        # the sources whose 《law》第X条 the text names.
        text = text.strip()
        sources = p.sources
        numbers = parse_citations(text, len(sources)) or mentioned_sources(text, p.hits)
        cited = [sources[n - 1] for n in numbers]
        timings = dict(p.timings)
        if ttft_ms is not None:
            timings["ttft_ms"] = ttft_ms
        timings["total_ms"] = (time.perf_counter() - p.t0) * 1000
        return Answer(
            text=text,
            citations=cited,
            sources=sources,
            question=p.question,
            grounded=p.grounded,
            timings=timings,
            usage={"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
        )

    def _no_basis(self, p: Prepared) -> Answer:
        return self.finish(p, NO_BASIS_ANSWER, Usage(), ttft_ms=(time.perf_counter() - p.t0) * 1000)

    def _sampling(self, sampling: Sampling | None) -> Sampling:
        return sampling if sampling is not None else Sampling.from_settings(self.settings.llm)

    # ---------- the two drivers ----------
    # `sampling`: how to generate, built by the caller from its request (None: the configured defaults)
    def stream(self, question: str, history: list[Message] | None = None, filters: Filters | None = None,
               top_k: int | None = None, rerank: bool | None = None,
               sampling: Sampling | None = None) -> Iterator[Event]:
        p = self.prepare(question, history, top_k=top_k, filters=filters, rerank=rerank)
        yield from self._opening(p)
        if p.grounded:
            g = _Generation(p.t0)
            for delta in self.llm.stream(p.messages, self._sampling(sampling), g.usage):
                yield g.token(delta)
            yield DoneEvent(self.finish(p, "".join(g.parts), g.usage, g.ttft_ms))

    async def astream(self, p: Prepared, sampling: Sampling | None = None) -> AsyncIterator[Event]:
        """Async generation for a `prepare`d question (the server runs `prepare` in a worker thread)."""
        for ev in self._opening(p):
            yield ev
        if p.grounded:
            g = _Generation(p.t0)
            async for delta in self.llm.astream(p.messages, self._sampling(sampling), g.usage):
                yield g.token(delta)
            yield DoneEvent(self.finish(p, "".join(g.parts), g.usage, g.ttft_ms))

    def _opening(self, p: Prepared) -> list[Event]:
        """What precedes generation: the sources, and for an ungrounded question the whole "no basis" reply."""
        head: list[Event] = [SourcesEvent(p.sources, p.question, p.grounded, p.timings["retrieval_ms"])]
        if not p.grounded:
            head += [TokenEvent(NO_BASIS_ANSWER), DoneEvent(self._no_basis(p))]
        return head

    def ask(self, question: str, history: list[Message] | None = None, **kw) -> Answer:
        return collect_answer(self.stream(question, history, **kw))


@dataclass
class _Generation:
    """Tokens of one answer as they stream: the text so far, usage, and when the first one came."""

    t0: float
    usage: Usage = field(default_factory=Usage)
    parts: list[str] = field(default_factory=list)
    ttft_ms: float | None = None

    def token(self, delta: str) -> TokenEvent:
        if self.ttft_ms is None:
            self.ttft_ms = (time.perf_counter() - self.t0) * 1000
        self.parts.append(delta)
        return TokenEvent(delta)


def collect_answer(events: Iterable[Event]) -> Answer:
    """The answer of an event stream, for a caller that does not stream (the stream ends with it)."""
    for ev in events:
        if isinstance(ev, DoneEvent):
            return ev.answer
    raise _no_answer()


async def acollect_answer(events: AsyncIterable[Event]) -> Answer:
    """`collect_answer` of an async event stream (a server route's)."""
    async for ev in events:
        if isinstance(ev, DoneEvent):
            return ev.answer
    raise _no_answer()


def _no_answer() -> ZhikuError:
    return ZhikuError("pipeline ended without an answer")  # unreachable: every stream ends with a DoneEvent
