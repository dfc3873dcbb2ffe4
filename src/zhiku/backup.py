"""`zhiku kb export` / `kb import`: one knowledge base as a single .tar.gz that another ZHIKU_HOME can restore.

The archive holds `manifest.json` (format, zhiku version, the KB's catalog entry, counts, each file's sha256) and
the files the engine's Store.snapshot wrote: for the local engine store.sqlite alone, copied with SQLite's online
backup while writers carry on (a document write is all in it or not at all); its keyword and dense indexes are
derived and are rebuilt on import. Import trusts nothing it reads: members must be exactly the manifest's plain
file names (no folders, links or paths), each matching its hash, and the knowledge base is built aside, checked
and only then joins the catalog.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import time
import zlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from zhiku.errors import CorruptStoreError, InputError, KBExistsError
from zhiku.kb import KBInfo, KnowledgeBases

FORMAT = 1
MANIFEST = "manifest.json"
_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")  # a file name, never a path


def zhiku_version() -> str:
    try:
        return version("zhiku")
    except PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_kb(kbs: KnowledgeBases, name: str, file: Path) -> dict:
    """Write knowledge base `name` to `file` (.tar.gz); returns the manifest. `file` appears whole or not at all."""
    file = Path(file)
    if file.exists():
        raise InputError(f"{file}: already exists; remove it or choose another file name")
    if not file.parent.is_dir():
        raise InputError(f"{file}: no such folder {file.parent}")
    info, kb = kbs.get(name), kbs.open(name)
    with tempfile.TemporaryDirectory(prefix=".zhiku-export-", dir=file.parent) as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        counts = kb.store.snapshot(data)
        files = {p.name: _sha256(p) for p in sorted(data.iterdir())}
        manifest = {"format": FORMAT, "zhiku_version": zhiku_version(), "exported_at": time.time(),
                    "kb": {**info.to_dict(), "stats": counts}, "files": files}
        part = Path(tmp) / "archive.tar.gz"
        with tarfile.open(part, "w:gz") as tar:
            body = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
            entry = tarfile.TarInfo(MANIFEST)
            entry.size, entry.mtime = len(body), int(time.time())
            tar.addfile(entry, io.BytesIO(body))
            for fname in files:
                tar.add(data / fname, arcname=fname, recursive=False)
        os.replace(part, file)  # same folder, so an atomic rename
    return manifest


def read_manifest(tar: tarfile.TarFile, where: Path) -> dict:
    """The archive's manifest, after checking every member against it (plain names, regular files, no extras)."""
    members = {m.name: m for m in tar.getmembers()}
    if MANIFEST not in members or not members[MANIFEST].isfile():
        raise InputError(f"{where}: not a zhiku knowledge base archive (no {MANIFEST})")
    try:
        manifest = json.loads(tar.extractfile(members[MANIFEST]).read())
        files, kb = dict(manifest["files"]), dict(manifest["kb"])
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{where}: unreadable {MANIFEST} ({e})") from None
    if manifest.get("format") != FORMAT:
        raise InputError(f"{where}: archive format {manifest.get('format')!r}, this zhiku reads format {FORMAT}")
    for m in members.values():
        if m.name != MANIFEST and (m.name not in files or not _PLAIN.match(m.name) or not m.isfile()):
            raise InputError(f"{where}: unexpected member {m.name!r} (only the plain files its manifest lists)")
    missing = sorted(set(files) - set(members))
    if missing:
        raise InputError(f"{where}: damaged archive, {', '.join(missing)} missing")
    if kb.get("store") not in ("local", "milvus"):
        raise InputError(f"{where}: unknown store engine {kb.get('store')!r}")
    return manifest


def import_kb(kbs: KnowledgeBases, file: Path, name: str | None = None) -> KBInfo:
    """Restore an archive `export_kb` wrote as knowledge base `name` (default: its original name)."""
    file = Path(file)
    if not file.is_file():
        raise InputError(f"{file}: no such file")
    with tempfile.TemporaryDirectory(prefix=".import-", dir=kbs.root) as tmp:
        kb = _unpack(file, Path(tmp), name, kbs)
        info = KBInfo(name=name or kb["name"], store=kb["store"], store_uri="", embedder=kb["embedder"],
                      dim=int(kb["dim"]), description=str(kb.get("description", "")),
                      created_at=float(kb.get("created_at") or time.time()))
        if info.store == "milvus":
            info.store_uri = kbs.milvus_uri()
        try:
            return kbs.restore(info, Path(tmp))
        except CorruptStoreError as e:  # the archive's data is damaged, not this home's storage
            raise InputError(f"{file}: damaged archive: {str(e).replace(tmp + os.sep, '')}") from None


def _unpack(file: Path, dest: Path, name: str | None, kbs: KnowledgeBases) -> dict:
    """Check the archive and extract its files into `dest`; returns the manifest's catalog entry."""
    try:
        with tarfile.open(file, "r:gz") as tar:
            manifest = read_manifest(tar, file)
            target = name or str(manifest["kb"].get("name"))
            if kbs.exists(target):  # before extracting a large archive for nothing
                raise KBExistsError(f"knowledge base '{target}' already exists: import it under another name with "
                                    "--name NEW")
            for fname, digest in manifest["files"].items():
                with tar.extractfile(fname) as src, open(dest / fname, "wb") as dst:
                    while block := src.read(1 << 20):
                        dst.write(block)
                if _sha256(dest / fname) != digest:
                    raise InputError(f"{file}: damaged archive ({fname} does not match its checksum)")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:  # not gzip/tar, truncated, unreadable
        raise InputError(f"{file}: not a readable knowledge base archive ({' '.join(str(e).split())})") from None
    return manifest["kb"]
