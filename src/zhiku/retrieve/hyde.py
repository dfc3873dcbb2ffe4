"""HyDE (Gao et al. 2022): the LLM drafts the statute article that would answer the question; the draft, not the
question, is embedded and keyword-searched, because a draft article sits closer to real articles than a
layperson's question does. Searched beside the original question and fused (retrieve/searcher.py)."""
from __future__ import annotations

from zhiku.generate.base import LLM, instruct
from zhiku.generate.prompts import HYDE_PROMPT


class HydeWriter:
    def __init__(self, llm: LLM, max_tokens: int = 128):
        self.llm, self.max_tokens = llm, max_tokens

    def draft(self, query: str) -> str:
        return instruct(self.llm, HYDE_PROMPT, query, self.max_tokens).strip() or query
