"""Question/answer/gold-article records (STARD + LeCoQA schema) -> chat SFT samples in the serving prompt.

Each sample is exactly what the pipeline would send (zhiku.generate.prompts.build_messages) plus the reply the
model should give, so training and serving see the same prompt:

- answer samples: the gold articles forced in among distractors the real Searcher retrieves for the question,
  in a seeded random order (so the model learns to cite any position, not always [1]); the target is the
  reference answer, stripped of its salutation and clipped at a sentence, then "依据《法》第X条[n]" for each gold
  source, the form the system prompt asks for;
- refusal samples (a share of the answerable records, and every unanswerable one): only retrieved non-gold
  articles, target MODEL_NO_ANSWER, the decline the prompt asks for and `declines()` recognises.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Callable

from zhiku.eval.dataset import Query
from zhiku.generate.prompts import MODEL_NO_ANSWER, build_messages
from zhiku.types import Hit

Progress = Callable[[str, int, int], None]

_SALUTATION = re.compile(r"^\s*(?:您好|你好)[，,！!。：:\s]*")
_PREAMBLE = re.compile(r"^(?:根据|依据|按照)(?:我国)?(?:有关|相关)?(?:法律)?(?:法规)?的?规定[，,：:]\s*")
_SENTENCE_END = re.compile(r"(?<=[。！？；])")


@dataclass(frozen=True)
class QaOptions:
    sources: int = 3  # sources per sample: short samples train fast and match a small retrieval.top_k
    refusal_share: float = 0.2  # of the answerable records, the share turned into gold-withheld refusals
    max_answer_chars: int = 300  # the reference answer is clipped at a sentence end within this
    max_source_chars: int = 400  # per source in the prompt (retrieval.max_source_chars)
    # Distractors only need to be plausible neighbours; the e5 rerank of 20 passages costs ~6 s a question on a
    # shared 2-core box (an hour for STARD dev), so it is opt-in.
    rerank: bool = False


@dataclass
class QaStats:
    records: int = 0
    answer: int = 0
    refusal: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def article_index(store) -> dict[str, Hit]:
    """ref -> the whole article as one Hit (parts of a long article joined), from every chunk of the store."""
    index: dict[str, Hit] = {}
    for doc in store.documents():
        for hit in store.get_chunks([f"{doc.doc_id}#{i}" for i in range(doc.chunks)]):
            if hit.ref in index:
                index[hit.ref].text += "\n" + hit.text
            else:
                index[hit.ref] = hit
    return index


def reference_answer(text: str, limit: int) -> str:
    """The lawyer's answer without "您好，根据有关法律的规定，", clipped at a sentence end within `limit` chars."""
    text = _PREAMBLE.sub("", _SALUTATION.sub("", text.strip())).strip()
    text = re.sub(r"\s*\n\s*", "", text)
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        if len(kept) + len(sentence) > limit:
            break
        kept += sentence
    return kept or text[:limit].rstrip("，,、；;") + "。"


def cite_line(sources: list[Hit], gold: set[str]) -> str:
    """依据《法》第X条[n]、《法》第Y条[m]。 for the gold sources, in source order."""
    cited = [f"{h.title}[{n}]" for n, h in enumerate(sources, 1) if h.ref in gold]
    return "依据" + "、".join(cited) + "。"


class QaSampler:
    def __init__(self, kb, settings, options: QaOptions = QaOptions(), seed: int = 0):
        from zhiku.retrieve.searcher import Searcher

        self.options, self.rng = options, random.Random(seed)
        self.searcher = Searcher(kb, settings)  # no LLM: query rewriting / HyDE stay off
        self.articles = article_index(kb.store)

    def distractors(self, query: str, gold: set[str], n: int) -> list[Hit]:
        hits = self.searcher.run(query, k=n + len(gold) + 2, rerank=self.options.rerank, rewrite=False, hyde=False)
        out: list[Hit] = []
        for h in hits:
            if h.ref not in gold and all(h.ref != o.ref for o in out):
                out.append(h)
        return out[:n]

    def sample(self, q: Query, stats: QaStats) -> dict | None:
        o = self.options
        gold_hits = [self.articles[g] for g in dict.fromkeys(q.gold) if g in self.articles][: o.sources]
        answer = q.meta.get("answer")
        refuse = not q.answerable or self.rng.random() < o.refusal_share
        if not refuse and not gold_hits:
            stats.skip("gold not in knowledge base")
            return None
        if not refuse and not (isinstance(answer, str) and answer.strip()):
            stats.skip("no answer")
            return None
        gold = {h.ref for h in gold_hits} | set(q.gold)
        if refuse:
            sources = self.distractors(q.query, gold, o.sources)
            if not sources:
                stats.skip("nothing retrieved")
                return None
            target, kind = MODEL_NO_ANSWER, "refusal"
        else:
            sources = gold_hits + self.distractors(q.query, gold, o.sources - len(gold_hits))
            self.rng.shuffle(sources)
            target = reference_answer(answer, o.max_answer_chars) + cite_line(sources, gold)
            kind = "answer"
        messages = build_messages(q.query, sources, max_source_chars=o.max_source_chars)
        setattr(stats, kind, getattr(stats, kind) + 1)
        return {"messages": [*messages, {"role": "assistant", "content": target}], "kind": kind, "qid": q.qid}


def qa_samples(queries: list[Query], sampler: QaSampler, progress: Progress | None = None) -> tuple[list[dict], QaStats]:
    stats = QaStats(records=len(queries))
    samples = []
    for i, q in enumerate(queries):
        rec = sampler.sample(q, stats)
        if rec is not None:
            samples.append(rec)
        if progress:
            progress("samples", i + 1, len(queries))
    return samples, stats
