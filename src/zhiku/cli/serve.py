"""`zhiku serve` and `zhiku keys`: the HTTP API and its API keys."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zhiku.cli.common import JsonOpt, LoraOpt, dump, err, guarded, out, settings, use_lora

keys_app = typer.Typer(help="API keys for `zhiku serve` (stored hashed under ZHIKU_HOME).", no_args_is_help=True)


@guarded
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Bind address (default: server.host)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (default: server.port)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes (needs the milvus store when > 1)."),
    lora: Optional[Path] = LoraOpt,
) -> None:
    """Start the HTTP API (native /api, OpenAI-compatible /v1) on the same pipeline as the CLI."""
    from zhiku.serve import launch

    use_lora(lora)
    s = settings()
    s.make_home()
    where = launch.bind(s, host, port, workers)
    if where.notice:
        err.print(where.notice, markup=False)
    err.print(f"zhiku serving on http://{where.host}:{where.port} (model {s.llm.model}, default kb '{s.default_kb}'); "
              f"web UI at http://{where.host}:{where.port}/ui/", markup=False)
    launch.run(s, where, workers)


def _keystore():
    from zhiku.serve.auth import KeyStore

    return KeyStore(settings().make_home())


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
        return dump({**info.to_dict(), "key": token})
    out.print(token, markup=False)
    err.print(f"created {info.scope} key '{info.id}': store it now, it cannot be shown again", markup=False)


@keys_app.command("list")
@guarded
def keys_list(as_json: bool = JsonOpt) -> None:
    """List API keys (ids and scopes; never the secrets)."""
    rows = [k.to_dict() for k in _keystore().list()]
    if as_json:
        return dump(rows)
    for r in rows:
        out.print(f"{r['id']}\t{r['scope']}\t{'revoked' if r['revoked'] else 'active'}\t{r['name']}", markup=False)


@keys_app.command("revoke")
@guarded
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by id."""
    _keystore().revoke(key_id)
    out.print(f"revoked key '{key_id}'")
