"""Uploaded files: safe names, an all-or-nothing save under ZHIKU_HOME/uploads/<kb>/, and document ids that do not
reveal where ZHIKU_HOME is.

One file per name and KB, so uploading a new version of a file replaces its documents instead of adding them
twice. A *different* file under a name already there (same base name, another folder on the client) is refused
with 409 unless the request says replace=true: the server cannot tell an update from a namesake, so it asks.
"""
from __future__ import annotations

import filecmp
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zhiku.errors import InputError, UnsupportedFileError, ZhikuError
from zhiku.ingest.ingestor import Ingestor
from zhiku.ingest.loaders import SUPPORTED_SUFFIXES

_UNSAFE = re.compile(r"[^\w.\-()（）《》]+", re.UNICODE)
MAX_NAME_BYTES = 200  # NAME_MAX is 255 bytes; room for the temporary name's prefix and suffix
PUBLIC_ROOT = "uploads"  # what document ids and sources of uploads start with instead of the server's path
# A staged file lives for the seconds its request takes; one this old was left by a killed server. The margin
# keeps a sweep at start-up from touching another worker's upload in progress.
STALE_PART_S = 3600


class UploadExistsError(ZhikuError):
    """A different file is already uploaded under this name (HTTP 409; replace=true replaces it)."""

    exit_code = 2
    http_status = 409


def safe_filename(name: str) -> str:
    """A client's file name reduced to a harmless basename: no directories, no '..', no control characters, short
    enough for any file system (the end, with the extension, is kept)."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = _UNSAFE.sub("_", name).strip("._ ")
    name = name.encode()[-MAX_NAME_BYTES:].decode(errors="ignore").lstrip("._ ")
    if not name:
        raise InputError("upload has no usable file name")
    return name


def check_supported(name: str) -> None:
    if not any(name.lower().endswith(s) for s in SUPPORTED_SUFFIXES):
        raise UnsupportedFileError(
            f"{name}: unsupported file type (supported: {', '.join(sorted(set(SUPPORTED_SUFFIXES)))})"
        )


def sweep_stale_parts(root: Path, older_than_s: float = STALE_PART_S) -> int:
    """Remove staged `.part` files a killed server left behind (kill -9 skips `Staging.discard`)."""
    cutoff, n = time.time() - older_than_s, 0
    for part in root.glob("*/.*.part"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                n += 1
        except FileNotFoundError:  # another worker's sweep got there first
            pass
    return n


class Uploads:
    def __init__(self, root: Path):
        self.root = root
        self.swept = sweep_stale_parts(root)

    def folder(self, kb: str) -> Path:
        d = self.root / kb
        d.mkdir(parents=True, exist_ok=True)
        return d

    def release(self, kb: str, doc_id: str, store) -> None:
        """After a document was deleted: remove the uploaded file it came from once no document of that file is
        left, so the folder does not grow for ever and a later file under that name is no namesake."""
        if not doc_id.startswith(PUBLIC_ROOT + "/"):
            return  # not an upload
        source = doc_id.partition("#")[0]  # "#" never survives safe_filename: the rest is a record's id
        path = self.root / kb / source[len(PUBLIC_ROOT) + 1 :]
        if path.parent == self.root / kb and not store.documents(source=source):
            path.unlink(missing_ok=True)

    @contextmanager
    def staging(self, kb: str, replace: bool = False) -> Iterator[Staging]:
        """The files of one request, all or nothing: each is written under a hidden temporary name as it comes
        (one file in memory at a time) and renamed into place only when the block ends without an error, so a
        refused file, a full disk or a dropped connection leaves no file behind, half-written or whole."""
        stage = Staging(self.folder(kb), kb, replace)
        try:
            yield stage
            stage.commit()
        finally:
            stage.discard()


class Staging:
    def __init__(self, folder: Path, kb: str, replace: bool):
        self.folder, self.kb, self.replace = folder, kb, replace
        self.pending: list[tuple[Path, Path]] = []  # (temporary, final)

    def add(self, name: str, data: bytes) -> None:
        """Stage one file (a safe name). A different file already under that name is refused unless `replace`;
        the same content again is no conflict (an unchanged re-upload)."""
        final, temp = self.folder / name, self.folder / f".{uuid.uuid4().hex[:12]}.part"
        self.pending.append((temp, final))
        temp.write_bytes(data)
        if not self.replace and final.is_file() and not filecmp.cmp(temp, final, shallow=False):
            raise UploadExistsError(
                f"knowledge base '{self.kb}' already has a different file named {name}: rename the upload, or send "
                "replace=true to replace it (its documents are re-ingested)"
            )

    @property
    def paths(self) -> list[Path]:
        return [final for _, final in self.pending]

    def commit(self) -> None:
        for temp, final in self.pending:
            os.replace(temp, final)

    def discard(self) -> None:
        for temp, _ in self.pending:
            temp.unlink(missing_ok=True)


def upload_ingestor(kb, settings, folder: Path) -> Ingestor:
    """An Ingestor that stores uploaded files as "uploads/<name>", not under the server's absolute path: users
    see document ids in citations and listings, and they should not learn where ZHIKU_HOME is."""
    return Ingestor(kb, settings, public_root=(folder, PUBLIC_ROOT))
