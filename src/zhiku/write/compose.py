"""Continue the manuscript, or rewrite / expand / polish a passage of it, with the project's memory in the prompt.

    prepare ── recall memories (recall.py: names mentioned + hybrid search of the passage and the instruction)
            └─ fit the preceding text into llm.n_ctx - max_tokens - the rest of the prompt
    stream ─── MemoriesEvent (what was picked and why) → TokenEvent... → WrittenEvent
    accept ─── append the continuation to its chapter, or put the revision in place of the passage

Like RagPipeline, `prepare` is everything before generation and `finish` everything after, so a server can run
`prepare` in a worker thread and stream with `llm.astream(prepared.messages, prepared.sampling)`.
Token counts come from the model's own tokenizer when it has one at hand (the in-process llama.cpp model), else
one token per character: an overestimate for Chinese with Qwen's vocabulary (~1.4 characters a token), so the
prompt always fits.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Iterator

from zhiku.errors import InputError
from zhiku.generate.base import LLM, Message, Sampling, Usage
from zhiku.generate.prompts import build_continue_messages, build_revise_messages, format_memories
from zhiku.pipeline import TokenEvent
from zhiku.write.project import Chapter, Project, check_span
from zhiku.write.recall import MemoryHit

REVISE_KINDS = ("rewrite", "expand", "polish")
_GROWTH = {"rewrite": 1.3, "expand": 2.4, "polish": 1.2}  # output tokens per passage token, for max_tokens "auto"
_TEMPLATE_TOKENS = 8  # per message: the chat template's role markers
_MARGIN = 16
_MIN_CONTEXT = 32  # tokens of preceding text below which a continuation has nothing to go on
_BOUNDARY = re.compile(r"[\n。！？!?…」”]")
_SENTENCE_ENDS = tuple("。！？!?…」”』\"\n")


@dataclass
class Prepared:
    kind: str  # continue | rewrite | expand | polish
    messages: list[Message]
    sampling: Sampling
    memories: list[MemoryHit]
    chapter: int
    context_chars: int  # preceding text in the prompt
    prompt_tokens: int  # counted (llama.cpp) or estimated
    span: tuple[int, int] | None = None  # the passage revised, [start, end) of the chapter
    original: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    t0: float = 0.0

    def to_dict(self, prompt: bool = False) -> dict:
        d = {"kind": self.kind, "chapter": self.chapter, "span": self.span, "context_chars": self.context_chars,
             "prompt_tokens": self.prompt_tokens, "memories": [h.to_dict() for h in self.memories],
             "sampling": {k: v for k, v in vars(self.sampling).items() if k not in ("stop", "json_schema")}}
        return {**d, "messages": self.messages} if prompt else d


@dataclass
class Written:
    prepared: Prepared
    text: str
    timings: dict[str, float]
    usage: dict[str, int]

    def to_dict(self) -> dict:
        return {**self.prepared.to_dict(), "text": self.text, "timings": self.timings, "usage": self.usage}


@dataclass
class MemoriesEvent:
    """Sent before the first token: the memories in the prompt, and how much preceding text fitted."""

    prepared: Prepared


@dataclass
class WrittenEvent:
    written: Written


Event = MemoriesEvent | TokenEvent | WrittenEvent


class Composer:
    def __init__(self, project: Project, llm: LLM | None = None):
        self.project = project
        self.settings = project.settings
        self.ws = project.settings.write
        self.llm_settings = project.llm_settings()  # the project's own adapter / model, if it set one
        self.llm = llm or project.llm()

    # ---------- sampling and tokens ----------
    def sampling(self, temperature: float | None = None, top_p: float | None = None, top_k: int | None = None,
                 max_tokens: int | None = None, repetition_penalty: float | None = None) -> Sampling:
        """write.* sampling defaults with a request's overrides (None keeps the default; max_tokens 0 = auto)."""
        ws = self.ws
        s = Sampling(max_tokens=ws.max_tokens, temperature=ws.temperature, top_p=ws.top_p, top_k=ws.sample_top_k,
                     repetition_penalty=ws.repetition_penalty)
        s = s.with_overrides(max_tokens, temperature, top_p, top_k, repetition_penalty)
        checks = ((s.max_tokens >= 0, "max tokens must be >= 0"), (s.temperature >= 0, "temperature must be >= 0"),
                  (0 < s.top_p <= 1, "top-p must be in (0, 1]"), (s.top_k >= 0, "top-k must be >= 0"),
                  (0 < s.repetition_penalty <= 3, "repetition penalty must be in (0, 3]"))
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        return s

    def count(self, text: str) -> int:
        counter = getattr(self.llm, "count_tokens", None)
        return counter(text) if counter is not None else len(text)

    @property
    def n_ctx(self) -> int:
        return int(getattr(self.llm, "n_ctx", 0) or self.llm_settings.n_ctx)

    def _room(self, messages: list[Message], max_tokens: int) -> int:
        """Tokens left for preceding text once these messages and the answer are in the context."""
        used = sum(self.count(m["content"]) + _TEMPLATE_TOKENS for m in messages) + _MARGIN
        room = self.n_ctx - max_tokens - used
        return min(room, self.ws.context_tokens) if self.ws.context_tokens > 0 else room

    def fit(self, text: str, budget: int) -> str:
        """The longest tail of `text` within `budget` tokens, starting at a paragraph or sentence."""
        if budget <= 0 or not text:
            return ""
        n, cut = self.count(text), False
        while n > budget:
            keep = int(len(text) * budget / n * 0.97)
            text, cut = (text[-keep:] if keep > 0 else ""), True
            n = self.count(text)
        if cut and (m := _BOUNDARY.search(text[:200])):
            text = text[m.end():]  # a prompt opening mid-sentence reads as noise to a small model
        return text.lstrip()

    # ---------- before generation ----------
    def _recall(self, memory: bool, passage: str, instruction: str, timings: dict) -> tuple[list[MemoryHit], str]:
        if not memory or self.ws.memory_k <= 0 or not self.project.memories.list():
            return [], ""
        t = time.perf_counter()
        hits = self.project.memories.index.recall(passage, instruction, self.ws.memory_k)
        timings["recall_ms"] = round((time.perf_counter() - t) * 1000, 1)
        return hits, format_memories([(h.memory.label, h.memory.name, h.memory.text) for h in hits])

    def prepare_continue(self, instruction: str = "", memory: bool = True, sampling: Sampling | None = None,
                         chapter: int | None = None) -> Prepared:
        """The prompt continuing chapter `chapter` (the last one by default)."""
        t0, timings = time.perf_counter(), {}
        sampling = sampling or self.sampling()
        if sampling.max_tokens == 0:
            sampling = replace(sampling, max_tokens=self.ws.max_tokens)
        number = (self.project.chapter(chapter) if chapter else self.project.last_chapter()).number
        hits, block = self._recall(memory, self.project.tail(self.ws.query_chars, number), instruction, timings)
        room = self._room(build_continue_messages("", block, instruction), sampling.max_tokens)
        if room < _MIN_CONTEXT:
            raise InputError(f"the instruction, memories and {sampling.max_tokens} tokens to write leave no room for "
                             f"the preceding text in llm.n_ctx={self.n_ctx}: lower --max-tokens or write.memory_k")
        preceding = self.fit(self.project.tail(room * 4, number), room)
        messages = build_continue_messages(preceding, block, instruction)
        tokens = sum(self.count(m["content"]) + _TEMPLATE_TOKENS for m in messages)
        return Prepared("continue", messages, sampling, hits, number, len(preceding), tokens, timings=timings, t0=t0)

    def prepare_revise(self, kind: str, chapter: int, start: int, end: int, instruction: str = "",
                       memory: bool = True, sampling: Sampling | None = None) -> Prepared:
        """The prompt rewriting / expanding / polishing characters [start, end) of a chapter."""
        if kind not in REVISE_KINDS:
            raise InputError(f"unknown revision {kind!r} (use {', '.join(REVISE_KINDS)})")
        t0, timings = time.perf_counter(), {}
        ch: Chapter = self.project.chapter(chapter)
        check_span(ch.text, start, end, f"chapter {chapter}")
        passage = ch.text[start:end]
        sampling = sampling or self.sampling(max_tokens=0)
        if sampling.max_tokens == 0:  # auto: room for the passage grown as the kind grows it
            sampling = replace(sampling, max_tokens=int(self.count(passage) * _GROWTH[kind]) + 32)
        hits, block = self._recall(memory, passage, instruction, timings)
        room = self._room(build_revise_messages(kind, "", passage, block, instruction), sampling.max_tokens)
        if room < 0:
            raise InputError(f"the passage ({end - start} characters) and {sampling.max_tokens} tokens to write do "
                             f"not fit llm.n_ctx={self.n_ctx}: select a shorter passage")
        before = self.fit(ch.text[:start][-self.ws.query_chars :], min(room, self.ws.query_chars))
        messages = build_revise_messages(kind, before, passage, block, instruction)
        tokens = sum(self.count(m["content"]) + _TEMPLATE_TOKENS for m in messages)
        return Prepared(kind, messages, sampling, hits, chapter, len(before), tokens, (start, end), passage, timings, t0)

    # ---------- generation ----------
    def stream(self, p: Prepared) -> Iterator[Event]:
        yield MemoriesEvent(p)
        usage, parts, ttft = Usage(), [], None
        for delta in self.llm.stream(p.messages, p.sampling, usage):
            if ttft is None:
                ttft = (time.perf_counter() - p.t0) * 1000
            parts.append(delta)
            yield TokenEvent(delta)
        yield WrittenEvent(self.finish(p, "".join(parts), usage, ttft))

    def finish(self, p: Prepared, text: str, usage: Usage, ttft_ms: float | None) -> Written:
        timings = dict(p.timings)
        if ttft_ms is not None:
            timings["ttft_ms"] = round(ttft_ms, 1)
        timings["total_ms"] = round((time.perf_counter() - p.t0) * 1000, 1)
        return Written(p, text.strip(), timings, {"prompt_tokens": usage.prompt_tokens,
                                                  "completion_tokens": usage.completion_tokens})

    def write(self, p: Prepared) -> Written:
        """The whole text of a prepared generation (no streaming)."""
        for ev in self.stream(p):
            if isinstance(ev, WrittenEvent):
                return ev.written
        raise AssertionError("unreachable: every stream ends with a WrittenEvent")

    # ---------- keeping it ----------
    def accept(self, w: Written) -> Chapter:
        """Put accepted text into the manuscript: a continuation at the end of its chapter (a new paragraph when
        the chapter ends a sentence), a revision in place of its passage (refused if the passage changed)."""
        p = w.prepared
        if p.kind == "continue":
            before = self.project.tail(1, p.chapter)
            sep = "\n" if before and before.endswith(_SENTENCE_ENDS) and not before.endswith("\n") else ""
            return self.project.append(sep + w.text, p.chapter)
        start, end = p.span
        return self.project.replace_span(p.chapter, start, end, w.text, expect=p.original)
