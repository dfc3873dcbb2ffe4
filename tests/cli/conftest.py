"""The real `zhiku` command in subprocesses (exit codes, one-line errors, JSON output) and one home with a
real statute ingested, shared by the command groups' tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ZHIKU = [sys.executable, "-m", "zhiku.cli"]


def run(home: Path, *args: str, stdin: str | None = None, check: int | None = 0, timeout: float = 300,
        **env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ZHIKU_HOME=str(home), **env)
    p = subprocess.run(ZHIKU + list(args), input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


@pytest.fixture(scope="package")
def home(tmp_path_factory, law_files):
    h = tmp_path_factory.mktemp("cli_home")
    run(h, "ingest", str(law_files[0]), "--kb", "laws", "--create")
    return h
