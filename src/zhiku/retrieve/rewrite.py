"""Query rewriting: a layperson's question restated in statute vocabulary by the LLM (老板不发工资 -> 拖欠劳动报酬).
The rewrite is searched beside the original question and the rankings fused (retrieve/searcher.py), so a poor
rewrite costs little."""
from __future__ import annotations

import re

from zhiku.generate.base import LLM, instruct

REWRITE_PROMPT = (
    "你是中国法律检索助手。把用户的口语化法律问题改写成一句检索用语：使用法律条文中的规范术语"
    "（如“用人单位”“劳动者”“解除劳动合同”“赔偿责任”），可以补充可能适用的法律名称。只输出改写后的一句话，不要解释。"
)


class QueryRewriter:
    def __init__(self, llm: LLM, max_tokens: int = 96):
        self.llm, self.max_tokens = llm, max_tokens

    def run(self, query: str) -> str:
        return clean_rewrite(instruct(self.llm, REWRITE_PROMPT, query, self.max_tokens), query)


def clean_rewrite(text: str, fallback: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    t = re.sub(r"^(改写(后的)?(检索用语|问题)?|检索用语)[:：]\s*", "", lines[0]) if lines else ""
    t = t.strip(" \"'“”「」")
    return t if t and len(t) <= 300 else fallback
