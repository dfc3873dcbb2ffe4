"""知库 zhiku: offline RAG question answering over statutes and documents, with exact article citations.

    import zhiku

    kb = zhiku.open("demo", create=True)          # a knowledge base under ZHIKU_HOME (or home=...)
    kb.ingest("samples/laws")
    hits = kb.search("试用期最长多久", k=5)
    answer = kb.ask("试用期最长多久？")             # .text, .citations
    zhiku.connect(home="data").list()              # the knowledge bases: create, open, list, delete
    zhiku.get_settings()                           # defaults < zhiku.toml < ZHIKU_* variables

The names below are imported on first use (see zhiku/api.py), so `import zhiku` loads no model, index or
tokenizer.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zhiku.api import KnowledgeBase, Zhiku, connect, open  # noqa: F401 (open: not in __all__, see below)
    from zhiku.config import Settings, get_settings
    from zhiku.errors import ZhikuError
    from zhiku.pipeline import DoneEvent, SourcesEvent, TokenEvent
    from zhiku.types import Answer, Citation, Hit

_LAZY = {
    "open": "zhiku.api",
    "connect": "zhiku.api",
    "Zhiku": "zhiku.api",
    "KnowledgeBase": "zhiku.api",
    "Settings": "zhiku.config",
    "get_settings": "zhiku.config",
    "ZhikuError": "zhiku.errors",
    "Answer": "zhiku.types",
    "Citation": "zhiku.types",
    "Hit": "zhiku.types",
    "SourcesEvent": "zhiku.pipeline",
    "TokenEvent": "zhiku.pipeline",
    "DoneEvent": "zhiku.pipeline",
}
# `open` is left out so that `from zhiku import *` does not shadow the builtin open()
__all__ = [
    "Answer",
    "Citation",
    "DoneEvent",
    "Hit",
    "KnowledgeBase",
    "Settings",
    "SourcesEvent",
    "TokenEvent",
    "Zhiku",
    "ZhikuError",
    "connect",
    "get_settings",
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zhiku' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
