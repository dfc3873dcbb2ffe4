"""`zhiku ingest`: files, folders, stdin lines or pasted text into a knowledge base."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer

from zhiku.cli.common import JsonOpt, KbOpt, dump, err, guarded, kbs, out, settings
from zhiku.errors import InputError, KBNotFoundError, LockedError


@guarded
def ingest(
    paths: list[Path] = typer.Argument(
        None, help="Files and folders (recursive). '-' reads lines from stdin. Inside folders, files of unsupported "
        "types are ignored with a warning; a file named here with an unsupported type fails."),
    kb: Optional[str] = KbOpt,
    text: list[str] = typer.Option(None, "--text", "-t", help="Pasted text; each non-empty line is one entry."),
    chunker: Optional[str] = typer.Option(None, "--chunker", help="auto | legal | recursive"),
    create: bool = typer.Option(False, "--create", help="Create the knowledge base if it does not exist."),
    wait: float = typer.Option(0.0, "--wait", metavar="SECONDS", help="If another process is writing to the "
                               "knowledge base, wait up to SECONDS for it (default: fail at once, exit 4)."),
    as_json: bool = JsonOpt,
) -> None:
    """Ingest files, folders or text lines. Re-ingesting unchanged content adds nothing.

    Exit 0: all went in. 1: only part did (the summary names what was skipped).
    2: nothing did. 4: another process is writing to the knowledge base (see --wait).
    """
    from zhiku.ingest.ingestor import Ingestor, require_input

    s = settings()
    name = kb or s.default_kb
    if chunker and chunker not in ("auto", "legal", "recursive"):
        raise InputError(f"--chunker must be auto, legal or recursive, got {chunker!r}")
    if wait < 0:
        raise InputError(f"--wait must be 0 or more seconds, got {wait:g}")
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
    try:
        with _FileProgress("ingest") as bar:
            report = Ingestor(kb_obj, s, chunker=chunker).ingest(paths, lines, progress=bar, wait=wait)
    except LockedError as e:
        raise LockedError(f"{e}, or pass --wait SECONDS" if not wait else str(e)) from None
    finally:
        kb_obj.close()
    if as_json:
        dump(report.to_dict())
    else:
        out.print(report.summary(), markup=False)
    whole = set(report.files_failed.values())
    for msg in report.skipped:  # each on its own line, with the full path the summary shortens
        err.print(f"{'error' if msg in whole else 'warning'}: {msg}", markup=False)
    if report.files_ignored:
        shown = ", ".join(Path(f).name for f in report.files_ignored[:3])
        more = f" and {len(report.files_ignored) - 3} more" if len(report.files_ignored) > 3 else ""
        err.print(f"warning: ignored {len(report.files_ignored)} files of unsupported types: {shown}{more}", markup=False)
    if report.files == 0:
        err.print("error: nothing to ingest: no files of supported types and no non-empty lines", markup=False)
    raise typer.Exit(report.exit_code)


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
