"""Evaluation datasets: jsonl, one question a line, in the STARD format of shared/data/README.md.

    {"qid": "0", "query": "谁可以成为个体工商户？", "gold": ["中华人民共和国民法典#第五十四条", ...]}

Unanswerable questions (samples/eval/unanswerable.jsonl) have `"answerable": false` and no or an empty `gold`;
a question with an empty gold list is unanswerable too. Errors name the file and the line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from zhiku.errors import InputError


@dataclass
class Query:
    qid: str
    query: str
    gold: list[str]
    answerable: bool = True
    meta: dict = field(default_factory=dict)  # any other fields of the record (category, note...)
    history: list[dict] | None = None  # earlier turns of a multi-turn record: [{role, content}, ...]


def _record(rec: object, n: int, require_gold: bool) -> Query:
    if not isinstance(rec, dict):
        raise TypeError("not a JSON object")
    query = rec["query"]
    if not isinstance(query, str) or not query.strip():
        raise TypeError("query must be a non-empty string")
    gold = rec["gold"] if require_gold else rec.get("gold") or []
    if not isinstance(gold, list) or not all(isinstance(g, str) for g in gold):
        raise TypeError("gold must be a list of strings")
    answerable = rec.get("answerable", True)
    if not isinstance(answerable, bool):
        raise TypeError("answerable must be true or false")
    history = rec.get("history")
    if history is not None and not (
        isinstance(history, list) and all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in history)
    ):
        raise TypeError("history must be a list of {role, content}")
    meta = {k: v for k, v in rec.items() if k not in ("qid", "query", "gold", "answerable", "history")}
    return Query(str(rec.get("qid", n)), query, list(gold), answerable and bool(gold), meta, history)


def load_dataset(path: Path, require_gold: bool = True) -> list[Query]:
    """All questions of a jsonl file. `require_gold=False` accepts records without `gold` (unanswerable)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such dataset file")
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason})") from e
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(_record(json.loads(line), n, require_gold))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            what = "query and gold" if require_gold else "query"
            raise InputError(f"{path}:{n}: not a dataset record with {what} ({type(e).__name__}: {e})") from e
    if not out:
        raise InputError(f"{path}: no queries")
    return out


def load_answer_set(dataset: Path, unanswerable: list[Path] | None = None, limit: int = 0) -> list[Query]:
    """The questions of an answer evaluation: the first `limit` of `dataset` (0 = all), then every question of
    the `unanswerable` files (small: always whole), unanswerable whatever their records say."""
    queries = load_dataset(dataset, require_gold=False)[: limit or None]
    for path in unanswerable or []:
        extra = load_dataset(path, require_gold=False)
        for q in extra:
            q.answerable = False
        queries += extra
    return queries
