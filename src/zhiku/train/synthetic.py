"""Synthetic question-article pairs: N questions a layperson might ask, written per article by the configured LLM.

Saved as records of the eval/STARD format (`query`, `gold`, plus the model's short `answer`), so the same file
feeds `zhiku train prepare --from qa` and `zhiku train adapter`. Small models answer in loose JSON: the reply
is read leniently (a JSON object or list anywhere in it, else 问：/答： lines) and every question is checked: a
question that names the article number, repeats one already written, or is not a question is dropped.
"""
from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from zhiku.eval.dataset import Query
from zhiku.generate.base import LLM, Sampling, json_values
from zhiku.generate.prompts import SYNTHETIC_QUESTIONS_PROMPT
from zhiku.types import Hit

Progress = Callable[[str, int, int], None]

ARTICLE_NUMBER = re.compile(r"第[零〇一二两三四五六七八九十百千万\d]+条")
_QA_LINE = re.compile(r"^\s*(?:\d+[.、)）]\s*)?(问题?|答案?|回答)\s*[:：]\s*(.+?)\s*$")
_ARTICLE_CHARS = 600  # of the article in the prompt: enough for one provision, short for a small model
_ITEM_SCHEMA = {"type": "object", "properties": {"items": {"type": "array", "items": {
    "type": "object", "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["question", "answer"]}}}, "required": ["items"]}  # fmt: skip


@dataclass
class SyntheticStats:
    articles: int = 0
    questions: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, why: str) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + 1


def read_items(reply: str) -> list[dict]:
    """[{question, answer}] from a model reply: JSON (an object with `items`, or a list) or 问：/答： lines."""
    for data in json_values(reply):
        items = data.get("items") if isinstance(data, dict) else data
        if isinstance(items, list):
            return [{"question": str(x.get("question") or x.get("问题") or ""),
                     "answer": str(x.get("answer") or x.get("回答") or x.get("答案") or "")}
                    for x in items if isinstance(x, dict)]  # fmt: skip
    items: list[dict] = []
    for line in reply.splitlines():
        m = _QA_LINE.match(line)
        if m and m.group(1).startswith("问"):
            items.append({"question": m.group(2), "answer": ""})
        elif m and items and not items[-1]["answer"]:
            items[-1]["answer"] = m.group(2)
    return items


def _key(question: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", question)).lower()


class QuestionWriter:
    """Writes `n` questions (with short answers) for one article; seen questions are never written twice."""

    def __init__(self, llm: LLM, n: int, temperature: float = 0.7):
        self.llm, self.n = llm, n
        self.sampling = Sampling(max_tokens=80 + 120 * n, temperature=temperature, json_schema=_ITEM_SCHEMA)
        self.seen: set[str] = set()

    def write(self, article: Hit, stats: SyntheticStats) -> list[dict]:
        messages = [{"role": "system", "content": SYNTHETIC_QUESTIONS_PROMPT.format(n=self.n)},
                    {"role": "user", "content": f"{article.title}\n{article.text[:_ARTICLE_CHARS]}"}]  # fmt: skip
        items = read_items(self.llm.complete(messages, self.sampling))
        if not items:
            stats.drop("unreadable reply")
        out = []
        for item in items[: self.n]:
            q, a = item["question"].strip(), item["answer"].strip()
            why = ("not a question" if not 4 <= len(q) <= 150
                   else "names the article number" if ARTICLE_NUMBER.search(q)
                   else "duplicate" if _key(q) in self.seen else "")  # fmt: skip
            if why:
                stats.drop(why)
                continue
            self.seen.add(_key(q))
            out.append({"query": q, "gold": [article.ref], "answer": a[:400], "synthetic": True})
        return out


def pick_articles(articles: dict[str, Hit], limit: int, seed: int) -> list[Hit]:
    """All articles in ref order, or a seeded sample of `limit` of them."""
    refs = sorted(articles)
    if 0 < limit < len(refs):
        refs = sorted(random.Random(seed).sample(refs, limit))
    return [articles[r] for r in refs]


def synthetic_pairs(writer: QuestionWriter, articles: list[Hit],
                    progress: Progress | None = None) -> tuple[list[dict], SyntheticStats]:  # fmt: skip
    stats, records = SyntheticStats(articles=len(articles)), []
    for i, article in enumerate(articles):
        records += writer.write(article, stats)
        if progress:
            progress("questions", i + 1, len(articles))
    records = [{"qid": f"syn-{n}", **r} for n, r in enumerate(records)]
    stats.questions = len(records)
    return records, stats


def as_queries(records: list[dict]) -> list[Query]:
    """Pairs as eval/prepare queries (the answer rides in meta, as a LeCoQA answer does)."""
    return [Query(r["qid"], r["query"], r["gold"], True, {"answer": r["answer"]}) for r in records]
