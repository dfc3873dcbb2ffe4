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

# What the model says when the sources do not answer the question (the pipeline can detect it).
MODEL_NO_ANSWER = "资料中没有相关规定"

# Tested on Qwen2.5-Coder-1.5B Q4_K_M. The worked example line is what makes a 1.5B model write [n] at all:
# with only an abstract rule ("用[编号]标注") it wrote the literal "[编号]" or no marker. The example uses a
# made-up law (《某某法》) and number so it cannot leak into answers.
SYSTEM_PROMPT = (
    "你是中国法律问答助手。只根据用户给出的编号资料回答，不使用资料以外的知识。\n"
    "回答先给结论，再写依据，依据写成“依据《法律名称》第X条[n]”，n是资料编号。\n"
    "示例：……不得超过三十日。依据《某某法》第十条[1]。\n"
    f"只有资料完全没有涉及问题时，才只回答“{MODEL_NO_ANSWER}”。\n"
    "用中文简洁回答。"
)

# Appended after the question: a 1.5B model follows a reminder next to the question far better; without it
# it answered an unrelated question from memory (and cited a source for it).
# "Only when the sources do not touch the question at all": the plainer "when unrelated" made the 1.5B refuse
# with the right article in hand (试用期 / 劳动法第二十一条) once it saw a single source.
ANSWER_HINT = f"（根据资料回答并标注[编号]；只有资料完全没有涉及这个问题时，才回答“{MODEL_NO_ANSWER}”。）"

NO_BASIS_ANSWER = "知识库中未找到与该问题相关的依据，无法据此回答。"
NO_BASIS_ANSWER_EN = "No relevant basis was found in the knowledge base, so this question cannot be answered from it."

CONDENSE_SYSTEM_PROMPT = (
    "你负责改写问题。根据对话历史，把用户的追问改写成一个意思完整、可以单独理解的中文问题，"
    "补全省略的主语、对象和法律名称。只输出改写后的问题，不要回答，不要解释。"
)

# Query understanding before retrieval (retrieve/rewrite.py, retrieve/hyde.py): each output is searched beside
# the original question, never shown to the user.
REWRITE_PROMPT = (
    "你是中国法律检索助手。把用户的口语化法律问题改写成一句检索用语：使用法律条文中的规范术语"
    "（如“用人单位”“劳动者”“解除劳动合同”“赔偿责任”），可以补充可能适用的法律名称。只输出改写后的一句话，不要解释。"
)

HYDE_PROMPT = (
    "你是中国法律专家。针对用户的问题，写出一条最可能适用的中国法律条文的内容（仿照法条的措辞，"
    "以“第X条”开头，不超过120字）。不要解释，不要写问题以外的内容。"
)

