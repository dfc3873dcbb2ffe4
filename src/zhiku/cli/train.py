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
    path: Optional[Path] = typer.Argument(None, help="qa: a jsonl of question/answer/gold records; text: a file, a "
                                          "directory or write:PROJECT (a writing project's manuscript); synthetic: "
                                          "none (the KB's articles)."),
    source: Optional[str] = typer.Option(None, "--from", help="qa (STARD/LeCoQA records), text (txt/md/json/jsonl) "
                                         "or synthetic (questions the LLM writes per article; implied by --synthetic)."),
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
    synthetic: int = typer.Option(0, "--synthetic", min=0, help="synthetic: questions the configured LLM writes per "
                                  "article (saved as pairs.jsonl, usable by --from qa and `train adapter`)."),
    articles: int = typer.Option(0, "--articles", min=0, help="synthetic: a seeded sample of this many articles (0 = all)."),
    as_json: bool = JsonOpt,
) -> None:
    """Turn raw material into chat-format SFT data, rendered with the answer pipeline's own prompt (qa, synthetic)
    or as plain continuation text (text)."""
    from zhiku.errors import InputError
    from zhiku.train.prepare import write_dataset
    from zhiku.train.tokens import counter_for

    s = settings()
    source = source or ("synthetic" if synthetic else None)
    if source not in ("qa", "text", "synthetic"):
        raise InputError(f"--from must be qa, text or synthetic, got {source!r}")
    if source == "synthetic" and synthetic < 1:
        raise InputError("--from synthetic needs --synthetic N (questions per article)")
    if source != "synthetic" and path is None:
        raise InputError(f"--from {source} needs a PATH")
    extras = None
    with task_bars() as p:
        progress = stage_progress(p)
        if source in ("qa", "synthetic"):
            from zhiku.eval.dataset import load_dataset
            from zhiku.train.qa_samples import QaOptions, QaSampler, qa_samples

            kb_obj = open_kb(kb)
            opts = QaOptions(sources, refusal_share, max_answer_chars, s.retrieval.max_source_chars, rerank)
            sampler = QaSampler(kb_obj, s, opts, seed)
            if source == "synthetic":
                from zhiku.generate import get_llm
                from zhiku.train.synthetic import QuestionWriter, as_queries, pick_articles, synthetic_pairs

                writer = QuestionWriter(get_llm(s.llm, s.models_dir), synthetic)
                pairs, syn = synthetic_pairs(writer, pick_articles(sampler.articles, articles, seed), progress)
                queries, extras = as_queries(pairs), {"pairs.jsonl": pairs}
                origin = {"from": "synthetic", "per_article": synthetic, "articles": syn.articles,
                          "questions": syn.questions, "dropped": syn.dropped, "llm": s.llm.model}
            else:
                queries, origin = load_dataset(path, require_gold=False), {"from": "qa", "path": str(path)}
            samples, stats = qa_samples(queries, sampler, progress)
            info = {"source": {**origin, "kb": kb_obj.name, "records": stats.records, "skipped": stats.skipped,
                               "options": vars(opts)}}
        else:
            from zhiku.train.text_samples import project_samples, text_samples

            if str(path).startswith("write:"):  # a writing project's manuscript: style data for its own adapter
                from zhiku.write import Projects

                samples = project_samples(Projects(s).open(str(path).removeprefix("write:")), chunk_size)
            else:
                samples = text_samples(path, chunk_size, progress)
            info = {"source": {"from": "text", "path": str(path), "chunk_size": chunk_size}}
        manifest = write_dataset(samples, out_dir, counter_for(s.llm.model, s.models_dir), val_split, seed,
                                 max_len, sample, info, progress, extras)
    if as_json:
        out.print(json.dumps({"path": str(out_dir), **manifest}, ensure_ascii=False), markup=False)
        return
    c, lt = manifest["counts"], manifest["lengths"]["train"]
    kinds = ", ".join(f"{k} {v}" for k, v in c.items() if k not in ("train", "val", "too_long"))
    out.print(f"{out_dir}: {c['train']} train + {c['val']} val samples ({kinds}); {c['too_long']} over --max-len; "
              f"train length mean {lt.get('mean')} / max {lt.get('max')} {manifest['length_unit']}", markup=False)


