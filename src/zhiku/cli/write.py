"""`zhiku write`: writing projects (manuscript + memory), extraction, continuation and revision (zhiku.write)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from zhiku.cli.common import JsonOpt, confirm_delete, dump, err, guarded, out, settings, stage_progress, task_bars
from zhiku.errors import EmptyInputError, InputError

app = typer.Typer(help="Writing projects: a manuscript, its long-term memory, and continuation with the LLM.",
                  no_args_is_help=True)
memory_app = typer.Typer(help="A project's memory: 人物 character, 情节 plot, 设定 setting, 对话 dialogue, 笔记 note.",
                         no_args_is_help=True)
app.add_typer(memory_app, name="memory")

FileOpt = typer.Option(None, "--file", "-f", help="Read the text from this file (else --text, else stdin).")
TextOpt = typer.Option(None, "--text", "-t", help="The text itself.")
MemoryOpt = typer.Option(True, "--memory/--no-memory", help="Put the memories relevant to the passage and the "
                         "instruction in the prompt.")
PromptOpt = typer.Option("", "--prompt", "-p", help="What to write (the instruction); empty = just continue.")


def projects():
    from zhiku.write import Projects

    return Projects(settings())


def open_project(name: str):
    return projects().open(name)


def read_text(file: Optional[Path], text: Optional[str], what: str = "text") -> str:
    """--text, else the file (GBK and BOMs detected as ingest does), else piped stdin; never empty."""
    if text is None and file is not None:
        from zhiku.ingest.encoding import decode_bytes

        try:
            text = decode_bytes(file.read_bytes(), str(file))
        except OSError as e:
            raise InputError(f"{file}: cannot read ({e.strerror or e})") from e
    elif text is None:
        if sys.stdin.isatty():
            raise InputError(f"no {what}: give --text, --file or pipe it on stdin")
        text = sys.stdin.read()
    if not text.strip():
        raise EmptyInputError(f"empty {what}")
    return text


# ---------------------------------------------------------------- projects


@app.command("new")
@guarded
def write_new(name: str, description: str = typer.Option("", "--description", "-d"), as_json: bool = JsonOpt) -> None:
    """Create an empty writing project."""
    info = projects().create(name, description)
    dump(info.to_dict()) if as_json else out.print(f"created writing project '{info.name}'", markup=False)


@app.command("list")
@guarded
def write_list(as_json: bool = JsonOpt) -> None:
    """Projects with their chapter, character and memory counts."""
    infos = projects().list()
    if as_json:
        return dump([i.to_dict() for i in infos])
    if not infos:
        out.print("no writing projects yet: zhiku write new NAME", markup=False)
    for i in infos:
        out.print(f"{i.name}\t{i.chapters} chapters\t{i.chars} chars\t{i.memories} memories\t{i.pending} pending"
                  f"\t{i.description}", markup=False)


@app.command("delete")
@guarded
def write_delete(name: str, yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Delete a project: its manuscript, memories and index."""
    c = projects()
    c.open(name)
    confirm_delete(f"writing project '{name}'", f"Delete writing project '{name}' with its manuscript and memories?", yes)
    c.delete(name)
    out.print(f"deleted writing project '{name}'", markup=False)


@app.command("import")
@guarded
def write_import(name: str, file: Path, as_json: bool = JsonOpt) -> None:
    """Bring in a novel (txt/md/docx; GBK detected), split at 第X章 / 第X回 / Chapter N headings and appended after
    the project's chapters. The project is created if it does not exist."""
    project, numbers = projects().import_file(name, file)
    chapters = [ch for ch in project.chapters() if ch.number in set(numbers)]
    if as_json:
        return dump({"project": name, "chapters": [ch.to_dict(text=False) for ch in chapters]})
    chars = sum(ch.chars for ch in chapters)
    out.print(f"{file}: {len(chapters)} chapters, {chars} characters into '{name}' (chapters {numbers[0]}-{numbers[-1]})",
              markup=False)


@app.command("export")
@guarded
def write_export(name: str, file: Path) -> None:
    """Write the manuscript as one UTF-8 text file (for `zhiku train prepare --from text FILE`)."""
    n = open_project(name).export(file)
    out.print(f"{file}: {n} characters", markup=False)


