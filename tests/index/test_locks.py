"""The locks both engines share: one writer per KB across processes (refused with the holder's pid), idempotent
holding, and many readers or one writer inside a process."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest

from zhiku.errors import LockedError
from zhiku.index.locks import SharedLock, WriterLock, flock_held

HOLDER = "import sys, time; from zhiku.index.locks import WriterLock; l = WriterLock(sys.argv[1], 'kb'); " \
         "l.acquire(); print('held', flush=True); time.sleep(float(sys.argv[2]))"


@contextmanager
def held_elsewhere(path, seconds):
    """Another process holding the lock on `path` for `seconds` (killed on exit)."""
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        yield p
    finally:
        p.kill()
        p.wait()


def test_another_process_is_refused_at_once_with_the_holders_pid(tmp_path):
    path = tmp_path / "LOCK"
    with held_elsewhere(path, 30) as p:
        lock = WriterLock(path, "knowledge base 'x'")
        t = time.monotonic()
        with pytest.raises(LockedError, match=rf"knowledge base 'x': locked by another process \(pid {p.pid}\)"):
            lock.acquire()
        assert time.monotonic() - t < 1 and not lock.held and flock_held(path)
    lock.acquire()  # free once the holder is gone (a crashed holder frees it too: the kernel drops the flock)
    assert lock.held and path.read_text().split()[0] == str(os.getpid())
    lock.release()
    assert not flock_held(path)


def test_a_timeout_waits_for_the_holder(tmp_path):
    path = tmp_path / "LOCK"
    with held_elsewhere(path, 1.0):
        lock = WriterLock(path, "kb")
        t = time.monotonic()
        with lock.hold(timeout=20):
            waited = time.monotonic() - t
            assert lock.held
        assert 0.3 < waited < 15 and not lock.held


def test_threads_share_it_and_one_that_must_not_wait_is_not_queued_behind_one_that_waits(tmp_path):
    path = tmp_path / "LOCK"
    lock = WriterLock(path, "kb")
    with held_elsewhere(path, 2.0):
        waiter = threading.Thread(target=lock.acquire, kwargs={"timeout": 30})
        waiter.start()
        time.sleep(0.3)
        t = time.monotonic()
        with pytest.raises(LockedError):  # e.g. a delete under the engine's lock while an upload job waits
            lock.acquire()
        assert time.monotonic() - t < 0.5
        waiter.join(30)
    assert lock.held
    lock.acquire()  # held by this process: any thread's acquire is a no-op
    lock.release()
    assert not lock.held and not flock_held(path)


def test_hold_releases_only_what_it_took(tmp_path):
    lock = WriterLock(tmp_path / "LOCK", "kb")
    lock.acquire()
    with lock.hold():
        pass
    assert lock.held  # an outer holder (a whole ingest command) keeps it across writes
    lock.release()
    with lock.hold():
        assert lock.held
    assert not lock.held


def test_shared_lock_lets_readers_overlap_and_writers_wait():
    rw, order, errors = SharedLock(), [], []
    both_in = threading.Barrier(3, timeout=5)  # two readers inside at once, and the main thread

    def reader(i):
        try:
            with rw.shared():
                both_in.wait()
                time.sleep(0.1)
                order.append(f"r{i}")
        except Exception as e:  # a barrier timeout: readers did not overlap
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    both_in.wait()
    with rw.exclusive():  # must wait for both readers to leave
        order.append("w")
    for t in threads:
        t.join()
    assert not errors and order[-1] == "w" and sorted(order[:2]) == ["r0", "r1"]
