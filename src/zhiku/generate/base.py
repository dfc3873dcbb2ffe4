"""The LLM protocol: chat messages in, streamed text out."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import AsyncIterator, Iterator, Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": ...}


@dataclass
class Sampling:
    max_tokens: int = 512
    temperature: float = 0.1
    top_p: float = 0.9
    top_k: int = 40
    stop: list[str] = field(default_factory=list)
    # ask for one JSON object, optionally of this JSON schema ({} = any object): OpenAI `response_format`
    # {"type": "json_object", "schema": ...}, which llama_cpp.server turns into a grammar (vLLM honours the type).
    # What lets a small judge model answer in parseable JSON. The in-process llama.cpp backend ignores it.
    json_schema: dict | None = None


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