@app.command("set")
@guarded
def write_set(name: str, key: str, value: str = typer.Argument("", help="Empty clears the setting.")) -> None:
    """Set a project setting: llm.lora (a trained adapter for this project) or llm.model."""
    open_project(name).set_setting(key, value)
    out.print(f"{name}: {key} = {value!r}" if value else f"{name}: {key} cleared", markup=False)


@app.command("settings")
@guarded
def write_settings(name: str, as_json: bool = JsonOpt) -> None:
    """The project's own settings (what it overrides of the global ones)."""
    from zhiku.write.project import PROJECT_SETTINGS

    values = open_project(name).project_settings()
    if as_json:
        return dump(values)
    for key, what in PROJECT_SETTINGS.items():
        out.print(f"{key} = {values.get(key, '')!r}\t# {what}", markup=False)


# ---------------------------------------------------------------- chapters


@app.command("chapters")
@guarded
def write_chapters(name: str, as_json: bool = JsonOpt) -> None:
    """List the chapters."""
    chapters = open_project(name).chapters()
    if as_json:
        return dump([c.to_dict(text=False) for c in chapters])
    if not chapters:
        out.print(f"'{name}' has no chapters yet: zhiku write import / append --new TITLE", markup=False)
    for c in chapters:
        out.print(f"{c.number:>4}. {c.title}\t{c.chars} chars", markup=False)


@app.command("show")
@guarded
def write_show(name: str, chapter: int, as_json: bool = JsonOpt) -> None:
    """Print a chapter."""
    c = open_project(name).chapter(chapter)
    if as_json:
        return dump(c.to_dict())
    out.print(f"{c.title}\n", markup=False, style="bold")
    out.print(c.text, markup=False)


@app.command("edit")
@guarded
def write_edit(name: str, chapter: int, file: Optional[Path] = FileOpt, text: Optional[str] = TextOpt,
               title: Optional[str] = typer.Option(None, "--title", help="New title (alone: keep the text).")) -> None:
    """Replace a chapter's text (from --file, --text or stdin) and/or its title."""
    project = open_project(name)
    body = None if title is not None and file is None and text is None else read_text(file, text, "chapter text")
    c = project.set_chapter(chapter, body, title)
    out.print(f"chapter {c.number} '{c.title}': {c.chars} chars", markup=False)


@app.command("append")
@guarded
def write_append(name: str, file: Optional[Path] = FileOpt, text: Optional[str] = TextOpt,
                 chapter: Optional[int] = typer.Option(None, "--chapter", "-c", help="Default: the last chapter."),
                 new: Optional[str] = typer.Option(None, "--new", help="Start a new chapter with this title.")) -> None:
    """Add text at the end of a chapter, or as a new chapter (--new TITLE)."""
    from zhiku.write.chapters import ChapterText

    project = open_project(name)
    body = read_text(file, text)
    if new is not None:
        if chapter is not None:
            raise InputError("--new starts a chapter; it does not go with --chapter")
        number = project.add_chapters([ChapterText(new.strip() or "无题", body.strip())])[0]
        c = project.chapter(number)
    else:
        c = project.append(body, chapter)
    out.print(f"chapter {c.number} '{c.title}': {c.chars} chars", markup=False)


# ---------------------------------------------------------------- memory


def _print_memory(m, extra: str = "") -> None:
    where = f" ch{m.chapter}" if m.chapter else ""
    tags = f" #{' #'.join(m.tags)}" if m.tags else ""
    out.print(f"{m.id:>5} [{m.label}] {m.name}{where}{tags}{extra}", markup=False, style="bold")
    out.print("      " + m.text.replace("\n", "\n      "), markup=False)


@memory_app.command("add")
@guarded
def memory_add(name: str, memory_type: str = typer.Option(..., "--type", help="character/人物, plot/情节, "
               "setting/设定, dialogue/对话, note/笔记"), title: str = typer.Option(..., "--name", help="Whose / what "
               "it is about: a character's name, a place, an event."), text: Optional[str] = TextOpt,
               file: Optional[Path] = FileOpt, tags: str = typer.Option("", "--tags", help="Comma-separated."),
               chapter: Optional[int] = typer.Option(None, "--chapter", "-c"), as_json: bool = JsonOpt) -> None:
    """Add a memory."""
    from zhiku.write import Draft

    m = open_project(name).memories.add(Draft(memory_type, title, read_text(file, text, "memory text"), tags, chapter))
    dump(m.to_dict()) if as_json else out.print(f"added memory {m.id}: [{m.label}] {m.name}", markup=False)


