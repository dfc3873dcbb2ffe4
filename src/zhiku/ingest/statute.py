"""What a Chinese statute looks like: article markers, 编/分编/章/节 headings, law titles.

Shared by the loaders (is this file a statute? what is the law called?) and the legal chunker, so both
agree on what counts as an article.
"""
from __future__ import annotations

import re

NUM = "零〇一二三四五六七八九十百千万\\d"
SUB = "一二三四五六七八九十"

# `笫` and `第一百二十八 条` are real typos in official sources; the marker must be followed by whitespace
# (or end the line) so a sentence such as "第三条规定的……" at a line start is not taken for an article.
ARTICLE = re.compile(rf"^[ \t\u3000]*[第笫]\s?([{NUM}]+)\s?条(之[{SUB}]+)?(?=\s|$)")
_ARTICLE_LINES = re.compile(rf"^[ \t\u3000]*(?:#+[ \t]*)?[第笫]\s?[{NUM}]+\s?条(?:之[{SUB}]+)?[ \t\u3000]", re.M)

# Heading kinds in rank order; a heading line is short and carries no sentence punctuation.
HEADING = re.compile(rf"^第[{NUM}]+(分编|编|章|节)(?:\s*\S.*)?$")
GENERIC_HEADINGS = re.compile(r"^(总\s*则|分\s*则|附\s*则)$")
RANK = {"编": 1, "分编": 2, "章": 3, "节": 4}

_TITLE_END = re.compile(
    r"(法|法典|条例|规定|解释|办法|决定|规则|细则|章程|决议|通知|批复|意见|纪要|宪法|公约|条约|协定|准则|守则|答复)$"
)
_TRAILING_PAREN = re.compile(r"[（(][^（）()]{1,20}[）)]$")
_STEM_DATE = re.compile(r"[（(_\-\s]*\d{4}-\d{1,2}-\d{1,2}[）)]?$")


def article_number(line: str) -> tuple[str, int] | None:
    """("第十九条", end of the marker) when the line opens an article; typos normalised."""
    m = ARTICLE.match(line)
    if not m:
        return None
    return f"第{m.group(1)}条{m.group(2) or ''}", m.end()


def looks_like_statute(text: str, min_articles: int = 3) -> bool:
    count = 0
    for _ in _ARTICLE_LINES.finditer(text):
        count += 1
        if count >= min_articles:
            return True
    return False


def heading_kind(line: str) -> str | None:
    """"编", "分编", "章", "节", "" for 总则/附则-style headings, None when the line is not a heading."""
    s = collapse(line)
    if len(s) > 60 or any(p in s for p in "。；，："):
        return None
    m = HEADING.match(s)
    if m:
        return m.group(1)
    return "" if GENERIC_HEADINGS.match(s) else None


def collapse(text: str) -> str:
    """Headings such as `第一章  总则` use double or ideographic spaces; ids and paths want one."""
    return " ".join(text.split())


def title_like(line: str) -> str | None:
    """The line as a law title when it reads like one (short, ends in 法/条例/规定/解释…), else None."""
    s = collapse(line.strip().lstrip("#").strip()).strip("《》")
    if not s or len(s) > 80 or ARTICLE.match(s) or any(p in s for p in "。；，"):
        return None
    core = s
    while _TRAILING_PAREN.search(core):  # 解释（一）, 公司法（2018修正）
        core = _TRAILING_PAREN.sub("", core).strip()
    return s if core and _TITLE_END.search(core) else None


def stem_title(stem: str) -> str:
    """`劳动合同法(2012-12-28)` → `劳动合同法`."""
    return _STEM_DATE.sub("", stem).strip() or stem


def stem_date(stem: str) -> str | None:
    m = re.search(r"(\d{4}-\d{2}-\d{2})[）)]?$", stem)
    return m.group(1) if m else None
