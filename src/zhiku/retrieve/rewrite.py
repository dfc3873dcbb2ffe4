"""Query rewriting: a layperson's question restated in statute vocabulary by the LLM (老板不发工资 -> 拖欠劳动报酬).
The rewrite is searched beside the original question and the rankings fused (retrieve/searcher.py), so a poor
rewrite costs little."""
from __future__ import annotations

import re

from zhiku.generate.base import LLM, instruct
from zhiku.generate.prompts import REWRITE_PROMPT


class QueryRewriter:
    def __init__(self, llm: LLM, max_tokens: int = 96):
        self.llm, self.max_tokens = llm, max_tokens

    def rewrite(self, query: str) -> str:
        return clean_rewrite(instruct(self.llm, REWRITE_PROMPT, query, self.max_tokens), query)


def clean_rewrite(text: str, fallback: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    t = re.sub(r"^(改写(后的)?(检索用语|问题)?|检索用语)[:：]\s*", "", lines[0]) if lines else ""
    t = t.strip(" \"'“”「」")
    return t if t and len(t) <= 300 else fallback
