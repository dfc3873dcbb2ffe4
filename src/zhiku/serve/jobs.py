"""Background ingestion: uploads are saved under ZHIKU_HOME and ingested by one worker thread, with progress.

One worker, because ingest is CPU-bound (the embedder) and the store takes one writer at a time. A file that
fails is reported in the job's report; the other files still go in (Ingestor semantics).
"""
from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from zhiku.errors import InputError, NotFoundError, UnsupportedFileError
from zhiku.ingest.loaders import SUPPORTED_SUFFIXES

log = logging.getLogger("zhiku.serve.jobs")
_UNSAFE = re.compile(r"[^\w.\-()（）《》]+", re.UNICODE)


def safe_filename(name: str) -> str:
    """A client's file name reduced to a harmless basename: no directories, no '..', no control characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = _UNSAFE.sub("_", name).strip("._ ")
    if not name:
        raise InputError("upload has no usable file name")
    return name[-120:]


def check_supported(name: str) -> None:
    if not any(name.lower().endswith(s) for s in SUPPORTED_SUFFIXES):
        raise UnsupportedFileError(
            f"{name}: unsupported file type (supported: {', '.join(sorted(set(SUPPORTED_SUFFIXES)))})"
        )


@dataclass
class Job:
    id: str
    kb: str
    state: str = "queued"  # queued | running | done | failed
    files_total: int = 0
    files_done: int = 0
    chunks: int = 0
    current: str = ""
    report: dict = field(default_factory=dict)
    error: str = ""
    created_at: float = field(default_factory=time.time)
    finished_at: float = 0.0

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["progress"] = round(self.files_done / self.files_total, 3) if self.files_total else 0.0
        return d


class JobManager:
    def __init__(self, upload_root: Path):
        self.upload_root = upload_root
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zhiku-ingest")

    def upload_dir(self, kb: str) -> Path:
        # per KB, stable names: re-uploading a file replaces its documents instead of duplicating them
        d = self.upload_root / kb
        d.mkdir(parents=True, exist_ok=True)
        return d

    def submit(self, kb: str, paths: list[Path], lines: list[str], run: Callable[..., dict]) -> Job:
        """`run(paths, lines, progress)` does the ingest and returns the report dict."""
        job = Job(uuid.uuid4().hex, kb, files_total=len(paths) + (1 if lines else 0))
        with self._lock:
            self._jobs[job.id] = job

        def progress(done: int, total: int, chunks: int, name: str) -> None:
            job.files_done, job.files_total, job.chunks, job.current = done, total, chunks, name

        def work() -> None:
            job.state = "running"
            try:
                job.report = run(paths, lines, progress)
                job.state = "done"
            except Exception as e:  # noqa: BLE001 - reported in the job, the server carries on
                log.exception("ingest job %s failed", job.id)
                job.state, job.error = "failed", str(e) or type(e).__name__
            job.finished_at = time.time()

        self._pool.submit(work)
        return job

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"job '{job_id}' does not exist")
        return job

    def list(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: -j.created_at)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
