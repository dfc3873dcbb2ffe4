"""LLM judge of faithfulness: is what the answer says supported by the sources it cites?

Runs against any OpenAI-compatible server (eval.judge_base_url / judge_model, else the configured `openai` llm
backend). The judge sees the question, the answer and the full text of the cited articles only, and returns
{"score": 0..1, "verdict": "..."}: 1 = every claim is supported by the cited text, 0 = none is. It asks for a JSON
object of that schema (response_format), and still parses leniently: small judges wrap JSON in prose or write "score: 0.8".
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from zhiku.config import Settings
from zhiku.errors import ConfigError, ZhikuError
from zhiku.generate.base import Sampling
from zhiku.generate.openai_compat import OpenAICompatLLM
from zhiku.types import Citation

JUDGE_SYSTEM = (
    "你是严格的法律问答评审员。判断“回答”中的每个论断是否能由“引用条文”直接支持。"
    "只依据引用条文判断，不使用其他知识。"
    '只输出一个JSON对象：{"score": 0到1之间的小数, "verdict": "一句话理由"}。'
    "score=1 表示所有论断都有条文支持，0 表示都没有支持或与条文矛盾。"
)

# score first: a reply cut off by max_tokens inside the verdict still yields the score (parse_verdict's fallback)
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "number"}, "verdict": {"type": "string"}},
    "required": ["score", "verdict"],
}
_SOURCE_CHARS = 800  # per cited article: the judge needs the text the claim rests on, not whole chapters
_SCORE_RE = re.compile(r"[\"']?score[\"']?\s*[:：=]\s*([01](?:\.\d+)?|\.\d+)", re.I)


@dataclass
class Verdict:
    score: float | None  # None: the judge's reply could not be read
    verdict: str
    raw: str = ""

    def to_dict(self) -> dict:
        return {"score": self.score, "verdict": self.verdict, **({"raw": self.raw} if self.score is None else {})}


def build_judge_messages(question: str, answer: str, cited: list[Citation]) -> list[dict[str, str]]:
    sources = "\n\n".join(f"[{c.n}] {c.hit.title}\n{c.hit.text.strip()[:_SOURCE_CHARS]}" for c in cited)
    user = f"问题：{question.strip()}\n\n回答：{answer.strip()}\n\n引用条文：\n{sources}\n\n请输出JSON。"
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> Verdict:
    """The judge's reply -> Verdict; score clamped to 0..1, None when no score can be found."""
    raw = text.strip()
    m = re.search(r"\{.*\}", raw, re.S)
    if m:
        try:
            obj = json.loads(m.group(0))
            if isinstance(obj, dict) and isinstance(obj.get("score"), (int, float, str)):
                score = float(obj["score"])
                return Verdict(min(1.0, max(0.0, score)), str(obj.get("verdict", "")).strip(), raw)
        except (ValueError, TypeError):
            pass
    m = _SCORE_RE.search(raw)
    if m:
        return Verdict(min(1.0, max(0.0, float(m.group(1)))), "", raw)
    return Verdict(None, "unreadable judge reply", raw[:300])


class FaithfulnessJudge:
    def __init__(self, llm: OpenAICompatLLM, max_tokens: int = 160):
        self.llm = llm
        self.name = llm.name
        self.sampling = Sampling(max_tokens=max_tokens, temperature=0.0, top_p=1.0, top_k=0, json_schema=VERDICT_SCHEMA)

    @classmethod
    def from_settings(cls, s: Settings, base_url: str = "", model: str = "") -> "FaithfulnessJudge":
        """Endpoint: the arguments, else eval.judge_*, else the llm backend when it is OpenAI-compatible."""
        e = s.eval
        fallback = s.llm.backend == "openai"
        url = base_url or e.judge_base_url or (s.llm.base_url if fallback else "")
        name = model or e.judge_model or (s.llm.model if fallback else "")
        key = e.judge_api_key or (s.llm.api_key if fallback and not (base_url or e.judge_base_url) else "")
        if not url or not name:
            raise ConfigError(
                "the faithfulness judge needs an OpenAI-compatible server: pass --judge-url and --judge-model, "
                "set eval.judge_base_url and eval.judge_model (ZHIKU_EVAL__JUDGE_BASE_URL, ...), "
                "or use llm.backend = \"openai\""
            )
        return cls(OpenAICompatLLM(url, name, api_key=key, timeout=e.judge_timeout))

    def judge(self, question: str, answer: str, cited: list[Citation]) -> Verdict:
        if not cited:
            return Verdict(None, "nothing cited")
        try:
            text = self.llm.complete(build_judge_messages(question, answer, cited), self.sampling)
        except ZhikuError as e:  # one failed call is a missing verdict, not a failed evaluation
            return Verdict(None, f"judge error: {e}")
        return parse_verdict(text)
