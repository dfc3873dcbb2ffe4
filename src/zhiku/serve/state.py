"""Everything the routes share, built once per app: catalog, LLM, pipelines per KB, gate, jobs, sessions, keys."""
from __future__ import annotations

import threading

import anyio

from zhiku.config import Settings
from zhiku.generate import LLM, get_llm
from zhiku.kb import KnowledgeBases
from zhiku.pipeline import RagPipeline
from zhiku.serve.auth import KeyStore
from zhiku.serve.generation import GenerationGate
from zhiku.serve.jobs import JobManager
from zhiku.serve.metrics import Metrics
from zhiku.serve.sessions import SessionStore
from zhiku.serve.uploads import Uploads


class AppState:
    def __init__(self, settings: Settings):
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.kbs = KnowledgeBases(settings)
        self.metrics = Metrics()
        srv = settings.server
        # one llama.cpp context generates one answer at a time; a remote server batches
        slots = 1 if settings.llm.backend == "llama-cpp" else srv.remote_concurrency
        self.gate = GenerationGate(slots, srv.max_queue, srv.request_timeout, self.metrics, srv.drain_seconds,
                                   srv.key_concurrency, srv.retrieval_threads, srv.retrieval_wait)  # fmt: skip
        self.jobs = JobManager(settings.home / "jobs.sqlite")
        self.uploads = Uploads(settings.uploads_root)
        self.sessions = SessionStore(settings.home)
        self.keys = KeyStore(settings.home)
        # decided once at start-up: a server started with keys never silently opens up when the last is revoked
        self.auth_enabled = srv.auth == "auto" and self.keys.has_keys()
        self._llm: LLM | None = None
        self._pipes: dict[str, RagPipeline] = {}
        self._lock = threading.Lock()
        self.ready = False

    @property
    def llm(self) -> LLM:
        with self._lock:
            if self._llm is None:
                llm_settings = self.settings.llm.model_copy(update={"shared_cpu": True})
                self._llm = get_llm(llm_settings, self.settings.models_dir)
            return self._llm

    def warm_up(self) -> None:
        """Load the model before the first question (blocking: run in a thread)."""
        load = getattr(self.llm, "load", None)
        if load is not None:
            load()
        self.ready = True

    def pipeline(self, kb: str) -> RagPipeline:
        """The shared pipeline of a KB (blocking: opens the store on first use)."""
        with self._lock:
            pipe = self._pipes.get(kb)
        if pipe is None:
            pipe = RagPipeline(self.kbs.open(kb), self.llm, self.settings)
            with self._lock:
                pipe = self._pipes.setdefault(kb, pipe)
        return pipe

    async def apipeline(self, kb: str) -> RagPipeline:
        """`pipeline` for a route: no worker-thread hop once the KB is open (every chat request asks)."""
        pipe = self._pipes.get(kb)
        return pipe if pipe is not None else await anyio.to_thread.run_sync(self.pipeline, kb)

    def forget(self, kb: str) -> None:
        with self._lock:
            self._pipes.pop(kb, None)

    def close(self) -> None:
        self.jobs.shutdown()
        self.kbs.close()
        self.sessions.close()
        self.keys.close()
