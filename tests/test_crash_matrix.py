"""The crash matrix (bench/crash_matrix.py, which draws 50 random kill points) at a few fixed ones: kill -9 of the
whole process group of `zhiku ingest`, `zhiku kb delete` or `zhiku serve` (a document delete, an upload job), then
`kb check` clean, the operation re-run to its end, the counts of a clean run, and search finds 劳动合同法 第十九条.

Real processes throughout: the CLI and the server as subprocesses, the Milvus path against a real
`milvus-lite server`. Data: tests/fixtures/articles.jsonl (32 articles, one document each, written 8 to a batch).
A kill point is seconds after the operation proper starts (for the server: after it opened the KB). Whether a
point lands mid-write depends on the machine; every point must pass wherever it lands.
"""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("crash_matrix", REPO / "bench" / "crash_matrix.py")
cm = importlib.util.module_from_spec(_spec)
sys.modules["crash_matrix"] = cm  # dataclasses look their module up by name
_spec.loader.exec_module(cm)

WHOLE = {"documents": 32, "chunks": 32}  # the 32 articles
KEPT = {"documents": 10, "chunks": 10}  # the 10 of 劳动合同法, which the document delete keeps

POINTS = [  # (operation, engine, seconds in, counts once it has run to its end)
    ("ingest", "local", 1.0, WHOLE),  # starting up: nothing written yet
    ("ingest", "local", 4.0, WHOLE),  # mid-ingest on a quiet box (under load: still starting)
    ("delete-document", "local", 0.3, KEPT),
    ("kb-delete", "local", 2.0, WHOLE),
    ("upload", "local", 3.0, WHOLE),
    ("ingest", "milvus", 6.0, WHOLE),
]  # a Milvus KB delete killed at each of its steps: tests/test_kb.py


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    m = cm.Matrix(tmp_path_factory.mktemp("crash"), cm.DATASETS["articles"], {"local": cm.Engine("local")},
                  log=lambda line: None)
    yield m
    shutil.rmtree(m.workdir, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("op, engine, delay, reference", POINTS, ids=[f"{o}-{e}-{d}s" for o, e, d, _ in POINTS])
def test_kill_point(matrix, request, op, engine, delay, reference):
    if engine == "milvus":
        pytest.importorskip("milvus_lite")
        matrix.engines.setdefault("milvus", cm.Engine("milvus", request.getfixturevalue("milvus_uri")))
    point = matrix.point(op, engine, delay, reference)
    assert point.ok, point.problem


def test_the_matrix_catches_damage_wrong_counts_and_a_missing_article(matrix):
    """The matrix can fail: a KB that `kb check` finds damaged, one with other counts than the clean run's, or
    whose search misses the article, is not a pass."""
    home = matrix.home(matrix.engines["local"], "verdict")
    shutil.copytree(matrix.template(matrix.engines["local"]), home.path)
    assert cm.check_kb(home) == WHOLE
    assert cm.verdict(home, WHOLE) == WHOLE
    with pytest.raises(cm.Failure, match="counts .* the clean run has"):
        cm.verdict(home, {"documents": 33, "chunks": 33})
    from zhiku.config import Settings
    from zhiku.kb import KnowledgeBases

    kbs = KnowledgeBases(Settings(home=home.path))
    store = kbs.open(cm.KB).store
    assert store.delete([d.doc_id for d in store.documents() if d.doc_id.endswith("#第十九条")]) == 1
    kbs.close()
    with pytest.raises(cm.Failure, match="misses 中华人民共和国劳动合同法#第十九条"):
        cm.verdict(home, None)
    (home.path / "kb" / cm.KB / "store.sqlite").write_bytes(b"not a database " * 1000)
    with pytest.raises(cm.Failure, match="kb check exited"):
        cm.check_kb(home)
