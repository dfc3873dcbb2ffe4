"""The Python API behind `import zhiku`: open a knowledge base, ingest, search, ask.

    import zhiku

    with zhiku.open("demo", create=True, home="data") as kb:
        kb.ingest("samples/laws")                  # files and folders; kb.ingest_text("...") for pasted text
        hits = kb.search("试用期最长多久", k=5)       # [Hit]: .title, .text, .score, .ref
        answer = kb.ask("试用期最长多久？")           # Answer: .text, .citations ([n] -> Hit), .grounded
        for event in kb.stream("试用期最长多久？"):    # SourcesEvent, then TokenEvent..., then DoneEvent
            ...

A thin facade over the components the CLI and the HTTP server use: `KnowledgeBases` (kb.py), `Ingestor`
(ingest/), `Searcher` (retrieve/) and `RagPipeline` (pipeline.py), with the same settings (`zhiku.get_settings()`:
defaults < zhiku.toml < ZHIKU_* variables). Components are imported and models loaded on first use: the LLM only
when a question is asked (or a query rewrite / HyDE search needs it).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Self

from zhiku.config import Settings, get_settings

if TYPE_CHECKING:
    from zhiku.generate.base import LLM, Message
    from zhiku.index.base import SearchMode
    from zhiku.ingest.ingestor import IngestReport, Progress
    from zhiku.kb import KBInfo
    from zhiku.pipeline import Event, RagPipeline
    from zhiku.retrieve.searcher import Searcher
    from zhiku.types import Answer, Hit

PathArg = str | os.PathLike


class Zhiku:
    """The knowledge bases under one home directory (`home`, else the settings' ZHIKU_HOME)."""

    def __init__(self, home: PathArg | None = None, settings: Settings | None = None):
        from zhiku.kb import KnowledgeBases

        s = settings or get_settings()
        if home is not None:
            s = s.model_copy(update={"home": Path(home)}, deep=True)
        self.settings = s
        self.catalog = KnowledgeBases(s)
        self._kbs: dict[str, KnowledgeBase] = {}

    def list(self) -> list[KBInfo]:
        return self.catalog.list()

    def create(self, name: str, description: str = "", exist_ok: bool = False) -> KnowledgeBase:
        """Create an empty knowledge base (with the configured store and embedder) and open it."""
        self.catalog.create(name, description, exist_ok=exist_ok)
        return self.open(name)

    def open(self, name: str | None = None, create: bool = False) -> KnowledgeBase:
        """An existing knowledge base (default: settings.default_kb); `create=True` creates it if missing."""
        name = name or self.settings.default_kb
        if name not in self._kbs:
            if create:
                self.catalog.create(name, exist_ok=True)
            self._kbs[name] = KnowledgeBase(self, self.catalog.open(name))
        return self._kbs[name]

    def delete(self, name: str) -> None:
        """Delete a knowledge base and all its indexes."""
        self._kbs.pop(name, None)
        self.catalog.delete(name)

    def close(self) -> None:
        """Close every store opened here (the open KnowledgeBase objects with them)."""
        self._kbs.clear()
        self.catalog.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class KnowledgeBase:
    """One open knowledge base: `ingest`, `search`, `ask`, `stream`. Made by `zhiku.open` or `Zhiku.open`."""

    def __init__(self, zhiku: Zhiku, kb):
        self.zhiku, self.settings = zhiku, zhiku.settings  # the home it was opened from
        self.kb = kb  # zhiku.kb.KnowledgeBase: the store and the embedder its vectors came from
        self.name: str = kb.name
        self._owns_zhiku = False  # set by zhiku.open: closing this knowledge base closes its Zhiku too
        self._searcher: Searcher | None = None
        self._pipeline: RagPipeline | None = None

    def info(self) -> KBInfo:
        """Name, store, embedder, and in `.stats` the document and chunk counts."""
        return self.zhiku.catalog.info(self.name)

    # ---------- ingest ----------
    def ingest(self, paths: PathArg | Iterable[PathArg], chunker: str | None = None,
               progress: Progress | None = None) -> IngestReport:
        """Ingest files and folders (recursively). Unchanged content is skipped; a file that fails is reported in
        `report.files_failed`, a malformed record or page in `report.skipped`, and the rest still go in
        (`report.ok` says whether all did). Waits up to settings.ingest.lock_wait for another writer."""
        from zhiku.ingest.ingestor import Ingestor

        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        return Ingestor(self.kb, self.settings, chunker=chunker).ingest([Path(p) for p in paths], progress=progress)

    def ingest_text(self, text: str | Iterable[str], source: str = "text") -> IngestReport:
        """Ingest pasted text: each non-empty line is one entry."""
        from zhiku.ingest.ingestor import Ingestor

        lines = text.splitlines() if isinstance(text, str) else list(text)
        return Ingestor(self.kb, self.settings).ingest(lines=lines, source=source)

    # ---------- search ----------
    @property
    def searcher(self) -> Searcher:
        if self._searcher is None:
            from zhiku.retrieve.searcher import Searcher

            self._searcher = Searcher(self.kb, self.settings, llm=self._llm)
        return self._searcher

    def search(self, query: str, k: int = 10, mode: SearchMode = "hybrid", laws: Iterable[str] = (),
               doc_ids: Iterable[str] = (), rerank: bool | None = None, rewrite: bool | None = None,
               hyde: bool | None = None) -> list[Hit]:
        """The k best articles/chunks, best first. `laws` / `doc_ids` restrict the search (full law titles);
        rerank, rewrite, hyde switch those stages for this call (None: as configured)."""
        from zhiku.errors import InputError

        if mode not in ("hybrid", "bm25", "dense"):
            raise InputError(f"mode must be hybrid, bm25 or dense, got {mode!r}")
        if not query.strip():
            raise InputError("empty query")
        from zhiku.index.base import Filters

        return self.searcher.run(query, k=k, mode=mode, filters=Filters.of(laws, doc_ids), rerank=rerank,
                                 rewrite=rewrite, hyde=hyde)

    # ---------- answers ----------
    def _llm(self) -> LLM:
        from zhiku.generate import get_llm

        return get_llm(self.settings.llm, self.settings.models_dir)  # cached: one model per process

    @property
    def pipeline(self) -> RagPipeline:
        """The RagPipeline answering here (loads the configured LLM on first use)."""
        if self._pipeline is None:
            from zhiku.pipeline import RagPipeline

            self._pipeline = RagPipeline(self.kb, self._llm(), self.settings)
        return self._pipeline

    def stream(self, question: str, history: list[Message] | None = None, k: int | None = None,
               laws: Iterable[str] = (), doc_ids: Iterable[str] = (), rerank: bool | None = None,
               max_tokens: int | None = None, temperature: float | None = None, top_p: float | None = None,
               sample_top_k: int | None = None) -> Iterator[Event]:
        """The answer as it is generated: one SourcesEvent, TokenEvents, then a DoneEvent with the Answer.
        `history` is earlier turns ([{"role", "content"}]); `k` sources go to the model (default:
        retrieval.top_k); the sampling values override the configured ones (llm.*) for this answer."""
        from zhiku.generate.base import Sampling
        from zhiku.index.base import Filters

        sampling = Sampling.from_settings(self.settings.llm).with_overrides(max_tokens, temperature, top_p,
                                                                            sample_top_k)
        return self.pipeline.stream(question, history, filters=Filters.of(laws, doc_ids), top_k=k, rerank=rerank,
                                    sampling=sampling)

    def ask(self, question: str, history: list[Message] | None = None, k: int | None = None,
            laws: Iterable[str] = (), doc_ids: Iterable[str] = (), rerank: bool | None = None,
            max_tokens: int | None = None, temperature: float | None = None, top_p: float | None = None,
            sample_top_k: int | None = None) -> Answer:
        """The whole answer (see `stream`): `.text`, `.citations` (the [n] in the text), `.sources`, `.grounded`
        (False: nothing relevant was found and the text says so)."""
        from zhiku.pipeline import collect_answer

        return collect_answer(self.stream(question, history, k, laws, doc_ids, rerank, max_tokens, temperature,
                                          top_p, sample_top_k))

    # ---------- lifetime ----------
    def close(self) -> None:
        """Close the store, when `zhiku.open` made this; one from `Zhiku.open` closes with its Zhiku."""
        if self._owns_zhiku:
            self.zhiku.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<zhiku.KnowledgeBase {self.name!r} in {self.settings.home}>"


def connect(home: PathArg | None = None, settings: Settings | None = None) -> Zhiku:
    """The knowledge bases under `home` (default: ZHIKU_HOME, else ./data), to create, list, open and delete."""
    return Zhiku(home, settings)


def open(name: str | None = None, create: bool = False, home: PathArg | None = None,  # zhiku.open, not builtins
         settings: Settings | None = None) -> KnowledgeBase:
    """One knowledge base (default: settings.default_kb), `create=True` to create it if missing. Closing it
    (`kb.close()` or a `with` block) closes its store."""
    z = Zhiku(home, settings)
    try:
        kb = z.open(name, create=create)
    except BaseException:
        z.close()
        raise
    kb._owns_zhiku = True
    return kb
