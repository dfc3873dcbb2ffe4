"""Property-based fuzzing (hypothesis) of every loader and both chunkers.

Promises kept here:
- any bytes under any supported file name (random bytes; text in UTF-8, GBK, Big5, UTF-16/32 with and without a
  BOM; real PDF, DOCX, XLSX, gzip and image files cut short or with bytes overwritten) either load or fail with
  one of zhiku's own errors (a ZhikuError subclass): never another exception;
- text written with a byte-order mark or in UTF-8 comes back as written (newlines normalised);
- every chunk's text comes from its document: the chunkers strip lines and drop blank ones, so with whitespace
  removed a chunk is a substring of the document;
- a statute's articles survive loading and chunking: each 第N条 opens exactly one chunk (an overlong article's
  later parts carry its number with `part_of_article` > 1), in document order.

Sized to run in well under a minute on two cores (max_examples per test below, no deadline).
"""
from __future__ import annotations

import gzip
import io
import itertools
import json
import os
import re
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zhiku.errors import ZhikuError
from zhiku.ingest.chunkers import LegalChunker, RecursiveChunker, chunk_document
from zhiku.ingest.loaders import SUPPORTED_SUFFIXES, load
from zhiku.ingest.statute import article_number
from zhiku.types import Document

from .conftest import write_pdf

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SCALE = float(os.environ.get("ZHIKU_FUZZ_SCALE", "1"))  # e.g. 20 for a long hunt; 1 keeps the file under a minute


def examples(n: int) -> int:
    return max(1, round(n * SCALE))


_names = itertools.count()

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
PUNCT = st.sampled_from(list("，。；：？！、“”《》（）()[]|#-*· \t\u3000\xa0\n\r"))
MARKERS = st.sampled_from(["第一条 ", "第十九条 ", "笫3条 ", "第二章 总则", "# 标题", "## 第一节", "（一）", "附则", "\n\n"])
TEXT = st.lists(st.one_of(CJK, CJK, PUNCT, MARKERS, st.characters(max_codepoint=0x7F), st.characters()),
                max_size=300).map("".join)
IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
ENCODINGS = ["utf-8", "utf-8-sig", "gbk", "gb18030", "big5", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]


def cn(n: int) -> str:
    """1..999 in Chinese numerals as statutes write them: 十九, 一百零五, 二百三十."""
    digits = "零一二三四五六七八九"
    h, t, u = n // 100, n // 10 % 10, n % 10
    out = f"{digits[h]}百" if h else ""
    if t:
        out += ("" if t == 1 and not h else digits[t]) + "十"
    elif h and u:
        out += "零"
    return out + (digits[u] if u else "")


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _file(work: Path, suffix: str, data: bytes) -> Path:
    path = work / f"f{next(_names)}{suffix}"
    path.write_bytes(data)
    return path


# ---- real files of every binary format, to cut and corrupt -------------------------------------------------------

STATUTE_LINES = ["中华人民共和国劳动合同法", "第一章 总则", "第一条 为了完善劳动合同制度，制定本法。",
                 "第二条 用人单位与劳动者建立劳动关系，适用本法。", "第三条 订立劳动合同，应当遵循合法原则。"]


def _docx() -> bytes:
    import docx

    d = docx.Document()
    for line in STATUTE_LINES:
        d.add_paragraph(line)
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(1, 1).text = "项目", "金额"
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _xlsx() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["id", "text"])
    for i, line in enumerate(STATUTE_LINES):
        wb.active.append([i, line])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _png() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (120, 40), "white")
    ImageDraw.Draw(img).text((5, 10), "zhiku 123", fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def templates(work) -> dict[str, bytes]:
    jsonl = "\n".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(STATUTE_LINES))
    return {
        ".pdf": write_pdf(work / "t.pdf", [STATUTE_LINES, []]).read_bytes(),
        ".docx": _docx(),
        ".xlsx": _xlsx(),
        ".jsonl.gz": gzip.compress(jsonl.encode()),
        ".png": _png(),
        ".html": f"<html><head><title>t</title></head><body>{''.join(f'<p>{x}</p>' for x in STATUTE_LINES)}"
                 "</body></html>".encode(),
    }


@st.composite
def mutated(draw, template: bytes) -> bytes:
    """The template cut short, or with a few runs of bytes overwritten by random ones."""
    data = bytearray(template)
    if draw(st.booleans()):
        return bytes(data[: draw(st.integers(0, len(data)))])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        data[at : at + 8] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@st.composite
def encoded_text(draw) -> bytes:
    return draw(TEXT).encode(draw(st.sampled_from(ENCODINGS)), errors="ignore")


