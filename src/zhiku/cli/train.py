"""`zhiku train`: fit zhiku's learned parts (the query adapter) on question-article pairs."""
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
