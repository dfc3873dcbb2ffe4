"""`zhiku search`, `ask` and `chat`: retrieval and answers from a knowledge base."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from zhiku.cli.common import (JsonOpt, KbOpt, LoraOpt, dump, err, guarded, llm, open_kb, out, pipeline, settings,
                              use_lora)
from zhiku.errors import InputError


@guarded
def search(
    query: str,
    kb: Optional[str] = KbOpt,
    k: int = typer.Option(10, "--k", "-k", min=1, max=1000),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid | bm25 | dense"),
    law: list[str] = typer.Option(None, "--law", help="Only these laws (full title, repeatable)."),
    doc: list[str] = typer.Option(None, "--doc", help="Only these document ids (repeatable)."),
    rerank: Optional[bool] = typer.Option(None, "--rerank/--no-rerank", help="Second-stage rerank (default: rerank.enabled)."),
    rewrite: Optional[bool] = typer.Option(None, "--rewrite/--no-rewrite", help="LLM rewrite into legal terms (default: query.rewrite)."),
    hyde: Optional[bool] = typer.Option(None, "--hyde/--no-hyde", help="Search a drafted article too (default: query.hyde)."),
    as_json: bool = JsonOpt,
) -> None:
    """Search: the k best articles/chunks with scores (hybrid first stage, then the configured stages)."""
    from zhiku.index.base import Filters
    from zhiku.retrieve.searcher import Searcher

    if mode not in ("hybrid", "bm25", "dense"):
        raise InputError(f"--mode must be hybrid, bm25 or dense, got {mode!r}")
    if not query.strip():
        raise InputError("empty query")
    s = settings()
    kb_obj = open_kb(kb)
    timings: dict[str, float] = {}
    trace: dict[str, str] = {}
    hits = Searcher(kb_obj, s, llm=lambda: llm(s)).run(
        query, k=k, mode=mode, filters=Filters.of(law, doc), rerank=rerank, rewrite=rewrite, hyde=hyde,
        timings=timings, trace=trace,
    )
    if as_json:
        return dump({"query": query, "kb": kb_obj.name, "mode": mode, "timings": timings, **trace,
                     "hits": [h.to_dict() for h in hits]})
    for key, text in trace.items():
        out.print(f"{key}: {text}", markup=False, style="dim")
    for i, h in enumerate(hits, 1):
        scores = " ".join(f"{k}={v:.3f}" for k, v in h.scores.items())
        out.print(f"{i:>3}. {h.title}  score={h.score:.4f} {scores}", markup=False)
        out.print("     " + h.text.replace("\n", " ")[:160], markup=False, style="dim")
    if not hits:
        out.print("no hits")


def _print_answer_stream(pipe, question: str, history, filters, as_json: bool, top_k: int | None):
    from zhiku.pipeline import DoneEvent, TokenEvent

    answer = None
    for ev in pipe.stream(question, history, filters=filters, top_k=top_k):
        if isinstance(ev, TokenEvent) and not as_json:
            out.print(ev.text, end="", markup=False)
        elif isinstance(ev, DoneEvent):
            answer = ev.answer
    if as_json:
        dump(answer.to_dict())
        return answer
    out.print()
    cited = answer.citations
    if cited:
        out.print("\n引用 (citations):", style="bold")
        for c in cited:
            out.print(f"[{c.n}] {c.hit.title}", markup=False, style="bold")
            out.print("    " + c.hit.text.replace("\n", "\n    "), markup=False)
    elif answer.grounded and answer.sources:
        out.print("\n检索到的条文 (retrieved, not cited):", style="bold")
        for c in answer.sources:
            out.print(f"[{c.n}] {c.hit.title}", markup=False)
    t = answer.timings
    err.print(
        f"retrieval {t.get('retrieval_ms', 0):.0f} ms, first token {t.get('ttft_ms', 0):.0f} ms, "
        f"total {t.get('total_ms', 0):.0f} ms, {answer.usage.get('completion_tokens', 0)} tokens",
        markup=False, style="dim",
    )
    return answer


@guarded
def ask(
    question: str,
    kb: Optional[str] = KbOpt,
    k: Optional[int] = typer.Option(None, "--k", "-k", min=1, max=20, help="Sources given to the model."),
    law: list[str] = typer.Option(None, "--law", help="Only these laws (repeatable)."),
    lora: Optional[Path] = LoraOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Answer a question from the knowledge base, streamed, then list the cited articles."""
    if not question.strip():
        raise InputError("empty question")
    use_lora(lora)
    from zhiku.index.base import Filters

    _print_answer_stream(pipeline(kb), question, None, Filters.of(law), as_json, k)


@guarded
def chat(kb: Optional[str] = KbOpt, law: list[str] = typer.Option(None, "--law"), lora: Optional[Path] = LoraOpt) -> None:
    """Multi-turn chat; follow-ups are condensed into standalone questions. /new resets, /exit quits."""
    from zhiku.index.base import Filters

    use_lora(lora)
    pipe = pipeline(kb)
    history: list[dict] = []
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("你> " if interactive else "")
        except EOFError:
            break
        q = line.strip()
        if not q:
            continue
        if q in ("/exit", "/quit"):
            break
        if q == "/new":
            history = []
            out.print("(new conversation)")
            continue
        answer = _print_answer_stream(pipe, q, history, Filters.of(law), False, None)
        if answer.question != q:
            err.print(f"(searched as: {answer.question})", markup=False, style="dim")
        history += [{"role": "user", "content": q}, {"role": "assistant", "content": answer.text}]
