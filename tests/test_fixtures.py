"""tests/fixtures are faithful extracts of the full data, and corpus-scale tests find that data the one way
tests/conftest.py describes: skipped without ZHIKU_TEST_CORPUS, failed under CI=true when it names no file."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_fixtures_are_extracts_of_the_corpus(law_corpus, fixtures):
    articles = [json.loads(x) for x in (fixtures / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    questions = [json.loads(x) for x in (fixtures / "stard_civil.jsonl").read_text(encoding="utf-8").splitlines()]
    wanted = {a["id"] for a in articles}
    found = {}
    ids = set()
    with gzip.open(law_corpus, "rt", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            ids.add(rec["id"])
            if rec["id"] in wanted:
                found[rec["id"]] = rec
    assert [found.get(a["id"]) for a in articles] == articles  # whole records, unchanged
    assert not [g for q in questions for g in q["gold"] if g not in ids]


def _pytest(node: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "ZHIKU_TEST_CORPUS")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", node],
                          check=False, cwd=REPO, capture_output=True, text=True, timeout=300, env={**base, **env})


@pytest.mark.parametrize("ci", ["", "true"])
def test_corpus_tests_skip_without_the_variable(ci):
    p = _pytest("tests/test_fixtures.py::test_fixtures_are_extracts_of_the_corpus", CI=ci)
    assert p.returncode == 0 and "1 skipped" in p.stdout, p.stdout + p.stderr
    assert "set ZHIKU_TEST_CORPUS to its path" in p.stdout


@pytest.mark.parametrize("ci, code, outcome", [("", 0, "1 skipped"), ("true", 1, "1 error")])
def test_a_variable_naming_no_file_fails_in_ci(tmp_path, ci, code, outcome):
    missing = tmp_path / "articles.jsonl.gz"
    p = _pytest("tests/test_fixtures.py::test_fixtures_are_extracts_of_the_corpus", CI=ci,
                ZHIKU_TEST_CORPUS=str(missing))
    assert p.returncode == code and outcome in p.stdout, p.stdout + p.stderr
    assert f"ZHIKU_TEST_CORPUS={missing}: no such file" in p.stdout
