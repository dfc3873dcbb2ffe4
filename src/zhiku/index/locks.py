"""Locks both engines share: one writer per knowledge base across processes, many readers or one writer inside one.
"""
from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from zhiku.errors import LockedError


class WriterLock:
    """An exclusive cross-process lock on a knowledge base: an flock on a file that names the holder (pid and
    command line), so the one who is refused is told who holds it. Idempotent: acquiring a held lock is a no-op,
    and `hold()` releases only what it took, so an outer scope (a whole ingest command) can keep it across many
    writes. Threads of one process share it: each engine serialises its own threads."""

    def __init__(self, path: Path, what: str):
        self.path, self.what, self._fd = Path(path), what, None
        self._taking = threading.Lock()  # two threads taking it at once would open two fds and refuse each other

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float = 0.0) -> None:
        """Take the lock, waiting up to `timeout` seconds (0: fail at once) before LockedError."""
        deadline = time.monotonic() + timeout
        while True:
            # One try at a time, never held while sleeping: a thread that must not wait (a delete under the
            # engine's own lock) is not queued behind one that waits minutes for another process.
            with self._taking:
                if self._fd is not None:
                    return
                fd, holder = self._try()
                if fd is not None:
                    self._fd = fd
                    return
            if time.monotonic() >= deadline:
                raise LockedError(f"{self.what}: locked by another process ({holder}); try again when it is done")
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _try(self) -> tuple[int | None, str]:
        """(fd holding the lock, "") or (None, who holds it)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(os.pread(fd, 512, 0))
            os.close(fd)
            return None, holder
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {_command()}".strip().encode(), 0)
        return fd, ""

    def release(self) -> None:
        with self._taking:
            if self._fd is not None:
                os.close(self._fd)  # closing drops the flock
                self._fd = None

    @contextmanager
    def hold(self, timeout: float = 0.0) -> Iterator[bool]:
        """Hold the lock for a scope; yields whether this scope took it (and so will release it)."""
        taken = not self.held
        self.acquire(timeout)
        try:
            yield taken
        finally:
            if taken:
                self.release()


def _command() -> str:
    """What this process is, for the lock file: `zhiku ingest docs --kb laws`, `zhiku serve`, `myscript.py`."""
    argv = list(sys.argv)
    if not argv or argv[0] in ("", "-c"):
        return ""
    prog = Path(argv[0])  # `python -m zhiku.cli` runs .../zhiku/cli/__main__.py
    if "zhiku" in prog.parts[-3:] or prog.name.startswith("zhiku"):
        name = "zhiku"
    else:
        name = prog.parent.name if prog.name == "__main__.py" else prog.name
    return " ".join([name, *argv[1:]])[:200].replace("\n", " ")


def _holder(content: bytes) -> str:
    """'pid 123: zhiku ingest docs' from a lock file's content ('123 zhiku ingest docs'; older ones hold the pid)."""
    pid, _, command = content.decode(errors="replace").strip().partition(" ")
    return f"pid {pid or '?'}" + (f": {command}" if command else "")


def flock_held(path: Path) -> bool:
    """Does another process hold an flock on `path` (e.g. milvus-lite's own LOCK file)?"""
    if not Path(path).exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


class SharedLock:
    """Many readers or one writer, for in-memory indexes: faiss and tantivy searches are thread-safe and faiss
    releases the GIL, so concurrent questions scan vectors side by side instead of queueing behind one lock
    (served retrieval was capped at one search at a time); mutating an index waits for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._readers)
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
