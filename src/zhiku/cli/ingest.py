"""`zhiku ingest`: files, folders, stdin lines or pasted text into a knowledge base."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer

from zhiku.cli.common import JsonOpt, KbOpt, dump, err, guarded, kbs, out, settings
from zhiku.errors import InputError, KBNotFoundError


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
    with _FileProgress("ingest") as bar:
        report = Ingestor(kb_obj, s, chunker=chunker).ingest(paths, lines, progress=bar)
    kb_obj.close()
    if as_json:
        dump(report.to_dict())
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


class _FileProgress:
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
