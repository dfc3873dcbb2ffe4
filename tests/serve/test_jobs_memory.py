"""Finished jobs leave the in-memory map (SQLite keeps them): a long-running server's memory does not grow per upload."""
from __future__ import annotations

import time

from zhiku.serve.jobs import JobManager


def test_finished_jobs_are_not_kept_in_memory(tmp_path):
    jm = JobManager(tmp_path / "jobs.sqlite")
    try:
        ids = [jm.submit("kb", [], ["x"], lambda p, l, progress: {"added": 1}).id for _ in range(20)]
        t0 = time.monotonic()
        while jm._jobs and time.monotonic() - t0 < 10:
            time.sleep(0.02)
        assert not jm._jobs
        for i in ids:
            job = jm.get(i)
            assert job.state == "done" and job.report == {"added": 1} and job.finished_at
        assert {j.id for j in jm.list()} == set(ids)
    finally:
        jm.shutdown()
