"""Multi-turn condensation: a follow-up ("那最长多久？") plus the last turns -> one standalone question, so retrieval
sees what the user means. No history, no LLM call."""
from __future__ import annotations

from zhiku.generate.base import LLM, Message, Sampling
from zhiku.generate.prompts import build_condense_messages, clean_condensed


class Condenser:
    def __init__(self, llm: LLM, turns: int = 3, max_tokens: int = 96):
        self.llm, self.turns, self.max_tokens = llm, turns, max_tokens

    def condense(self, question: str, history: list[Message] | None) -> str:
        """The standalone question: `question` itself when there is no history."""
        recent = (history or [])[-2 * self.turns :]
        if not recent:
            return question
        text = self.llm.complete(build_condense_messages(recent, question), Sampling(max_tokens=self.max_tokens, temperature=0.0))
        return clean_condensed(text, question)
