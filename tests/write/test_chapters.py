"""Splitting a novel into chapters, and reading novel files (encodings and bad files)."""
from __future__ import annotations

import time

import pytest

from zhiku.errors import EmptyInputError, InputError, UnsupportedFileError
from zhiku.write.chapters import read_chapters, split_chapters


def titles(text: str) -> list[str]:
    return [c.title for c in split_chapters(text)]


def test_chinese_headings_split_and_the_title_page_is_kept():
    chapters = split_chapters("《星落镇》\n作者：某\n\n第一章 石桥\n她来了。\n\n第二章\n他走了。\n第10章：尾巴\n完。")
    assert [(c.title, c.text) for c in chapters] == [
        ("《星落镇》", "《星落镇》\n作者：某"), ("第一章 石桥", "她来了。"), ("第二章", "他走了。"), ("第10章：尾巴", "完。")]


def test_other_heading_styles():
    assert titles("楔子\n起。\n第一回 风雪山神庙\n甲。\n第二回　林教头\n乙。") == ["楔子", "第一回 风雪山神庙", "第二回 林教头"]
    assert titles("Chapter 1\nIt began.\nCHAPTER II The Storm\nIt rained.") == ["Chapter 1", "CHAPTER II The Storm"]
    assert titles("# 第一章 开端\n甲。\n## 第二章 发展\n乙。\n尾声\n丙。") == ["第一章 开端", "第二章 发展", "尾声"]
    assert titles("第一卷 北境\n第一章 雪\n甲。") == ["第一卷 北境", "第一章 雪"]


def test_prose_that_starts_like_a_heading_is_not_one():
    text = "第一章 开端\n她想起第三章里写过的话。\n第二章写完的时候，天已经亮了。\n" + "第三章" + "很长" * 30 + "\n"
    assert titles(text) == ["第一章 开端"]


def test_text_without_headings_is_one_chapter():
    assert [(c.title, c.text) for c in split_chapters("  她来了。\n他走了。  ", "草稿")] == [("草稿", "她来了。\n他走了。")]
    assert split_chapters(" \n ") == []


def test_gbk_and_utf16_novels_are_decoded(tmp_path):
    text = "第一章 石桥\n林秋站在星落镇的石桥上。\n第二章 铁匠\n周大山打铁。"
    for enc in ("gbk", "gb18030", "utf-16", "utf-8-sig"):
        f = tmp_path / f"{enc}.txt"
        f.write_bytes(text.encode(enc))
        assert [c.text for c in read_chapters(f)] == ["林秋站在星落镇的石桥上。", "周大山打铁。"], enc


def test_docx_and_markdown(tmp_path):
    import docx

    d = docx.Document()
    for line in ("第一章 石桥", "林秋站在石桥上。", "第二章 铁匠", "周大山打铁。"):
        d.add_paragraph(line)
    d.save(tmp_path / "n.docx")
    assert [c.title for c in read_chapters(tmp_path / "n.docx")] == ["第一章 石桥", "第二章 铁匠"]
    (tmp_path / "n.md").write_text("# 第一章 石桥\n\n林秋。\n", encoding="utf-8")
    assert [(c.title, c.text) for c in read_chapters(tmp_path / "n.md")] == [("第一章 石桥", "林秋。")]


def test_heading_less_file_is_one_chapter_named_after_the_file(tmp_path):
    f = tmp_path / "随笔.txt"
    f.write_text("今天下雪了。\n我去了山里。", encoding="utf-8")
    assert [(c.title, c.text) for c in read_chapters(f)] == [("随笔", "今天下雪了。\n我去了山里。")]


@pytest.mark.parametrize("name, content, error, message", [
    ("empty.txt", b"", EmptyInputError, "empty file"),
    ("blank.txt", "  \n\u3000\n".encode(), EmptyInputError, "empty file"),
    ("binary.txt", bytes(range(256)) * 40, InputError, "not a text file (binary content)"),
    ("novel.pdf", b"%PDF-1.4", UnsupportedFileError, "unsupported file type '.pdf' for a manuscript"),
    ("novel.docx", b"not a zip", InputError, "corrupt or unreadable DOCX"),
])  # fmt: skip
def test_bad_files_are_one_clear_error(tmp_path, name, content, error, message):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(error) as e:
        read_chapters(f)
    assert str(e.value).startswith(str(f)) and message in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_chapters(tmp_path / "nope.txt")


def big_novel(path, mb: int = 20) -> tuple[int, str]:
    """A GBK novel of `mb` MB: chapters of ~27 KB, so ~750 headings to find."""
    para = "林秋走过星落镇的石桥，风吹起她的衣角，远处传来铁匠铺叮叮当当的声音。\n" * 400
    chapters, size, n = [], 0, 0
    while size < mb * 1_000_000:
        n += 1
        chapters.append(f"第{n}章 风起\n{para}")
        size += len(chapters[-1]) * 2
    path.write_bytes("".join(chapters).encode("gbk"))
    return n, para.strip()


def test_a_20mb_novel_splits_in_linear_time(tmp_path):
    n, para = big_novel(tmp_path / "big.txt")
    t = time.perf_counter()
    chapters = read_chapters(tmp_path / "big.txt")
    took = time.perf_counter() - t
    assert len(chapters) == n and chapters[-1].title == f"第{n}章 风起" and chapters[-1].text == para
    assert took < 30, f"{took:.1f} s"  # ~2 s on a busy 2-core box: decoding dominates, the split is one regex pass
