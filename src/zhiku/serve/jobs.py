"""Background ingestion: uploads (saved by serve/uploads.py) are ingested by one worker thread, with progress.

One worker, because ingest is CPU-bound (the embedder) and the store takes one writer at a time. A file that
fails is reported in the job's report; the other files still go in (Ingestor semantics). Jobs are kept in
SQLite (ZHIKU_HOME/jobs.sqlite), so `GET /api/jobs/{id}` answers after a restart; a job the restart cut off
is marked failed as interrupted, never left "running".
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from zhiku.errors import NotFoundError

log = logging.getLogger("zhiku.serve.jobs")


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
    pid: int = field(default_factory=os.getpid)  # the server process running it

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        del d["pid"]  # bookkeeping, not for clients
        d["progress"] = round(self.files_done / self.files_total, 3) if self.files_total else 0.0
        return d


_FIELDS = ("id", "kb", "state", "files_total", "files_done", "chunks", "current", "report", "error", "created_at",
           "finished_at", "pid")  # fmt: skip
INTERRUPTED = "interrupted: the server stopped before this job finished; upload the files again"
PROGRESS_EVERY = 1.0  # seconds between progress writes to SQLite (memory is always current)


def _alive(pid: int | None) -> bool:
    if not pid or pid == os.getpid():  # our own pid in the file is a previous process's (pid reuse) or ours
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobManager:
    def __init__(self, db_path: Path):
        self._jobs: dict[str, Job] = {}  # this process's jobs, live
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zhiku-ingest")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db: sqlite3.Connection | None = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, kb TEXT, state TEXT, files_total INTEGER,"
            " files_done INTEGER, chunks INTEGER, current TEXT, report TEXT, error TEXT, created_at REAL,"
            " finished_at REAL, pid INTEGER)"
        )
        if "pid" not in {r[1] for r in self._db.execute("PRAGMA table_info(jobs)")}:  # a file from before pids
            self._db.execute("ALTER TABLE jobs ADD COLUMN pid INTEGER")
        # jobs whose process is gone (a restart) will never finish; several workers share this file, so a
        # job of a live sibling worker is left alone
        unfinished = self._db.execute("SELECT id, pid FROM jobs WHERE state IN ('queued', 'running')").fetchall()
        for job_id, pid in unfinished:
            if not _alive(pid):
                self._db.execute("UPDATE jobs SET state='failed', error=?, finished_at=? WHERE id=?",
                                 (INTERRUPTED, time.time(), job_id))  # fmt: skip

    def _query(self, sql: str, args=()) -> list:
        """One statement under the lock; nothing once shut down (a worker may still finish a job then, and
        closing a connection another thread is using crashes the process)."""
        with self._lock:
            return [] if self._db is None else self._db.execute(sql, args).fetchall()

    def _save(self, job: Job) -> None:
        row = [getattr(job, f) for f in _FIELDS]
        row[_FIELDS.index("report")] = json.dumps(job.report, ensure_ascii=False)
        self._query(f"INSERT OR REPLACE INTO jobs VALUES ({','.join('?' * len(_FIELDS))})", row)

    @staticmethod
    def _from_row(row) -> Job:
        d = dict(zip(_FIELDS, row))
        d["report"] = json.loads(d["report"] or "{}")
        return Job(**d)

    def submit(self, kb: str, paths: list[Path], lines: list[str], run: Callable[..., dict]) -> Job:
        """`run(paths, lines, progress)` does the ingest and returns the report dict."""
        job = Job(uuid.uuid4().hex, kb, files_total=len(paths) + (1 if lines else 0))
        with self._lock:
            self._jobs[job.id] = job
        self._save(job)
        saved = [0.0]

        def progress(done: int, total: int, chunks: int, name: str) -> None:
            job.files_done, job.files_total, job.chunks, job.current = done, total, chunks, name
            if time.monotonic() - saved[0] >= PROGRESS_EVERY:
                saved[0] = time.monotonic()
                self._save(job)

        def work() -> None:
            job.state = "running"
            self._save(job)
            try:
                job.report = run(paths, lines, progress)
                job.state = "done"
            except Exception as e:  # noqa: BLE001 - reported in the job, the server carries on
                log.exception("ingest job %s failed", job.id)
                job.state, job.error = "failed", str(e) or type(e).__name__
            job.finished_at = time.time()
            self._save(job)
            # finished and in SQLite: get()/list() read it from there, so the live map only holds unfinished
            # jobs (kept for ever, it grew with every upload of a long-running server)
            with self._lock:
                if self._db is not None:
                    self._jobs.pop(job.id, None)

        self._pool.submit(work)
        return job

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is not None:
            return job
        rows = self._query(f"SELECT {','.join(_FIELDS)} FROM jobs WHERE id=?", (job_id,))
        if not rows:
            raise NotFoundError(f"job '{job_id}' does not exist")
        return self._from_row(rows[0])

    def list(self) -> list[Job]:
        rows = self._query(f"SELECT {','.join(_FIELDS)} FROM jobs ORDER BY created_at DESC")
        return [self._jobs.get(r[0]) or self._from_row(r) for r in rows]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()
