"""The dispatcher: suffixes, size limit, and the errors every format shares."""
import re

import pytest

from zhiku.errors import EmptyInputError, InputError, UnsupportedFileError
from zhiku.ingest.loaders import SUPPORTED_SUFFIXES, LoadResult, load, load_path, suffix_of


def test_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: no such file$"):
        load_path(path)


def test_directory_is_refused(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        load_path(tmp_path)


def test_unsupported_suffix_lists_the_supported_ones(tmp_path):
    path = tmp_path / "slides.xyz"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(UnsupportedFileError) as exc:
        load_path(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: unsupported file type '.xyz' (supported: ")
    assert ".pdf" in msg and ".jsonl.gz" in msg


def test_bare_gz_is_unsupported(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(b"\x1f\x8b")
    with pytest.raises(UnsupportedFileError, match="'.gz'"):
        load_path(path)


def test_suffixes_are_case_insensitive(tmp_path):
    path = tmp_path / "NOTE.TXT"
    path.write_text("hello", encoding="utf-8")
    assert load_path(path)[0].text == "hello"
    assert suffix_of(tmp_path / "A.JSONL.GZ") == ".jsonl.gz"
    assert ".jsonl.gz" in SUPPORTED_SUFFIXES and ".tiff" in SUPPORTED_SUFFIXES


def test_empty_file(tmp_path):
    path = tmp_path / "empty.md"
    path.write_bytes(b"")
    with pytest.raises(EmptyInputError, match=rf"^{re.escape(str(path))}: empty file \(no text\)$"):
        load_path(path)


def test_whitespace_only_file(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text(" \n\t\n\u3000\n", encoding="utf-8")
    with pytest.raises(EmptyInputError, match=r": empty file \(no text\)"):
        load_path(path)


def test_too_large(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("法" * 1000, encoding="utf-8")  # 3,000 bytes
    with pytest.raises(InputError, match=r"^.*big\.txt: file is 3000 bytes, over the 1000 bytes limit"):
        load_path(path, max_bytes=1000)
    assert load_path(path, max_bytes=10_000)


def test_too_large_message_in_megabytes(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * (3 * 1024 * 1024 + 100_000))
    with pytest.raises(InputError) as exc:
        load_path(path, max_bytes=2 * 1024 * 1024)
    assert str(exc.value) == f"{path}: file is 3.1 MB, over the 2 MB limit (ZHIKU_INGEST__MAX_FILE_MB)"


def test_binary_content_with_txt_suffix(tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: not a text file \(binary content\)$"):
        load_path(path)


def test_load_returns_documents_and_warnings(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "一"}\nnot json\n', encoding="utf-8")
    result = load(path)
    assert isinstance(result, LoadResult)
    assert [d.text for d in result.documents] == ["一"]
    assert len(result.warnings) == 1 and result.warnings[0].startswith(f"{path}: line 2: invalid JSON")