@memory_app.command("import")
@guarded
def memory_import(name: str, file: Path, as_json: bool = JsonOpt) -> None:
    """Add memories from a jsonl file of {type, name, text, tags, chapter} records (all or none)."""
    from zhiku.write.memory import read_drafts

    added = open_project(name).memories.add_many(read_drafts(file), source="import")
    dump([m.to_dict() for m in added]) if as_json else out.print(f"{file}: {len(added)} memories added", markup=False)


@memory_app.command("edit")
@guarded
def memory_edit(name: str, memory_id: int, memory_type: Optional[str] = typer.Option(None, "--type"),
                title: Optional[str] = typer.Option(None, "--name"), text: Optional[str] = TextOpt,
                file: Optional[Path] = FileOpt, tags: Optional[str] = typer.Option(None, "--tags"),
                chapter: Optional[int] = typer.Option(None, "--chapter", "-c", help="0 clears it."),
                as_json: bool = JsonOpt) -> None:
    """Change a memory's fields (only those given)."""
    body = read_text(file, None, "memory text") if file is not None else text
    m = open_project(name).memories.edit(memory_id, type=memory_type, name=title, text=body, tags=tags, chapter=chapter)
    dump(m.to_dict()) if as_json else _print_memory(m)


@memory_app.command("delete")
@guarded
def memory_delete(name: str, ids: list[int] = typer.Argument(..., help="Memory ids.")) -> None:
    """Delete memories."""
    n = open_project(name).memories.delete(ids)
    out.print(f"deleted {n} memories", markup=False)


@memory_app.command("list")
@guarded
def memory_list(name: str, memory_type: Optional[str] = typer.Option(None, "--type"), as_json: bool = JsonOpt) -> None:
    """List memories (of one type with --type)."""
    mems = open_project(name).memories.list(memory_type)
    if as_json:
        return dump([m.to_dict() for m in mems])
    if not mems:
        out.print("no memories: zhiku write memory add / zhiku write extract", markup=False)
    for m in mems:
        _print_memory(m)


@memory_app.command("search")
@guarded
def memory_search(name: str, query: str, k: int = typer.Option(5, "--k", "-k", min=1, max=100),
                  memory_type: list[str] = typer.Option(None, "--type", help="Only these types (repeatable)."),
                  as_json: bool = JsonOpt) -> None:
    """Search memories (hybrid: keywords + character bigrams + embeddings)."""
    hits = open_project(name).memories.search(query, k, memory_type or None)
    if as_json:
        return dump([h.to_dict() for h in hits])
    for h in hits:
        _print_memory(h.memory, f"  score={h.score:.4f} " + " ".join(f"{v}={s:.3f}" for v, s in h.scores.items()))
    if not hits:
        out.print("no memories match", markup=False)


@memory_app.command("pending")
@guarded
def memory_pending(name: str, as_json: bool = JsonOpt) -> None:
    """Proposals awaiting review (from extract / continue --propose)."""
    _print_proposals(name, open_project(name).memories.pending(), as_json)


def _print_proposals(name: str, proposals, as_json: bool) -> None:
    if as_json:
        return dump([p.to_dict() for p in proposals])
    if not proposals:
        out.print("no pending proposals", markup=False)
        return
    for p in proposals:
        _print_memory(p, f"  (merges into memory {p.merges_into})" if p.merges_into else "  (new)")
    out.print(f"keep: zhiku write memory accept {name} ID... (or --all); drop: zhiku write memory reject {name} ID...",
              markup=False, style="dim")


@memory_app.command("accept")
@guarded
def memory_accept(name: str, ids: Optional[list[int]] = typer.Argument(None, help="Proposal ids."),
                  every: bool = typer.Option(False, "--all", help="Every pending proposal."), as_json: bool = JsonOpt) -> None:
    """Keep proposals as memories (merged into the memory of the same type and name, if there is one)."""
    kept = open_project(name).memories.accept(_review_ids(ids, every))
    dump([m.to_dict() for m in kept]) if as_json else out.print(f"kept {len(kept)} memories", markup=False)