def _check_chunks(doc: Document) -> None:
    """Every chunker on a loaded document: no exception, and each chunk's text taken from the document."""
    whole = squeeze(doc.text)
    for mode in ("auto", "legal", "recursive"):
        for chunk in chunk_document(doc, mode, size=120, overlap=20, max_article_chars=150):
            assert chunk.text.strip(), f"{mode}: empty chunk"
            body = chunk.text
            if doc.kind == "law_article" and chunk.meta.get("article"):
                body = body.removeprefix(chunk.meta["article"])  # a record's article field may head its text
            assert squeeze(body) in whole, f"{mode}: chunk text not from the document: {chunk.text!r}"


# ---- any bytes: loaded, or refused with zhiku's own error ---------------------------------------------------------


def _load_or_refuse(path: Path, ocr: bool) -> None:
    try:
        result = load(path, max_bytes=1 << 20, ocr=ocr)
    except ZhikuError as e:
        assert str(e).startswith(f"{path}: ") and "\n" not in str(e), f"not one line naming the file: {e}"
        return
    assert result.documents and result.problems >= len(result.warnings)
    for doc in result.documents:
        _check_chunks(doc)


@settings(FUZZ, max_examples=examples(300))
@given(content=st.one_of(st.binary(max_size=3000), encoded_text()), suffix=st.sampled_from(SUPPORTED_SUFFIXES),
       ocr=st.booleans())
def test_any_bytes_under_any_name_load_or_fail_with_a_zhiku_error(work, content, suffix, ocr):
    _load_or_refuse(_file(work, suffix, content), ocr)


@settings(FUZZ, max_examples=examples(400))
@given(data=st.data(), suffix=st.sampled_from([".pdf", ".docx", ".xlsx", ".jsonl.gz", ".png", ".jpg", ".html"]))
def test_damaged_files_load_or_fail_with_a_zhiku_error(work, templates, data, suffix):
    content = data.draw(mutated(templates[".png" if suffix == ".jpg" else suffix]), label="content")
    _load_or_refuse(_file(work, suffix, content), ocr=suffix in IMAGES)


