"""`zhiku kb`."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
from pathlib import Path

import pytest

from tests.cli.conftest import run
from zhiku.index.locks import WriterLock


def test_kb_lifecycle(tmp_path):
    run(tmp_path, "kb", "create", "x", "-d", "demo")
    listed = json.loads(run(tmp_path, "kb", "list", "--json").stdout)
    assert [k["name"] for k in listed] == ["x"] and listed[0]["stats"]["chunks"] == 0
    p = run(tmp_path, "kb", "create", "x", check=2)
    assert p.stderr.strip() == "error: knowledge base 'x' already exists"
    p = run(tmp_path, "kb", "delete", "x", check=2)  # no terminal, no --yes
    assert "without --yes" in p.stderr
    run(tmp_path, "kb", "delete", "x", "--yes")
    assert json.loads(run(tmp_path, "kb", "list", "--json").stdout) == []


# ---- damaged files, kb check, export / import (issue 13) ----------------------------------------------------------


def home_copy(home: Path, tmp_path: Path) -> Path:
    """A private copy of the shared home (one statute in 'laws') to damage."""
    return Path(shutil.copytree(home, tmp_path / "home"))


def one_error_line(p, *names: str) -> str:
    """The command failed with one error line on stderr (after any log lines), no traceback, naming `names`."""
    lines = p.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == lines[-1:] and "Traceback" not in p.stderr, p.stderr
    for name in names:
        assert name in errors[0], errors[0]
    return errors[0]


def search_hits(h: Path) -> list[dict]:
    return json.loads(run(h, "search", "试用期最长多久", "--kb", "laws", "--mode", "bm25", "--no-rerank",
                          "--json").stdout)["hits"]


def check(h: Path, *args: str, code: int = 0) -> dict:
    return json.loads(run(h, "kb", "check", "laws", "--json", *args, check=code).stdout)


def garbage(path: Path, size: int = 4096) -> None:
    path.write_bytes(os.urandom(size))


def damage_index_page(path: Path) -> None:
    """Damage a page of an index no open or search reads (only SQLite's integrity check notices)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'documents_source'").fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with open(path, "r+b") as f:
        f.seek((page - 1) * size)
        f.write(os.urandom(size))


@pytest.mark.parametrize("damage, code, named", [
    ("catalog.sqlite", 7, ["catalog.sqlite", "damaged SQLite database", "zhiku kb import"]),
    ("kb/laws/store.sqlite", 7, ["kb/laws/store.sqlite", "damaged SQLite database", "zhiku kb import"]),
    ("ZHIKU_HOME is a file", 2, ["is not a usable directory", "point ZHIKU_HOME (or --home) at a directory"]),
])
def test_damaged_files_are_one_line_not_a_traceback(home, tmp_path, damage, code, named):
    h = home_copy(home, tmp_path)
    if damage == "ZHIKU_HOME is a file":
        shutil.rmtree(h)
        h.write_text("not a folder")
    else:
        garbage(h / damage)
    commands = [["kb", "list"], ["kb", "info", "laws"], ["kb", "check", "laws"], ["search", "试用期", "--kb", "laws"],
                ["kb", "export", "laws", str(tmp_path / "x.tar.gz")]]
    if damage != "kb/laws/store.sqlite":  # the server opens a knowledge base only when asked: it would start
        commands.append(["serve", "--port", "1"])
    if damage == "ZHIKU_HOME is a file":
        commands.append(["keys", "list"])
    for args in commands:
        one_error_line(run(h, *args, check=code, timeout=120), str(h), *named)
    assert not (tmp_path / "x.tar.gz").exists()


def test_a_knowledge_base_with_a_damaged_store_can_still_be_deleted(home, tmp_path):
    h = home_copy(home, tmp_path)
    garbage(h / "kb" / "laws" / "store.sqlite")
    run(h, "kb", "delete", "laws", "--yes")
    assert json.loads(run(h, "kb", "list", "--json").stdout) == [] and not (h / "kb" / "laws").exists()


@pytest.mark.parametrize("damage", ["dense.faiss damaged", "tantivy meta.json damaged", "tantivy folder deleted"])
def test_damaged_derived_indexes_rebuild_by_themselves(home, tmp_path, damage):
    h = home_copy(home, tmp_path)
    want = search_hits(h)
    kb = h / "kb" / "laws"
    if damage == "dense.faiss damaged":
        garbage(kb / "dense.faiss")
    elif damage == "tantivy meta.json damaged":
        (kb / "tantivy" / "meta.json").write_text("{")
    else:
        shutil.rmtree(kb / "tantivy")
    p = run(h, "search", "试用期最长多久", "--kb", "laws", "--mode", "bm25", "--no-rerank", "--json")
    assert json.loads(p.stdout)["hits"] == want
    assert "rebuilt from" in p.stderr  # the log line saying so
    report = check(h)
    assert report["ok"] and report["problems"] == []  # the repair was saved: nothing to do on the next open
    assert len({report["counts"][k] for k in ("chunks", "keyword", "dense")}) == 1


def test_kb_check_reports_repairs_and_what_it_cannot_mend(home, tmp_path):
    h = home_copy(home, tmp_path)
    clean = check(h)
    assert clean["ok"] and clean["engine"] == "local" and clean["counts"]["documents"] == 1
    assert set(clean["generations"].values()) == {clean["generations"]["store.sqlite"]}
    p = run(h, "kb", "check", "laws")
    assert p.stdout.splitlines()[-1] == "ok" and "keyword" in p.stdout

    # a writer (a running server) holds the lock: the damaged keyword index is searched from memory, not repaired
    kb = h / "kb" / "laws"
    (kb / "tantivy" / "meta.json").write_text("{")
    holder = WriterLock(kb / "LOCK", "test")
    holder.acquire()
    try:
        report = check(h, code=7)
        assert not report["ok"] and report["problems"][0]["what"].startswith("keyword index: tantivy/ is unreadable")
        assert "--repair" in report["problems"][0]["fix"]
        assert "PROBLEM: keyword index" in run(h, "kb", "check", "laws", check=7).stdout
        one_error_line(run(h, "kb", "check", "laws", "--repair", check=4), "locked by another process")
    finally:
        holder.release()
    p = run(h, "kb", "check", "laws", "--repair")
    assert "repaired: keyword index: tantivy/ is unreadable" in p.stdout and p.stdout.splitlines()[-1] == "ok"

    damage_index_page(kb / "store.sqlite")  # SQLite damage: found, not mendable
    report = check(h, "--repair", code=7)
    assert "fails SQLite's integrity check" in report["problems"][0]["what"]
    assert not report["problems"][0]["repaired"] and "zhiku kb import" in report["problems"][0]["fix"]


def test_export_import_round_trip_to_another_home(home, tmp_path, law_files):
    h = home_copy(home, tmp_path)
    archive = tmp_path / "laws.tar.gz"
    holder = WriterLock(h / "kb" / "laws" / "LOCK", "a running server")
    holder.acquire()  # a server holding the write lock does not stop a backup
    try:
        manifest = json.loads(run(h, "kb", "export", "laws", str(archive), "--json").stdout)
    finally:
        holder.release()
    assert manifest["kb"]["name"] == "laws" and manifest["kb"]["embedder"] == "use-multilingual-v3"
    assert manifest["kb"]["stats"] == {"documents": 1, "chunks": check(h)["counts"]["chunks"]}
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["manifest.json", "store.sqlite"]
    one_error_line(run(h, "kb", "export", "laws", str(archive), check=2), str(archive), "already exists")

    other = tmp_path / "other"  # another machine: a fresh home
    p = run(other, "kb", "import", str(archive))
    assert p.stdout.startswith("imported knowledge base 'laws' (1 documents, ")
    report = check(other)
    assert report["ok"] and report["counts"] == check(h)["counts"]
    assert search_hits(other) == search_hits(h)
    one_error_line(run(other, "kb", "import", str(archive), check=2), "'laws' already exists", "--name NEW")
    info = json.loads(run(other, "kb", "import", str(archive), "--name", "laws2", "--json").stdout)
    assert info["name"] == "laws2" and info["stats"] == {"documents": 1, "chunks": report["counts"]["chunks"]}
    ingest = run(other, "ingest", str(law_files[0]), "--kb", "laws2")
    assert "1 unchanged" in ingest.stdout + ingest.stderr  # the imported hashes make re-ingest a no-op


def tar_with(path: Path, members: dict[str, bytes], manifest: dict | None = None, link: str = "") -> Path:
    """An archive with these members (and a manifest listing them with their hashes unless one is given)."""
    files = {n: hashlib.sha256(b).hexdigest() for n, b in members.items()}
    manifest = manifest or {"format": 1, "kb": {"name": "evil", "store": "local", "embedder": "use-multilingual-v3",
                                                "dim": 512}, "files": files}
    with tarfile.open(path, "w:gz") as tar:
        for name, body in {"manifest.json": json.dumps(manifest).encode(), **members}.items():
            entry = tarfile.TarInfo(name)
            entry.size = len(body)
            tar.addfile(entry, io.BytesIO(body))
        if link:
            entry = tarfile.TarInfo(link)
            entry.type, entry.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(entry)
    return path


@pytest.mark.parametrize("case, message", [
    ("path traversal", "unexpected member '../escaped'"),
    ("absolute path", "unexpected member '/tmp/zhiku-escaped'"),
    ("symlink", "unexpected member 'store.sqlite'"),
    ("member not in the manifest", "unexpected member 'extra'"),
    ("checksum mismatch", "store.sqlite does not match its checksum"),
    ("not an archive", "not a readable knowledge base archive"),
    ("truncated", "not a readable knowledge base archive"),
    ("not a zhiku store", "damaged archive: store.sqlite: damaged SQLite database (file is not a database)"),
])
def test_import_refuses_bad_archives_and_leaves_nothing(home, tmp_path, case, message):
    archive = tmp_path / "in.tar.gz"
    good = tmp_path / "good.tar.gz"
    run(home, "kb", "export", "laws", str(good))
    store = tarfile.open(good).extractfile("store.sqlite").read()
    if case == "path traversal":
        tar_with(archive, {"store.sqlite": store, "../escaped": b"x"})
    elif case == "absolute path":
        tar_with(archive, {"store.sqlite": store, "/tmp/zhiku-escaped": b"x"})
    elif case == "symlink":
        tar_with(archive, {}, {"format": 1, "kb": {"name": "x", "store": "local"}, "files": {"store.sqlite": "0"}},
                 link="store.sqlite")
    elif case == "member not in the manifest":
        tar_with(archive, {"store.sqlite": store, "extra": b"x"},
                 {"format": 1, "kb": {"name": "x", "store": "local"}, "files": {"store.sqlite": "0"}})
    elif case == "checksum mismatch":
        tar_with(archive, {"store.sqlite": store},
                 {"format": 1, "kb": {"name": "x", "store": "local"}, "files": {"store.sqlite": "0" * 64}})
    elif case == "not an archive":
        garbage(archive)
    elif case == "truncated":
        archive.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    else:
        tar_with(archive, {"store.sqlite": os.urandom(8192)})
    h = tmp_path / "h"
    p = run(h, "kb", "import", str(archive), check=2)
    one_error_line(p, message)
    assert json.loads(run(h, "kb", "list", "--json").stdout) == []
    assert [p.name for p in (h / "kb").iterdir()] == []  # nothing half-written
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/zhiku-escaped").exists()
