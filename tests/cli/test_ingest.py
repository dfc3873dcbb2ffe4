"""`zhiku ingest`: idempotence, partial batches and their exit codes, stdin, locks, size limits."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from tests.cli.conftest import run


def test_reingest_is_idempotent(home, law_files):
    out = json.loads(run(home, "ingest", str(law_files[0]), "--kb", "laws", "--json").stdout)
    assert out["unchanged"] == 1 and out["added"] == 0 and out["chunks"] == 0


def test_unknown_kb_and_missing_path_fail_clearly(home, tmp_path):
    p = run(home, "search", "试用期", "--kb", "nope", check=3)
    assert p.stderr.strip() == "error: knowledge base 'nope' does not exist (see `zhiku kb list`)"
    p = run(home, "ingest", "--kb", "nope", "--text", "一行", check=3)
    assert p.stderr.strip() == "error: knowledge base 'nope' does not exist (create it with `zhiku kb create` or pass --create)"
    p = run(home, "ingest", str(tmp_path / "missing.txt"), "--kb", "laws", check=2)
    assert f"{tmp_path / 'missing.txt'}: no such file or directory" in p.stderr


def test_partial_batch_exit_1(tmp_path):
    good = tmp_path / "ok.txt"
    good.write_text("用人单位应当按时足额支付劳动报酬。", encoding="utf-8")
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"PK\x03\x04 not a real docx")
    p = run(tmp_path / "h", "ingest", str(good), str(bad), "--kb", "k", "--create", "--json", check=1)
    report = json.loads(p.stdout)
    assert report["added"] == 1 and str(bad) in report["files_failed"]
    assert f"error: {bad}:" in p.stderr


def test_stdin_lines(tmp_path):
    p = run(tmp_path, "ingest", "-", "--kb", "t", "--create", "--json", stdin="第一行内容\n\n第二行内容\n")
    assert json.loads(p.stdout)["added"] == 2


def test_locked_store_is_reported(home):
    """A second writer gets a one-line 'locked' error while another process holds the KB."""
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys,time\n"
            "from zhiku.config import Settings\nfrom zhiku.kb import KnowledgeBases\n"
            f"c=KnowledgeBases(Settings(home=r'{home}'))\nkb=c.open('laws')\n"
            "kb.store.delete(['no-such-doc'])\nprint('locked', flush=True)\ntime.sleep(60)\n"
        )],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        p = run(home, "ingest", "--kb", "laws", "--text", "新的一行", check=4)
        assert "knowledge base 'laws'" in p.stderr and "locked by another process" in p.stderr
        # readers are not blocked by a writer
        out = json.loads(run(home, "search", "试用期", "--kb", "laws", "--json").stdout)
        assert out["hits"]
    finally:
        holder.kill()
        holder.wait()


def test_100mb_text_file_rejected_rest_ingested(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(100 * 1024 * 1024)  # sparse: 100 MB on paper, no disk churn
    ok = tmp_path / "ok.txt"
    ok.write_text("劳动者有权依法参加和组织工会。", encoding="utf-8")
    p = run(tmp_path / "h", "ingest", str(big), str(ok), "--kb", "k", "--create", "--json", check=1)
    assert json.loads(p.stdout)["added"] == 1
    line = next(l for l in p.stderr.splitlines() if "big.txt" in l)
    assert line.startswith(f"error: {big}: file is 100.0 MB, over the 50 MB limit")


# ---- one writer at a time: a second one fails fast or waits --------------------------------------------------------

# Holds knowledge base argv[2]'s writer lock, looking like `zhiku ingest big-folder`, until its stdin closes.
HOLDER = (
    "import sys\nfrom zhiku.config import Settings\nfrom zhiku.kb import KnowledgeBases\n"
    "kb = KnowledgeBases(Settings(home=sys.argv[1])).open(sys.argv[2])\n"
    "sys.argv = ['zhiku', 'ingest', 'big-folder']\n"
    "with kb.store.writer():\n    print('held', flush=True)\n    sys.stdin.read()\n"
    "kb.close()\n"
)


@pytest.fixture
def held_kb(tmp_path):
    """A knowledge base 'k' in its own home, and another process holding its writer lock (`.release()` lets go)."""
    home = tmp_path / "h"
    run(home, "ingest", "--kb", "k", "--create", "--text", "劳动者有权依法参加和组织工会。")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(home), "k"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        holder.release = holder.stdin.close
        yield home, holder
    finally:
        holder.kill()
        holder.wait()


def _folder(tmp_path, n=20):
    d = tmp_path / "docs"
    d.mkdir()
    for i in range(n):
        (d / f"f{i}.txt").write_text(f"用人单位应当按时足额支付劳动报酬，第{i}份文件。", encoding="utf-8")
    return d


def test_second_ingest_fails_at_once_naming_the_holder(held_kb, tmp_path):
    home, holder = held_kb
    t = time.monotonic()
    p = run(home, "ingest", str(_folder(tmp_path)), "--kb", "k", check=4)
    assert time.monotonic() - t < 5
    assert p.stderr.splitlines() == [
        f"error: knowledge base 'k' ({home / 'kb' / 'k'}): locked by another process (pid {holder.pid}: zhiku ingest "
        "big-folder); try again when it is done, or pass --wait SECONDS"
    ]
    assert p.stdout == ""  # nothing was chunked or embedded, so there is nothing to report
    p = run(home, "kb", "delete", "k", "--yes", check=4)  # nor can the KB be deleted under the writer
    assert f"(pid {holder.pid}: zhiku ingest big-folder)" in p.stderr
    holder.release()
    holder.wait(30)
    assert json.loads(run(home, "kb", "info", "k", "--json").stdout)["stats"] == {"documents": 1, "chunks": 1}


def test_wait_takes_over_when_the_holder_is_done(held_kb, tmp_path):
    home, holder = held_kb
    threading.Timer(2.0, holder.release).start()
    t = time.monotonic()
    p = run(home, "ingest", str(_folder(tmp_path)), "--kb", "k", "--wait", "60", "--json")
    assert time.monotonic() - t > 2 and json.loads(p.stdout)["added"] == 20


# ---- exit codes: 0 all went in, 1 partly (the summary names what was skipped), 2 nothing ----------------------------


def test_good_file_and_missing_path_is_partial(tmp_path):
    good = tmp_path / "ok.txt"
    good.write_text("用人单位应当按时足额支付劳动报酬。", encoding="utf-8")
    missing = tmp_path / "missing.txt"
    p = run(tmp_path / "h", "ingest", str(good), str(missing), "--kb", "k", "--create", check=1)
    assert p.stdout.startswith("k: 2 files, 1 added,")
    assert p.stdout.rstrip().endswith("; 1 skipped: missing.txt (no such file or directory)")
    assert p.stderr.splitlines() == [f"error: {missing}: no such file or directory"]


def test_jsonl_with_a_malformed_line_is_partial(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text('{"text": "第一条记录"}\n{"text": broken\n{"text": "第三条记录"}\n', encoding="utf-8")
    p = run(tmp_path / "h", "ingest", str(f), "--kb", "k", "--create", "--json", check=1)
    report = json.loads(p.stdout)
    assert report["added"] == 2 and report["skipped_count"] == 1 and report["exit_code"] == 1
    assert report["skipped"][0].startswith(f"{f}: line 2: invalid JSON")
    p = run(tmp_path / "h", "ingest", str(f), "--kb", "k", check=1)  # unchanged, but still not all of it
    assert "; 1 skipped: x.jsonl (line 2: invalid JSON" in p.stdout


def test_unsupported_type_in_a_folder_is_ignored_but_named_one_fails(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "ok.txt").write_text("用人单位应当按时足额支付劳动报酬。", encoding="utf-8")
    (d / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 word 97")
    p = run(tmp_path / "h", "ingest", str(d), "--kb", "k", "--create", check=0)
    assert "skipped" not in p.stdout
    assert p.stderr.splitlines() == ["warning: ignored 1 files of unsupported types: old.doc"]
    p = run(tmp_path / "h", "ingest", str(d / "ok.txt"), str(d / "old.doc"), "--kb", "k", check=1)
    assert "; 1 skipped: old.doc (unsupported file type '.doc'" in p.stdout
    p = run(tmp_path / "h", "ingest", str(d / "old.doc"), str(tmp_path / "missing.md"), "--kb", "k", check=2)
    assert "0 added" in p.stdout and "2 skipped" in p.stdout


def test_corrupt_pdf_is_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntruncated")
    p = run(tmp_path / "h", "ingest", str(bad), "--kb", "k", "--create", "--json", check=2)
    assert p.stderr.splitlines() == [f"error: {bad}: corrupt or unreadable PDF: EOF marker not found; "
                                     "Stream has ended unexpectedly"]