def _uninflatable(package: bytes, member: str) -> bytes:
    """The package with the deflate stream of `member` broken at its first byte."""
    info = zipfile.ZipFile(io.BytesIO(package)).getinfo(member)
    name_len, extra_len = struct.unpack("<HH", package[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    return package[:start] + b"\xff\xff\xff\xff" + package[start + 4 :]


@pytest.mark.parametrize("suffix, member", [(".docx", "word/document.xml"), (".xlsx", "xl/worksheets/sheet1.xml")])
def test_a_package_part_that_does_not_inflate_is_a_corrupt_file(work, templates, suffix, member):
    """Found by the fuzzer: zlib.error escaped the DOCX and XLSX loaders."""
    path = _file(work, suffix, _uninflatable(templates[suffix], member))
    with pytest.raises(ZhikuError, match=rf"^{re.escape(str(path))}: corrupt or unreadable {suffix[1:].upper()}: "):
        load(path)


@settings(FUZZ, max_examples=examples(150))
@given(text=TEXT, encoding=st.sampled_from(ENCODINGS), suffix=st.sampled_from([".txt", ".md", ".csv", ".html"]))
def test_text_in_any_encoding_loads_or_fails_with_a_zhiku_error(work, text, encoding, suffix):
    data = text.encode(encoding, errors="ignore")
    path = _file(work, suffix, data)
    try:
        result = load(path)
    except ZhikuError:
        return
    for doc in result.documents:
        _check_chunks(doc)
    # UTF-8 decodes strictly and a BOM says exactly what follows, so these come back as written
    if suffix == ".txt" and encoding in ("utf-8", "utf-8-sig", "utf-16", "utf-32") and "\ufeff" not in text:
        assert result.documents[0].text == text.replace("\r\n", "\n").replace("\r", "\n")


# ---- chunk text comes from the document ---------------------------------------------------------------------------


@settings(FUZZ, max_examples=examples(300))
# found by the fuzzer: blank pieces after the carried overlap let a chunk outgrow its size; a `# title` line in
# the middle of loose text was dropped and the text around it glued into one chunk
@example(text="一一\n。", kind="", size=2, overlap=1, max_article_chars=1, title="")
@example(text="一\n# 标题\n一", kind="law", size=10, overlap=0, max_article_chars=10, title="")
@given(text=TEXT, kind=st.sampled_from(["", "law"]), size=st.integers(1, 400), overlap=st.integers(0, 399),
       max_article_chars=st.integers(1, 400), title=st.sampled_from(["", "劳动法"]))
def test_chunks_come_from_the_document(text, kind, size, overlap, max_article_chars, title):
    overlap = overlap % size
    doc = Document(doc_id="d", text=text, source="s", meta={"title": title, "law": title} if title else {}, kind=kind)
    whole = squeeze(text)
    for chunks in (RecursiveChunker(size, overlap).chunk(doc), LegalChunker(max_article_chars, size, overlap).chunk(doc)):
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        for c in chunks:
            assert c.text.strip() and squeeze(c.text) in whole, repr(c.text)
            assert len(c.text) <= max(size, max_article_chars)


# ---- article numbering survives ----------------------------------------------------------------------------------

BODY = st.lists(st.one_of(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5).filter(lambda c: c not in "第笫"),
                          st.sampled_from(list("，。；：、（）“” \u3000\t") + ["（一）", "\n", "\n\n", "本法第三条规定的"])),
                min_size=1, max_size=80).map("".join)


@st.composite
def statute(draw) -> tuple[str, list[str], list[str]]:
    """(text, article numbers, article bodies) of a statute-like text: 第N条 articles in order (Chinese or Arabic
    numerals, 之一 amendments, the 笫 typo), bodies across several lines, chapter and section headings, stray blank
    lines and indentation."""
    lines, numbers, bodies, n = ["中华人民共和国测试法"], [], [], 0
    for _ in range(draw(st.integers(1, 25))):
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["第{}章 {}", "第{}节 {}", "## 第{}章 {}"])).format(
                cn(draw(st.integers(1, 30))), draw(st.sampled_from(["总则", "劳动合同的订立", "附 则"]))))
        n += draw(st.integers(1, 3))
        number = cn(n) if draw(st.booleans()) else str(n)
        suffix = "之一" if draw(st.integers(0, 8)) == 0 else ""
        first = draw(st.sampled_from(["第", "第", "笫"]))
        indent = draw(st.sampled_from(["", "  ", "\u3000\u3000"]))
        gap = draw(st.sampled_from([" ", "  ", "\u3000"]))
        body = draw(BODY).strip() or "内容"
        lines.append(f"{indent}{first}{number}条{suffix}{gap}{body}")
        numbers.append(f"第{number}条{suffix}")
        bodies.append(body)
        lines += [""] * draw(st.integers(0, 2))
    return "\n".join(lines), numbers, bodies


def _statute_file(work: Path, fmt: str, text: str, numbers: list[str], bodies: list[str]) -> Path:
    if fmt == ".jsonl":  # one record per article, as the law corpus comes
        records = [{"law": "中华人民共和国测试法", "article": a, "text": b} for a, b in zip(numbers, bodies)]
        return _file(work, fmt, "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode())
    if fmt == ".pdf":
        lines = text.split("\n")
        return write_pdf(work / f"f{next(_names)}.pdf", [lines[i : i + 40] or ["　"] for i in range(0, len(lines), 40)])
    if fmt == ".html":
        body = "".join(f"<p>{line}</p>" for line in text.split("\n"))
        return _file(work, fmt, f"<html><body>{body}</body></html>".encode())
    if fmt == ".docx":
        import docx

        d = docx.Document()
        for line in text.split("\n"):
            d.add_paragraph(line)
        path = work / f"f{next(_names)}.docx"
        d.save(str(path))
        return path
    return _file(work, fmt, text.encode())


@settings(FUZZ, max_examples=examples(120))
@given(case=statute(), fmt=st.sampled_from([".txt", ".md", ".html", ".docx", ".pdf", ".jsonl"]),
       max_article_chars=st.integers(8, 300))
def test_every_article_opens_exactly_one_chunk_in_order(work, case, fmt, max_article_chars):
    text, numbers, bodies = case
    docs = load(_statute_file(work, fmt, text, numbers, bodies), ocr=False).documents
    chunks = [c for d in docs for c in chunk_document(d, "legal", size=200, overlap=30, max_article_chars=max_article_chars)]
    opening = [c.meta["article"] for c in chunks if c.meta.get("article") and c.meta.get("part_of_article", 1) == 1]
    assert opening == numbers
    for c in chunks:
        if c.meta.get("part_of_article", 1) == 1 and c.meta.get("article"):
            assert article_number(c.text)[0] == c.meta["article"], c.text  # the chunk opens with its marker
    seen = [c.meta["article"] for c in chunks if c.meta.get("article")]
    assert seen == sorted(seen, key=numbers.index), "an article's parts are not together, in order"
