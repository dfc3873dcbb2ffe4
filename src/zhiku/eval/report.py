"""Markdown report of `zhiku eval answers`: the figures, then the questions that went wrong (where to look first)."""
from __future__ import annotations

_SHOW = 15  # failing questions listed per kind; the per-query jsonl has them all


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, dict):
        return ", ".join(f"{k} {x}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:.3f}" if v <= 1 else f"{v:.0f}"
    return str(v)


def _table(title: str, section: dict) -> list[str]:
    rows = [f"### {title}", "", "| metric | value |", "|---|---|"]
    rows += [f"| {k} | {_fmt(v)} |" for k, v in section.items()]
    return rows + [""]


def _cell(text: str, n: int = 60) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= n else text[: n - 1] + "…"


def to_markdown(summary: dict, records: list[dict]) -> str:
    head = {k: v for k, v in summary.items() if not isinstance(v, dict)}
    lines = ["# Answer quality", ""]
    lines += [f"- {k}: {v}" for k, v in head.items()] + [""]
    for key, title in (("answerable", "Answerable questions"), ("unanswerable", "Unanswerable questions"),
                       ("generation", "Length and speed (generated answers)"), ("faithfulness", "Faithfulness (LLM judge)")):
        if summary.get(key) and summary[key].get("n", summary[key].get("judged")):
            lines += _table(title, summary[key])
    wrong_cites = [r for r in records if r["precision"] is not None and r["precision"] < 1]
    if wrong_cites:
        lines += [f"### Citations not in gold ({len(wrong_cites)})", "", "| qid | question | cited | gold |", "|---|---|---|---|"]
        lines += [f"| {r['qid']} | {_cell(r['query'], 40)} | {_cell('; '.join(r['cited']), 80)} | "
                  f"{_cell('; '.join(r['gold']), 80)} |" for r in wrong_cites[:_SHOW]]
        lines.append("")
    answered = [r for r in records if not r["answerable"] and not r["refused"]]
    if answered:
        lines += [f"### Unanswerable but answered ({len(answered)})", "", "| qid | question | answer |", "|---|---|---|"]
        lines += [f"| {r['qid']} | {_cell(r['query'], 40)} | {_cell(r['answer'], 80)} |" for r in answered[:_SHOW]]
        lines.append("")
    return "\n".join(lines)