@memory_app.command("reject")
@guarded
def memory_reject(name: str, ids: Optional[list[int]] = typer.Argument(None, help="Proposal ids."),
                  every: bool = typer.Option(False, "--all", help="Every pending proposal.")) -> None:
    """Drop proposals."""
    n = open_project(name).memories.reject(_review_ids(ids, every))
    out.print(f"rejected {n} proposals", markup=False)


def _review_ids(ids: Optional[list[int]], every: bool) -> list[int] | None:
    if bool(ids) == every:
        raise InputError("give proposal ids or --all (see `zhiku write memory pending`)")
    return None if every else ids


# ---------------------------------------------------------------- the LLM at work


@app.command("extract")
@guarded
def write_extract(name: str, chapter: Optional[list[int]] = typer.Option(None, "--chapter", "-c",
                  help="Only these chapters (repeatable; default all)."), memory_type: Optional[list[str]] = typer.Option(
                  None, "--type", help="Only these types (default character, plot, setting, dialogue)."),
                  yes: bool = typer.Option(False, "--yes", "-y", help="Keep the proposals without review."),
                  as_json: bool = JsonOpt) -> None:
    """Propose memories from the manuscript with the configured LLM, for review (`write memory pending`)."""
    from zhiku.write.extract import EXTRACT_TYPES, Extractor

    s = settings()
    project = open_project(name)
    extractor = Extractor(project.llm(), s.write, memory_type or EXTRACT_TYPES)
    with task_bars() as bars:
        report = extractor.run(project, chapter or None, stage_progress(bars))
    if yes and report.proposals:
        kept = project.memories.accept([p.id for p in report.proposals])
        if as_json:
            return dump({**report.to_dict(), "kept": [m.to_dict() for m in kept]})
        out.print(f"kept {len(kept)} memories from chapters {_span(report.chapters)}", markup=False)
        return
    if as_json:
        return dump(report.to_dict())
    _print_proposals(name, report.proposals, False)
    dropped = ", ".join(f"{why} {n}" for why, n in report.dropped.items())
    err.print(f"{report.calls} model calls ({report.retries} retried), {report.seconds:.0f} s"
              + (f"; dropped: {dropped}" if dropped else ""), markup=False, style="dim")


def _span(numbers: list[int]) -> str:
    return f"{numbers[0]}-{numbers[-1]}" if len(numbers) > 1 else str(numbers[0]) if numbers else "-"


def _generate(project, prepared, composer, as_json: bool, append: bool, propose: bool, show_prompt: bool) -> None:
    """Stream a prepared generation to stdout (memories and timings on stderr), then keep it if asked."""
    from zhiku.pipeline import TokenEvent
    from zhiku.write.compose import MemoriesEvent, WrittenEvent

    written = None
    for ev in composer.stream(prepared):
        if isinstance(ev, MemoriesEvent) and not as_json:
            _print_recall(ev.prepared, show_prompt)
        elif isinstance(ev, TokenEvent) and not as_json:
            out.print(ev.text, end="", markup=False)
        elif isinstance(ev, WrittenEvent):
            written = ev.written
    result = written.to_dict()
    if show_prompt:
        result["messages"] = prepared.messages
    if append:
        c = composer.accept(written)
        result["accepted"] = {"chapter": c.number, "chars": c.chars}
    if propose and written.text:
        from zhiku.write.extract import Extractor

        report = Extractor(composer.llm, project.settings.write).run(project, text=written.text,
                                                                     origin=f"{prepared.kind} chapter {prepared.chapter}")
        result["proposals"] = [p.to_dict() for p in report.proposals]
    if as_json:
        return dump(result)
    out.print()
    t = written.timings
    err.print(f"recall {t.get('recall_ms', 0):.0f} ms, first token {t.get('ttft_ms', 0):.0f} ms, total "
              f"{t.get('total_ms', 0):.0f} ms, {written.usage['completion_tokens']} tokens, prompt "
              f"{written.usage['prompt_tokens']} tokens ({prepared.context_chars} chars of preceding text)",
              markup=False, style="dim")
    if "accepted" in result:
        err.print(f"appended to chapter {result['accepted']['chapter']}" if prepared.kind == "continue"
                  else f"replaced characters {prepared.span[0]}-{prepared.span[1]} of chapter {prepared.chapter}",
                  markup=False)
    if "proposals" in result:
        err.print(f"{len(result['proposals'])} memory proposals: zhiku write memory pending {project.name}",
                  markup=False)


