"""`zhiku eval`: retrieval and answer quality on labelled datasets."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from zhiku.cli.common import JsonOpt, KbOpt, err, guarded, llm, open_kb, out, pipeline, settings, task_bars
from zhiku.errors import InputError

app = typer.Typer(help="Measure retrieval and answer quality on labelled datasets.", no_args_is_help=True)


def _warn_in_sample(kb_obj, queries) -> int:
    from zhiku.eval.in_sample import adapter_fitted_on, in_sample_warning

    seen = adapter_fitted_on(kb_obj, queries)
    if seen:
        err.print(in_sample_warning(seen, len(queries)), markup=False)
    return seen


@app.command("retrieval")
@guarded
def eval_retrieval(
    kb: Optional[str] = KbOpt,
    dataset: Path = typer.Option(..., "--dataset", help="jsonl with query and gold ids (see shared/data/README.md)"),
    k: str = typer.Option("10,100", "--k", help="Comma-separated cut-offs for recall."),
    stages: str = typer.Option(
        "default", "--stages",
        help="Comma-separated: bm25, dense, hybrid, default (the configured pipeline), hybrid+rewrite, +hyde, +rerank, ...",
    ),
    limit: int = typer.Option(0, "--limit", help="Only the first N queries (0 = all)."),
    per_query: Optional[Path] = typer.Option(None, "--per-query", help="Write per-query results (jsonl) here."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write REPORT.md and REPORT.json here."),
    as_json: bool = JsonOpt,
) -> None:
    """Recall@k, MRR@10, nDCG@10 of each retrieval stage on a dataset, as a table (Markdown) or JSON."""
    from zhiku.eval.retrieval import evaluate_retrieval, load_dataset, markdown_table, parse_stage
    from zhiku.retrieve.searcher import Searcher

    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
    except ValueError:
        raise InputError(f"--k must be comma-separated integers, got {k!r}") from None
    if not ks or min(ks) < 1:
        raise InputError(f"--k must be positive integers, got {k!r}")
    plan = [parse_stage(x) for x in stages.split(",") if x.strip()]
    if not plan:
        raise InputError("--stages is empty")
    s = settings()
    queries = load_dataset(dataset)
    if limit:
        queries = queries[:limit]
    kb_obj = open_kb(kb)
    searcher = Searcher(kb_obj, s, llm=lambda: llm(s))
    seen = _warn_in_sample(kb_obj, queries)
    rows: list[dict] | None = [] if per_query else None
    results = []
    with task_bars() as p:
        for stage in plan:
            task = p.add_task(stage.name, total=len(queries))
            r = evaluate_retrieval(
                searcher, queries, ks, stage, progress=lambda i, n, t=task: p.update(t, completed=i), per_query=rows
            )
            results.append({**r, "kb": kb_obj.name, **({"adapter_fitted_on": seen} if seen else {})})
    if per_query and rows is not None:
        per_query.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    table = markdown_table(results)
    if report:
        report.with_suffix(".md").write_text(table, encoding="utf-8")
        report.with_suffix(".json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    if as_json:
        out.print(json.dumps(results if len(results) > 1 else results[0], ensure_ascii=False), markup=False)
    else:
        out.print(table, markup=False)


@app.command("answers")
@guarded
def eval_answers(
    kb: Optional[str] = KbOpt,
    dataset: Path = typer.Option(..., "--dataset", help="jsonl with query and gold ids (see shared/data/README.md)"),
    unanswerable: list[Path] = typer.Option(
        None, "--unanswerable", help="jsonl of questions the KB cannot answer (e.g. samples/eval/unanswerable.jsonl)."
    ),
    limit: int = typer.Option(0, "--limit", help="Only the first N questions of --dataset (0 = all); "
                              "unanswerable files are small and always run whole."),
    judge: bool = typer.Option(False, "--judge", help="Grade faithfulness with an LLM judge (OpenAI-compatible)."),
    judge_url: str = typer.Option("", "--judge-url", help="Judge server base URL (default: eval.judge_base_url)."),
    judge_model: str = typer.Option("", "--judge-model", help="Judge model name (default: eval.judge_model)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the JSON report here ('-' = stdout)."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Write the Markdown report here."),
    per_query: Optional[Path] = typer.Option(None, "--per-query", help="Write per-question records (jsonl) here."),
) -> None:
    """Citation precision/recall, refusal correctness, answer length and latency of `ask` on datasets."""
    from zhiku.eval.answers import evaluate_answers
    from zhiku.eval.dataset import load_answer_set
    from zhiku.eval.judge import FaithfulnessJudge
    from zhiku.eval.report import to_markdown

    if limit < 0:
        raise InputError(f"--limit must be >= 0, got {limit}")
    if (judge_url or judge_model) and not judge:
        raise InputError("--judge-url/--judge-model need --judge")
    queries = load_answer_set(dataset, unanswerable, limit)
    s = settings()
    grader = None
    if judge:
        grader = FaithfulnessJudge.from_settings(s, judge_url, judge_model)
        grader.llm.models()  # fail now, not after an hour of answers, when the judge is unreachable
    pipe = pipeline(kb)
    seen = _warn_in_sample(pipe.kb, queries)
    sink = per_query.open("w", encoding="utf-8") if per_query else None

    def write(rec: dict) -> None:
        if sink:
            sink.write(json.dumps(rec, ensure_ascii=False) + "\n")
            sink.flush()

    try:
        with task_bars() as p:
            task = p.add_task("eval answers", total=len(queries))
            summary, records = evaluate_answers(pipe, queries, progress=lambda i, n: p.update(task, completed=i),
                                                judge=grader, on_record=write)
    finally:
        if sink:
            sink.close()
    summary = {"kb": pipe.kb.name, "dataset": str(dataset), "unanswerable_files": [str(u) for u in unanswerable or []],
               **({"adapter_fitted_on": seen} if seen else {}), **summary}
    if markdown:
        markdown.write_text(to_markdown(summary, records) + "\n", encoding="utf-8")
    if json_out and str(json_out) == "-":
        return out.print(json.dumps(summary, ensure_ascii=False, indent=2), markup=False)
    if json_out:
        json_out.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    _print_answer_summary(summary)


def _print_answer_summary(summary: dict) -> None:
    from rich.table import Table

    table = Table(title=f"answers: {summary['kb']} ({summary['model']})", show_header=True)
    table.add_column("section")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for section, values in summary.items():
        if not isinstance(values, dict) or not values.get("n", values.get("judged")):
            continue
        for key, v in values.items():
            rows = [(f"{key}.{k}", x) for k, x in v.items()] if isinstance(v, dict) else [(key, v)]
            for name, x in rows:  # nested (by_category) as one row each
                table.add_row(section, name, "–" if x is None else str(x))
                section = ""
    out.print(table)
