"""The LLM protocol: chat messages in, streamed text out."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator, Protocol, runtime_checkable

if TYPE_CHECKING:
    from zhiku.config import LLMSettings

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": ...}


@dataclass
class Sampling:
    """How one generation samples. Built once per answer by `from_settings(...).with_overrides(...)` (a route,
    from its request; RagPipeline from the settings alone when the caller gives none, as the CLI does) and
    handed down unchanged to the LLM."""

    max_tokens: int = 512
    temperature: float = 0.1
    top_p: float = 0.9
    top_k: int = 40  # the LLM's top-k sampling: llm.sample_top_k in settings, `sample_top_k` in the HTTP API
    stop: list[str] = field(default_factory=list)
    # ask for one JSON object, optionally of this JSON schema ({} = any object): OpenAI `response_format`
    # {"type": "json_object", "schema": ...}, which llama_cpp.server turns into a grammar (vLLM honours the type).
    # What lets a small judge model answer in parseable JSON. The in-process llama.cpp backend ignores it.
    json_schema: dict | None = None
    # > 1 makes tokens already in the context less likely (llama.cpp `repeat_penalty`, vLLM/TGI
    # `repetition_penalty`): what keeps a small model's long prose from looping on one phrase. 1 = off.
    repetition_penalty: float = 1.0

    @classmethod
    def from_settings(cls, llm: LLMSettings) -> Sampling:
        return cls(max_tokens=llm.max_tokens, temperature=llm.temperature, top_p=llm.top_p, top_k=llm.sample_top_k)

    def with_overrides(
        self,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        repetition_penalty: float | None = None,
    ) -> Sampling:
        """A copy with the values a request gave; None (a field the request left out) keeps this one's."""
        given = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "top_k": top_k,
                 "repetition_penalty": repetition_penalty}
        return replace(self, **{k: v for k, v in given.items() if v is not None})


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@runtime_checkable
class LLM(Protocol):
    name: str

    def stream(self, messages: list[Message], sampling: Sampling, usage: Usage | None = None) -> Iterator[str]:
        """Yield text deltas; fills `usage` when given. Closing the iterator stops generation."""

    def astream(
        self, messages: list[Message], sampling: Sampling, usage: Usage | None = None
    ) -> AsyncIterator[str]:
        """Async form of stream(), for the server; cancelling it stops generation."""

    def complete(self, messages: list[Message], sampling: Sampling) -> str: ...


def instruct(llm: LLM, system: str, user: str, max_tokens: int) -> str:
    """One deterministic instruction -> text call: the shape of every helper task (condense, rewrite, HyDE)."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user.strip()}]
    return llm.complete(messages, Sampling(max_tokens=max_tokens, temperature=0.0))


def json_values(reply: str) -> Iterator[Any]:
    """The JSON values a model reply holds, leniently: the outermost {...}, then the outermost [...], each yielded
    when it parses. Small models wrap JSON in words or code fences, or answer with a bare list."""
    for start, end in (("{", "}"), ("[", "]")):
        i, j = reply.find(start), reply.rfind(end)
        if 0 <= i < j:
            try:
                yield json.loads(reply[i : j + 1])
            except json.JSONDecodeError:
                continue