@app.command("sft")
@guarded
def train_sft(
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file of sft settings (top level or [sft])."),
    base: Optional[str] = typer.Option(None, "--base", help="Bundled model name or local HF model directory."),
    data: Optional[str] = typer.Option(None, "--data", help="A `zhiku train prepare` directory."),
    out_dir: Optional[str] = typer.Option(None, "--out", help="Run directory (default: ZHIKU_HOME/train/runs/DATA)."),
    lora_r: Optional[int] = typer.Option(None, "--lora-r"),
    lora_alpha: Optional[int] = typer.Option(None, "--lora-alpha"),
    lora_dropout: Optional[float] = typer.Option(None, "--lora-dropout"),
    lr: Optional[float] = typer.Option(None, "--lr"),
    epochs: Optional[float] = typer.Option(None, "--epochs"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size"),
    grad_accum: Optional[int] = typer.Option(None, "--grad-accum"),
    max_len: Optional[int] = typer.Option(None, "--max-len"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps"),
    save_steps: Optional[int] = typer.Option(None, "--save-steps"),
    eval_steps: Optional[int] = typer.Option(None, "--eval-steps"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    threads: Optional[int] = typer.Option(None, "--threads"),
    qlora: Optional[bool] = typer.Option(None, "--qlora", help="4-bit base (bitsandbytes; CUDA only)."),
    sets: list[str] = typer.Option([], "--set", help="Any setting as key=value (repeatable)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint of the run directory."),
    as_json: bool = JsonOpt,
) -> None:
    """LoRA fine-tuning of the answer model on a prepared dataset (peft + trl), with checkpoints every
    save_steps; Ctrl-C saves one and stops."""
    from zhiku.train.base_model import resolve_base
    from zhiku.train.sft import Interrupted, preflight, train
    from zhiku.train.sft_config import load_config, parse_sets

    s = settings()
    flags = dict(base=base, data=data, out=out_dir, lora_r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                 lr=lr, epochs=epochs, batch_size=batch_size, grad_accum=grad_accum, max_len=max_len,
                 max_steps=max_steps, save_steps=save_steps, eval_steps=eval_steps, seed=seed, threads=threads,
                 qlora=qlora)
    cfg = load_config(config, {**parse_sets(sets), **flags})
    run_dir = Path(cfg.out) if cfg.out else s.home / "train" / "runs" / Path(cfg.data or "run").name
    rows = preflight(cfg, run_dir, resume)
    base_dir = resolve_base(cfg.base, s.home, s.models_dir)
    with task_bars() as p:
        task = p.add_task("sft", total=None)

        def show(r: dict) -> None:
            parts = [f"step {r['step']}/{r['max_steps']}"]
            parts += [f"{k.replace('_', ' ')} {r[k]:.4f}" for k in ("loss", "eval_loss") if k in r]
            if "tokens_per_s" in r:
                parts.append(f"{r['tokens_per_s']:.0f} tok/s")
            if "eta_s" in r:
                parts.append(f"ETA {r['eta_s'] / 60:.1f} min")
            p.update(task, description=" · ".join(parts), completed=r["step"], total=r["max_steps"])

        try:
            result = train(cfg, base_dir, run_dir, rows, resume, progress=show)
        except Interrupted as e:
            err.print(str(e), markup=False)
            raise typer.Exit(130)
    info = result.info
    if as_json:
        out.print(json.dumps({"run_dir": str(result.run_dir), "adapter": str(result.adapter), **info},
                             ensure_ascii=False), markup=False)
        return
    out.print(f"{result.adapter}: {info['steps']} steps, train loss {info['train_loss']}, eval loss "
              f"{info['eval_loss']}, {info['tokens_per_s']} tok/s, {info['wall_s']} s, peak RSS "
              f"{info['peak_rss_mb']} MB", markup=False)


@app.command("export")
@guarded
def train_export(
    run: Path = typer.Argument(..., help="A `zhiku train sft` run directory (or an adapter directory)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Export directory (default: RUN/export)."),
    formats: list[str] = typer.Option(["gguf-lora", "merged"], "--format",
                                      help="gguf-lora, merged (vLLM), gguf (merged, f16), gguf-q4. Repeatable."),
    base: Optional[str] = typer.Option(None, "--base", help="Base model (default: the adapter's own base)."),
    name: str = typer.Option("zhiku-lora", "--name", help="Model name for vLLM's --served-model-name/--lora-modules."),
    as_json: bool = JsonOpt,
) -> None:
    """Export a trained LoRA: a GGUF adapter for llama.cpp (llm.lora = PATH), merged safetensors for vLLM (with
    the `vllm serve` lines), a merged GGUF in f16 or Q4_K_M."""
    from zhiku.train.base_model import resolve_base
    from zhiku.train.export import adapter_base, export, find_adapter

    s = settings()
    adapter = find_adapter(run)
    base_dir = resolve_base(base or adapter_base(adapter), s.home, s.models_dir)
    target = out_dir or (adapter.parent if adapter.name == "adapter" else adapter) / "export"
    with task_bars() as p:
        info = export(adapter, base_dir, target, tuple(formats), name, progress=stage_progress(p))
    if as_json:
        out.print(json.dumps(info, ensure_ascii=False), markup=False)
        return
    for kind, path in info["files"].items():
        out.print(f"{kind}: {path}", markup=False)
    if "gguf-lora" in info["files"]:
        out.print(f"llama.cpp: ZHIKU_LLM__LORA={info['files']['gguf-lora']} on its base model's GGUF", markup=False)
    out.print("vLLM:\n  " + "\n  ".join(info["vllm"]), markup=False)