def _print_recall(prepared, show_prompt: bool) -> None:
    if show_prompt:
        for m in prepared.messages:
            err.print(f"--- {m['role']}\n{m['content']}", markup=False, style="dim")
    if prepared.memories:
        err.print("记忆 (memories in the prompt):", markup=False, style="bold")
    for h in prepared.memories:
        err.print(f"  [{h.memory.label}] {h.memory.name} — {'；'.join(h.why)} (score {h.score:.3f})", markup=False,
                  style="dim")


_TEMP = typer.Option(None, "--temperature", help="Default write.temperature (0.8).")
_TOP_P = typer.Option(None, "--top-p", help="Default write.top_p.")
_TOP_K = typer.Option(None, "--top-k", help="Default write.sample_top_k.")
_MAX_TOKENS = typer.Option(None, "--max-tokens", help="Default write.max_tokens (revisions: sized to the passage).")
_REP = typer.Option(None, "--repetition-penalty", help="Default write.repetition_penalty (1 = off).")
_SHOW = typer.Option(False, "--show-prompt", help="Print the whole prompt (stderr).")
_PROPOSE = typer.Option(False, "--propose", help="Propose memories from the new text (for review).")


@app.command("continue")
@guarded
def write_continue(name: str, prompt: str = PromptOpt, memory: bool = MemoryOpt,
                   chapter: Optional[int] = typer.Option(None, "--chapter", "-c", help="Default: the last chapter."),
                   temperature: Optional[float] = _TEMP, top_p: Optional[float] = _TOP_P, top_k: Optional[int] = _TOP_K,
                   max_tokens: Optional[int] = _MAX_TOKENS, repetition_penalty: Optional[float] = _REP,
                   append: bool = typer.Option(False, "--append", help="Append the continuation to the chapter."),
                   propose: bool = _PROPOSE, show_prompt: bool = _SHOW, as_json: bool = JsonOpt) -> None:
    """Stream a continuation of the manuscript; the memories in the prompt are listed with why each was picked."""
    from zhiku.write.compose import Composer

    project = open_project(name)
    composer = Composer(project)
    sampling = composer.sampling(temperature, top_p, top_k, max_tokens, repetition_penalty)
    prepared = composer.prepare_continue(prompt, memory, sampling, chapter)
    _generate(project, prepared, composer, as_json, append, propose, show_prompt)


def _revise(kind: str):
    @guarded
    def command(name: str, chapter: int = typer.Option(..., "--chapter", "-c"),
                start: int = typer.Option(..., "--from-char", help="First character of the passage (0-based)."),
                end: int = typer.Option(..., "--to-char", help="One past its last character."),
                prompt: str = typer.Option("", "--prompt", "-p", help="Anything else the revision should do."),
                memory: bool = MemoryOpt, temperature: Optional[float] = _TEMP, top_p: Optional[float] = _TOP_P,
                top_k: Optional[int] = _TOP_K, max_tokens: Optional[int] = _MAX_TOKENS,
                repetition_penalty: Optional[float] = _REP,
                apply: bool = typer.Option(False, "--apply", help="Put the result in place of the passage."),
                show_prompt: bool = _SHOW, as_json: bool = JsonOpt) -> None:
        from zhiku.write.compose import Composer

        project = open_project(name)
        composer = Composer(project)
        sampling = composer.sampling(temperature, top_p, top_k, max_tokens or 0, repetition_penalty)
        prepared = composer.prepare_revise(kind, chapter, start, end, prompt, memory, sampling)
        _generate(project, prepared, composer, as_json, apply, False, show_prompt)

    command.__doc__ = {"rewrite": "Rewrite a passage (same events, new wording).",
                       "expand": "Expand a passage (more detail, about twice as long).",
                       "polish": "Polish a passage (fix and smooth the wording, same length)."}[kind]
    return command


for _kind in ("rewrite", "expand", "polish"):
    app.command(_kind)(_revise(_kind))
