"""`zhiku kb`: create, list, inspect and delete knowledge bases."""
from __future__ import annotations

import sys

import typer

from zhiku.cli.common import JsonOpt, dump, guarded, kbs, out
from zhiku.errors import InputError

app = typer.Typer(help="Create, list, inspect and delete knowledge bases.", no_args_is_help=True)


@app.command("create")
@guarded
def kb_create(name: str, description: str = typer.Option("", "--description", "-d"), as_json: bool = JsonOpt) -> None:
    """Create an empty knowledge base."""
    info = kbs().create(name, description)
    dump(info.to_dict()) if as_json else out.print(f"created knowledge base '{info.name}' ({info.store}, {info.embedder})")


@app.command("list")
@guarded
def kb_list(as_json: bool = JsonOpt) -> None:
    """List knowledge bases with document and chunk counts."""
    c = kbs()
    infos = [c.info(i.name) for i in c.list()]
    if as_json:
        return dump([i.to_dict() for i in infos])
    if not infos:
        out.print("no knowledge bases yet: zhiku kb create NAME")
    for i in infos:
        out.print(f"{i.name}\t{i.stats['documents']} documents\t{i.stats['chunks']} chunks\t{i.store}\t{i.description}")


@app.command("info")
@guarded
def kb_info(name: str, as_json: bool = JsonOpt) -> None:
    """Details of one knowledge base."""
    info = kbs().info(name)
    if as_json:
        return dump(info.to_dict())
    for k, v in info.to_dict().items():
        out.print(f"{k}: {v}", markup=False)


@app.command("delete")
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
