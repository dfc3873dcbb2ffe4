"""What every command shares: the consoles, settings, typed-error handling, JSON output and progress bars."""
from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Callable, Optional

import typer
from rich.console import Console

from zhiku.config import Settings, get_settings, reset_settings
from zhiku.errors import InputError, ZhikuError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

KbOpt = typer.Option(None, "--kb", help="Knowledge base (default: settings.default_kb).")
JsonOpt = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")
LoraOpt = typer.Option(None, "--lora", help="A LoRA adapter (.gguf from `zhiku train export`) for the in-process "
                       "model: llm.lora for this run.")


def settings() -> Settings:
    try:
        return get_settings()
    except Exception as e:  # pydantic validation of zhiku.toml / ZHIKU_* variables
        fail(ZhikuError(f"invalid settings: {e}"), code=2)
        raise  # unreachable


def fail(e: Exception, code: int | None = None) -> None:
    err.print(f"error: {e}", markup=False)
    raise typer.Exit(code if code is not None else getattr(e, "exit_code", 1))


def guarded(fn):
    """Typed errors become one line on stderr and their exit code; nothing else is caught."""

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


def kbs():
    from zhiku.kb import KnowledgeBases

    return KnowledgeBases(settings())


def open_kb(name: str | None):
    """The knowledge base `--kb` names, or the default one."""
    return kbs().open(name or settings().default_kb)


def llm(s: Settings):
    from zhiku.generate import get_llm

    return get_llm(s.llm, s.models_dir)


def pipeline(kb_name: str | None):
    from zhiku.pipeline import RagPipeline

    s = settings()
    return RagPipeline(open_kb(kb_name), llm(s), s)


def dump(obj) -> None:
    out.print(json.dumps(obj, ensure_ascii=False, indent=2, default=str), markup=False)


def task_bars():
    """Progress bars for multi-step jobs (eval stages, training steps): one row per task, on stderr, quiet when
    stderr is not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=err, disable=not err.is_terminal)


def stage_progress(bars) -> Callable[[str, int, int], None]:
    """A `progress(stage, done, total)` callback for a layer function: one bar of `bars` per stage name."""
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], completed=done, total=total)

    return update


def use_lora(path: Optional[Path]) -> None:
    """--lora: through the environment, so the workers of `serve --workers N` build their model with it too."""
    if path is None:
        return
    if not path.is_file():
        raise InputError(f"--lora {path}: no such adapter file (make one with `zhiku train export`)")
    os.environ["ZHIKU_LLM__LORA"] = str(path.resolve())
    reset_settings()


def confirm_delete(what: str, question: str, yes: bool) -> None:
    """Ask before deleting `what` unless --yes; without a terminal to ask, refuse instead of hanging or guessing."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError(f"refusing to delete {what} without --yes (no terminal to confirm)")
    typer.confirm(question, abort=True)
