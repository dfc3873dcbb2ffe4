"""`zhiku kb`: create, list, inspect, check, back up, restore and delete knowledge bases."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zhiku.cli.common import JsonOpt, confirm_delete, dump, guarded, kbs, out
from zhiku.errors import CorruptStoreError

app = typer.Typer(help="Create, list, inspect, check, back up, restore and delete knowledge bases.",
                  no_args_is_help=True)


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
    confirm_delete(f"knowledge base '{name}'", f"Delete knowledge base '{name}' and all its documents?", yes)
    c.delete(name)
    out.print(f"deleted knowledge base '{name}'")


@app.command("check")
@guarded
def kb_check(
    name: str,
    repair: bool = typer.Option(False, "--repair", help="Rebuild what can be rebuilt (the keyword and dense "
                                "indexes, from store.sqlite); takes the knowledge base's write lock."),
    as_json: bool = JsonOpt,
) -> None:
    """Verify a knowledge base: SQLite integrity of the catalog and the store, counts across its indexes,
    generation stamps. Exit 0 when nothing is left wrong, 7 when something is (and could not be repaired)."""
    report = kbs().check(name, repair)
    if as_json:
        dump(report.to_dict())
    else:
        counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
        stamps = ", ".join(f"{k} {v}" for k, v in report.generations.items())
        out.print(f"knowledge base '{name}' ({report.engine}): {counts}" + (f"; generations: {stamps}" if stamps else ""),
                  markup=False)
        for p in report.problems:
            out.print(f"{'repaired' if p.repaired else 'PROBLEM'}: {p.what}: {p.fix}", markup=False)
        out.print("ok" if report.ok else "problems remain", markup=False)
    if not report.ok:
        raise typer.Exit(CorruptStoreError.exit_code)


@app.command("export")
@guarded
def kb_export(name: str, file: Path = typer.Argument(..., help="The archive to write (.tar.gz)."),
              as_json: bool = JsonOpt) -> None:
    """Back a knowledge base up into one .tar.gz (safe while the server runs): restore it with `kb import`."""
    from zhiku.backup import export_kb

    manifest = export_kb(kbs(), name, file)
    if as_json:
        return dump(manifest)
    stats = manifest["kb"]["stats"]
    out.print(f"exported knowledge base '{name}' ({stats['documents']} documents, {stats['chunks']} chunks) "
              f"to {file}", markup=False)


@app.command("import")
@guarded
def kb_import(file: Path = typer.Argument(..., help="An archive from `zhiku kb export`."),
              name: Optional[str] = typer.Option(None, "--name", help="Import under this name (default: the "
                                                 "archived knowledge base's own)."),
              as_json: bool = JsonOpt) -> None:
    """Restore a knowledge base from an archive of `kb export`; it is checked before it is listed."""
    from zhiku.backup import import_kb

    info = import_kb(kbs(), file, name)
    if as_json:
        return dump(info.to_dict())
    out.print(f"imported knowledge base '{info.name}' ({info.stats['documents']} documents, "
              f"{info.stats['chunks']} chunks) from {file}", markup=False)