# Synthetic training questions (train/synthetic.py): what a layperson would ask that one article answers. The
# article number must stay out of the question, or the pairs teach retrieval to match numbers, not meaning.
SYNTHETIC_QUESTIONS_PROMPT = (
    "你负责编写法律咨询数据。根据用户给出的一条法条，写出{n}个普通人在生活中会问、并且这条法条能够回答的问题，"
    "再根据法条用一两句话回答每个问题。问题用口语，不要提法条编号，不要照抄法条原文。"
    '只输出JSON：{{"items": [{{"question": "问题", "answer": "回答"}}]}}'
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



# The model's ways of saying "the sources do not answer this": the phrase the prompt asks for, and the variants
# small models write instead (资料中未提及…, 无法根据资料回答). Each names the sources or a missing basis, so an answer
# that merely says a law "没有规定" something is not taken for a refusal.
_DECLINE_RE = re.compile(
    r"(资料|知识库|所给条文|提供的(?:资料|条文|内容))[中里]?[，,]?(?:均|都|并)?(?:没有|未|不)(?:找到|提及|提到|涉及|包含|包括|规定|相关)"
    r"|未找到(?:与该问题)?(?:相关|有关)?的?依据|无法(?:根据|依据)(?:所给|提供的)?(?:资料|条文)"
)


def declines(text: str) -> bool:
    """Whether the answer says the sources give no basis (MODEL_NO_ANSWER or a variant, or NO_BASIS_ANSWER)."""
    return bool(_DECLINE_RE.search(unicodedata.normalize("NFKC", text)))


# ---------------------------------------------------------------- article mentions

_ART = r"第[零〇一二两三四五六七八九十百千万\d]+条(?:之[一二三四五六七八九十]+)?"
_MENTION_RE = re.compile(rf"《([^《》\n]{{1,60}})》\s*({_ART})")
# 《law》第X条, optional 款/项 qualifiers, then one or more citation markers right after it
_MENTION_CITE_RE = re.compile(
    rf"《([^《》\n]{{1,60}})》\s*({_ART})((?:第[^\[【，。；\n]{{1,8}}?[款项])*)\s*"
    r"((?:[\[【]\s*\d{1,3}(?:\s*[,，、]\s*\d{1,3})*\s*[\]】])+)"
)


def _law_key(law: str) -> str:
    law = unicodedata.normalize("NFKC", law).strip().strip("《》")
    return law.removeprefix("中华人民共和国")


def _source_keys(sources: list[Hit]) -> dict[tuple[str, str], list[int]]:
    keys: dict[tuple[str, str], list[int]] = {}
    for i, h in enumerate(sources, 1):
        law, article = h.meta.get("law"), h.meta.get("article")
        if law and article:
            keys.setdefault((_law_key(str(law)), str(article).strip()), []).append(i)
    return keys


def mentioned_sources(text: str, sources: list[Hit]) -> list[int]:
    """Sources whose 《law》第X条 the text names (short names like 《劳动合同法》 match too), in order of first
    mention. A fallback for answers that name the article but forget the [n] marker."""
    keys = _source_keys(sources)
    seen: list[int] = []
    for m in _MENTION_RE.finditer(unicodedata.normalize("NFKC", text)):
        for n in keys.get((_law_key(m.group(1)), m.group(2)), []):
            if n not in seen:
                seen.append(n)
    return seen


def fix_citations(text: str, sources: list[Hit]) -> str:
    """Correct a marker that contradicts the article it follows: "《劳动合同法》第二十条[1]" becomes "…[3]" when
    source 3 is that article and source 1 is not. Small models copy the article name right more often than its
    number. Only unambiguous cases are changed (exactly one source is that article)."""
    keys = _source_keys(sources)
    if not keys:
        return text

    def repl(m: re.Match[str]) -> str:
        targets = keys.get((_law_key(m.group(1)), m.group(2)), [])
        if len(targets) != 1:
            return m.group(0)
        cited = [int(x) for x in re.findall(r"\d+", unicodedata.normalize("NFKC", m.group(4)))]
        if targets[0] in cited:
            return m.group(0)
        start = m.start(4) - m.start(0)
        return m.group(0)[:start] + f"[{targets[0]}]"

    return _MENTION_CITE_RE.sub(repl, text)


__all__ = [
    "ANSWER_HINT",
    "CONDENSE_SYSTEM_PROMPT",
    "HYDE_PROMPT",
    "NO_BASIS_ANSWER",
    "NO_BASIS_ANSWER_EN",
    "SYSTEM_PROMPT",
    "build_condense_messages",
    "build_messages",
    "clean_condensed",
    "declines",
    "format_source",
    "fix_citations",
    "format_sources",
    "MODEL_NO_ANSWER",
    "mentioned_sources",
    "parse_citations",
    "REWRITE_PROMPT",
]


# ---------------------------------------------------------------- writing workspace (zhiku.write)

# Continuation and revision of a novel (write/compose.py). The facts to keep come first, in a 【记忆】 block, then
# the preceding text, then the instruction: on 6 of the samples/eval/write_memory probes this order kept the fact
# 6/6 with the bundled 1.5B and 3/6 with the 0.5B, against 3/6 and 0/6 with 【记忆】 between text and instruction.
WRITE_SYSTEM_PROMPT = (
    "你是中文小说写作助手。根据【前文】接着写，或按【要求】修改文字。"
    "必须与【记忆】里的人物、设定、情节保持一致：名字、外貌、地点、物品归属等已写明的事实不能改变。"
    "只输出小说正文，不要标题，不要解释。"
)
CONTINUE_DEFAULT = "接着前文往下写。"
CONTINUE_HINT = "（与记忆和前文保持一致，直接写正文。）"
REVISE_INSTRUCTIONS = {
    "rewrite": "改写【原文】：换一种写法表达同样的内容，情节和事实不变。",
    "expand": "扩写【原文】：补充动作、神态、环境和心理描写，篇幅约为原文的两倍，情节和事实不变。",
    "polish": "润色【原文】：修正语病，让语句通顺生动，不增删情节，篇幅基本不变。",
}
REVISE_HINT = "（只输出修改后的这段文字。）"

# Memory extraction (write/extract.py): one prompt per type, one JSON shape for all. The format line's
# placeholders (名称, 资料) are recognised and dropped when a small model copies them.
EXTRACT_PROMPTS = {
    "character": "你负责整理小说的人物资料。找出下面小说片段中有名字的人物，每人写一条资料：片段里明确写出的外貌、身份、"
                 "性格、人物关系、拥有的物品。",
    "plot": "你负责整理小说的情节。找出下面小说片段中的重要事件：发生了什么、谁做的、结果如何；每个事件起一个四到八个字的名称。",
    "setting": "你负责整理小说的世界设定。找出下面小说片段中的地点、组织、物品、规则，每个写一条资料。",
    "dialogue": "你负责摘录小说的重要对话。找出下面小说片段中推动情节或揭示人物的关键对话，name写说话人的名字，text写原话。",
}  # fmt: skip
EXTRACT_FORMAT = (
    "只写片段中明确出现的内容，不要编造。只输出JSON："
    '{"items": [{"name": "名称", "text": "资料", "tags": ["标签"]}]}；什么也没有就输出 {"items": []}'
)
EXTRACT_PLACEHOLDERS = frozenset({"名称", "资料", "标签", "人物名", "说话人"})
EXTRACT_RETRY = '你的回复不是合法的JSON。请重新回答，只输出JSON：{"items": [{"name": "...", "text": "...", "tags": []}]}'


def format_memories(memories: list[tuple[str, str, str]]) -> str:
    """(label, name, text) rows as the 【记忆】 block's lines."""
    return "\n".join(f"- [{label}] {name}：{text}" for label, name, text in memories)


def build_continue_messages(preceding: str, memories: str, instruction: str) -> list[Message]:
    """Continue the manuscript: 【记忆】 (when any), then 【前文】, then 【要求】."""
    parts = [f"【记忆】\n{memories}"] if memories else []
    parts.append(f"【前文】\n{preceding.strip()}" if preceding.strip() else "【前文】（无，这是开篇）")
    parts.append(f"【要求】{instruction.strip() or CONTINUE_DEFAULT}\n{CONTINUE_HINT}")
    return [{"role": "system", "content": WRITE_SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(parts)}]


def build_revise_messages(mode: str, before: str, passage: str, memories: str, instruction: str) -> list[Message]:
    """Rewrite / expand / polish a passage: 【记忆】, its 【上文】 for the flow, the 【原文】, then 【要求】."""
    parts = [f"【记忆】\n{memories}"] if memories else []
    if before.strip():
        parts.append(f"【上文】\n{before.strip()}")
    parts.append(f"【原文】\n{passage.strip()}")
    ask = REVISE_INSTRUCTIONS[mode] + (instruction.strip() and f"另外：{instruction.strip()}")
    parts.append(f"【要求】{ask}\n{REVISE_HINT}")
    return [{"role": "system", "content": WRITE_SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(parts)}]


def build_extract_messages(memory_type: str, text: str) -> list[Message]:
    return [{"role": "system", "content": f"{EXTRACT_PROMPTS[memory_type]}{EXTRACT_FORMAT}"},
            {"role": "user", "content": f"小说片段：\n{text.strip()}"}]  # fmt: skip
