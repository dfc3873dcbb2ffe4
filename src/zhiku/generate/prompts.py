"""The Chinese prompts, kept short: on 2 cores the 1.5B model reads ~60 prompt tokens/s, so each token costs ~16 ms.

Sources go into the user message, numbered, each headed by its label (《法律》第X条) so the model can both cite
[n] and name the article. The instructions the small model needs most (cite [n], only the sources) are repeated
in one short line right after the question, where a 1.5B model still pays attention.
"""
from __future__ import annotations

import re
import unicodedata

from zhiku.generate.base import Message
from zhiku.types import Hit

SYSTEM_PROMPT = (
    "你是严谨的中国法律问答助手。只依据用户提供的编号资料回答，不使用资料以外的知识。\n"
    "要求：\n"
    "1. 先直接回答问题，再说明依据。\n"
    "2. 引用法条时写出法律名称和条号，如《中华人民共和国劳动合同法》第十九条，并在句末用[编号]标注来源，如[1]。\n"
    "3. 资料中没有答案时，直接回答“资料中没有相关规定”，不要猜测或编造。\n"
    "4. 用中文简洁作答。"
)

# appended after the question: the 1.5B model follows a reminder next to the question far better
ANSWER_HINT = "请只依据上述资料回答，并用[编号]标注出处。"

NO_BASIS_ANSWER = "知识库中未找到与该问题相关的依据，无法据此回答。"
NO_BASIS_ANSWER_EN = "No relevant basis was found in the knowledge base, so this question cannot be answered from it."

CONDENSE_SYSTEM_PROMPT = (
    "你负责改写问题。根据对话历史，把用户的追问改写成一个意思完整、可以单独理解的中文问题，"
    "补全省略的主语、对象和法律名称。只输出改写后的问题，不要回答，不要解释。"
)

_HISTORY_CHARS = 300  # per history message, in prompts


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    if limit > 0 and len(text) > limit:
        return text[:limit].rstrip() + "…"
    return text


def format_source(n: int, hit: Hit, max_chars: int = 600) -> str:
    title = hit.title.strip()
    text = _clip(hit.text, max_chars)
    return f"[{n}] {title}\n{text}" if title else f"[{n}]\n{text}"


def format_sources(sources: list[Hit], max_source_chars: int = 600) -> str:
    return "\n\n".join(format_source(i, h, max_source_chars) for i, h in enumerate(sources, 1))


def build_messages(
    question: str,
    sources: list[Hit],
    history: list[Message] | None = None,
    max_source_chars: int = 600,
) -> list[Message]:
    """System prompt, recent turns (clipped), then the numbered sources and the question in one user message."""
    messages: list[Message] = [{"role": "system", "content": SYSTEM_PROMPT}]
    for m in history or []:
        if m.get("role") in ("user", "assistant") and m.get("content"):
            messages.append({"role": m["role"], "content": _clip(m["content"], _HISTORY_CHARS)})
    if sources:
        body = f"资料：\n{format_sources(sources, max_source_chars)}\n\n问题：{question.strip()}\n{ANSWER_HINT}"
    else:
        body = f"资料：（无）\n\n问题：{question.strip()}"
    messages.append({"role": "user", "content": body})
    return messages


def build_condense_messages(history: list[Message], question: str) -> list[Message]:
    """Rewrite a follow-up ("那最长多久？") into a standalone question, given the recent turns."""
    lines = []
    for m in history:
        role = {"user": "用户", "assistant": "助手"}.get(m.get("role", ""))
        if role and m.get("content"):
            lines.append(f"{role}：{_clip(m['content'], _HISTORY_CHARS if role == '用户' else 200)}")
    content = "对话历史：\n" + "\n".join(lines) + f"\n\n追问：{question.strip()}\n\n改写后的独立问题："
    return [{"role": "system", "content": CONDENSE_SYSTEM_PROMPT}, {"role": "user", "content": content}]


def clean_condensed(text: str, fallback: str) -> str:
    """The model's rewrite, stripped of labels/quotes; the original question when the rewrite is unusable."""
    t = text.strip().splitlines()[0].strip() if text.strip() else ""
    t = re.sub(r"^(改写后的)?(独立)?问题[:：]\s*", "", t)
    t = t.strip(" \"'“”「」")
    if not t or len(t) > 4 * max(len(fallback), 50):
        return fallback
    return t


_CITE_RE = re.compile(r"[\[【〔]\s*(\d{1,3}(?:\s*[,，、;；]\s*\d{1,3})*)\s*[\]】〕]")
_SPLIT_RE = re.compile(r"[,，、;；]")


def parse_citations(text: str, n_sources: int) -> list[int]:
    """Source numbers cited as [n], [n][m], [1,2], [1、2] or 【1】, in order of first appearance, deduped,
    keeping only 1..n_sources."""
    text = unicodedata.normalize("NFKC", text)  # ［１］ -> [1]; 【】 are unaffected
    seen: list[int] = []
    for m in _CITE_RE.finditer(text):
        for part in _SPLIT_RE.split(m.group(1)):
            part = part.strip()
            if not part:
                continue
            n = int(part)
            if 1 <= n <= n_sources and n not in seen:
                seen.append(n)
    return seen


__all__ = [
    "ANSWER_HINT",
    "CONDENSE_SYSTEM_PROMPT",
    "NO_BASIS_ANSWER",
    "NO_BASIS_ANSWER_EN",
    "SYSTEM_PROMPT",
    "build_condense_messages",
    "build_messages",
    "clean_condensed",
    "format_source",
    "format_sources",
    "parse_citations",
]
