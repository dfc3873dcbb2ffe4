"""The writing workspace: long-form Chinese writing with a long-term memory.

    Projects ── Project (project.py): chapters, settings, one SQLite file per project (the truth)
                  └─ Memories (memory.py): typed records + proposals under review
                       └─ MemoryIndex (recall.py): hybrid search over them, derived from SQLite
    Extractor (extract.py): memories proposed from the manuscript by the LLM
    Composer (compose.py): continue / rewrite / expand / polish with memories in the prompt

The CLI (`zhiku write`), the HTTP API and the web UI are thin adapters over these classes. Submodules are
imported on use: opening a project loads neither the embedder nor the LLM.
"""
from __future__ import annotations

from zhiku.write.memory import TYPES, Draft, Memory, Proposal
from zhiku.write.project import Chapter, Project, ProjectInfo, Projects

__all__ = ["TYPES", "Chapter", "Draft", "Memory", "Project", "ProjectInfo", "Projects", "Proposal"]
