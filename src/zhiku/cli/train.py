"""`zhiku train`: fit zhiku's learned parts: the query adapter, and the answer model (prepare, sft, export)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from zhiku.cli.common import JsonOpt, KbOpt, err, guarded, open_kb, out, settings, stage_progress, task_bars

app = typer.Typer(help="Fit zhiku's learned parts on question-article pairs.", no_args_is_help=True)


@app.command("adapter")
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
    from zhiku.eval.dataset import load_dataset
    from zhiku.train import query_adapter as qa

    s = settings()
    params = qa.FitParams(epochs=epochs, lr=lr, temperature=temperature, weight_decay=weight_decay)
    queries = load_dataset(dataset)
    kb_obj = open_kb(kb)
    data = qa.training_set(kb_obj, queries, dataset)
    if data.left_out:
        err.print(f"{data.left_out} of {len(queries)} questions have no gold article in "
                  f"'{kb_obj.name}' and are left out", markup=False)
    with task_bars() as p:
        adapter = qa.train_adapter(kb_obj.embedder, data, params, folds, progress=stage_progress(p))
    saved = adapter.save(out_path or qa.adapter_path(s.home, kb_obj.name))
    info = {k: v for k, v in adapter.info.items() if k != "question_sha1"}
    if as_json:
        out.print(json.dumps({"path": str(saved), **info}, ensure_ascii=False), markup=False)
        return
    cv = info["cross_validation"]
    if cv:
        out.print(f"dense retrieval on held-out questions ({folds}-fold, {info['questions']} questions):", markup=False)
        out.print("| | " + " | ".join(cv["identity"]) + " |\n|---|" + "---|" * len(cv["identity"]), markup=False)
        for name in ("identity", "adapted"):
            out.print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in cv[name].values()) + " |", markup=False)
    out.print(f"adapter: {saved} ({info['fit_seconds']:.0f} s); use it with ZHIKU_EMBEDDER__QUERY_ADAPTER={saved}",
              markup=False)


@app.command("prepare")
@guarded
def train_prepare(
    path: Path = typer.Argument(..., help="qa: a jsonl of question/answer/gold records; text: a file or directory."),
    source: str = typer.Option(..., "--from", help="qa (STARD/LeCoQA records) or text (txt/md/json/jsonl)."),
    out_dir: Path = typer.Option(..., "--out", help="Dataset directory: train.jsonl, val.jsonl, manifest.json."),
    kb: Optional[str] = KbOpt,
    val_split: float = typer.Option(0.1, "--val-split", help="Share of the samples held out for eval loss."),
    seed: int = typer.Option(0, "--seed"),
    max_len: int = typer.Option(1024, "--max-len", help="Drop samples longer than this (tokens; 0 = keep all)."),
    sources: int = typer.Option(3, "--sources", min=1, help="qa: sources per sample (gold + distractors)."),
    refusal_share: float = typer.Option(0.2, "--refusal-share", min=0.0, max=1.0,
                                        help="qa: share of answerable records with the gold withheld (refusals)."),
    max_answer_chars: int = typer.Option(300, "--max-answer-chars", min=20, help="qa: clip reference answers."),
    rerank: bool = typer.Option(False, "--rerank/--no-rerank", help="qa: rerank the distractors (slow on CPU)."),
    chunk_size: int = typer.Option(2048, "--chunk-size", help="text: characters per sample, cut at sentences."),
    sample: bool = typer.Option(False, "--sample", help="Write a small example set (32 samples) to try things."),
    as_json: bool = JsonOpt,
) -> None:
    """Turn raw material into chat-format SFT data, rendered with the answer pipeline's own prompt (qa) or as
    plain continuation text (text)."""
    from zhiku.errors import InputError
    from zhiku.train.prepare import write_dataset
    from zhiku.train.tokens import counter_for

    s = settings()
    with task_bars() as p:
        progress = stage_progress(p)
        if source == "qa":
            from zhiku.train.qa_samples import QaOptions, QaSampler, qa_samples

            kb_obj = open_kb(kb)
            opts = QaOptions(sources, refusal_share, max_answer_chars, s.retrieval.max_source_chars, rerank)
            samples, stats = qa_samples(path, QaSampler(kb_obj, s, opts, seed), progress)
            info = {"source": {"from": "qa", "path": str(path), "kb": kb_obj.name, "records": stats.records,
                               "skipped": stats.skipped, "options": vars(opts)}}
        elif source == "text":
            from zhiku.train.text_samples import text_samples

            samples = text_samples(path, chunk_size, progress)
            info = {"source": {"from": "text", "path": str(path), "chunk_size": chunk_size}}
        else:
            raise InputError(f"--from must be qa or text, got {source!r}")
        manifest = write_dataset(samples, out_dir, counter_for(s.llm.model, s.models_dir), val_split, seed,
                                 max_len, sample, info, progress)
    if as_json:
        out.print(json.dumps({"path": str(out_dir), **manifest}, ensure_ascii=False), markup=False)
        return
    c, lt = manifest["counts"], manifest["lengths"]["train"]
    kinds = ", ".join(f"{k} {v}" for k, v in c.items() if k not in ("train", "val", "too_long"))
    out.print(f"{out_dir}: {c['train']} train + {c['val']} val samples ({kinds}); {c['too_long']} over --max-len; "
              f"train length mean {lt.get('mean')} / max {lt.get('max')} {manifest['length_unit']}", markup=False)
