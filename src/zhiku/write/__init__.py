"""The writing workspace: long-form Chinese writing with a long-term memory.

    Projects ── Project (project.py): chapters, settings, one SQLite file per project (the truth)
                  └─ Memories (memory.py): typed records + proposals under review
                       └─ MemoryIndex (recall.py): hybrid search over them, derived from SQLite
    Extractor (extract.py): memories proposed from the manuscript by the LLM
    Composer (compose.py): continue / rewrite / expand / polish with memories in the prompt

The CLI (`zhiku write`), the HTTP API and the web UI are thin adapters over these classes. Submodules are
imported on use: opening a project loads neither the embedder nor the LLM.

    projects = Projects(get_settings())                 # keep one per process: open projects are cached
    project, numbers = projects.import_file("星落", path)
    project.memories.add(Draft("人物", "林秋", "琥珀色的眼睛"))
    hits = project.memories.search("林秋的眼睛", k=5)      # [MemoryHit(memory, score, scores, why)]
    composer = Composer(project)                        # the project's LLM (its own adapter if it set one)
    prepared = composer.prepare_continue("写林秋拔出寒霜剑", memory=True, sampling=composer.sampling(temperature=0.8))
    for event in composer.stream(prepared): ...         # MemoriesEvent, TokenEvent..., WrittenEvent(written)
    composer.accept(written)                            # append / replace the passage
    report = Extractor(project.llm(), settings.write).run(project, chapters=[3])   # pending proposals
    project.memories.accept([p.id for p in report.proposals])

Errors are zhiku.errors types (NotFoundError 404, InputError 400, ProjectExistsError 409, ExtractionError 502,
LockedError 423, DiskFullError 507, CorruptStoreError for a damaged project file), each one line naming the
project and what is wrong.
"""
from __future__ import annotations

from zhiku.write.memory import TYPES, Draft, Memory, Proposal
from zhiku.write.project import Chapter, Project, ProjectInfo, Projects

__all__ = ["TYPES", "Chapter", "Draft", "Memory", "Project", "ProjectInfo", "Projects", "Proposal"]
