"""`import zhiku`: the Python API on the real components (a statute from samples/laws, the bundled embedder,
reranker and small model), and an import that stays light."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

import zhiku
from zhiku.errors import InputError, KBNotFoundError
from zhiku.pipeline import DoneEvent, SourcesEvent, TokenEvent

ARTICLE_19 = "中华人民共和国劳动合同法#第十九条"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("api_home")


PASTED = "本公司规定每月十日发放上月工资。\n\n员工加班应当事先书面申请。"


@pytest.fixture(scope="module")
def kb(home, law_files):
    """劳动合同法 and two pasted lines in a fresh home, through zhiku.open."""
    with zhiku.open("laws", create=True, home=home) as kb:
        report = kb.ingest(law_files[0])
        assert report.ok and report.added == 1 and report.chunks > 90, report.to_dict()
        report = kb.ingest_text(PASTED)
        assert report.ok and report.added == 2 and report.chunks == 2, report.to_dict()
        yield kb


def test_ingest_is_idempotent_and_reports_failures(kb, law_files, tmp_path):
    again = kb.ingest([str(law_files[0]), tmp_path / "missing.md"])
    assert again.unchanged == 1 and again.added == 0 and not again.ok
    assert list(again.files_failed) == [str(tmp_path / "missing.md")]
    assert kb.ingest_text(PASTED.splitlines()).unchanged == 2
    info = kb.info()
    assert info.name == "laws" and info.stats["documents"] == 3


def test_search(kb):
    hits = kb.search("试用期最长多久", k=5)
    assert 0 < len(hits) <= 5 and ARTICLE_19 in [h.ref for h in hits]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert kb.search("公司每月几号发放工资", k=1, mode="bm25", rerank=False)[0].text == PASTED.splitlines()[0]
    only = kb.search("试用期", k=5, laws="中华人民共和国劳动合同法", rerank=False)
    assert only and {h.meta["law"] for h in only} == {"中华人民共和国劳动合同法"}
    assert kb.search("试用期", laws=["不存在的法"]) == []
    with pytest.raises(InputError, match="mode must be"):
        kb.search("试用期", mode="fuzzy")
    with pytest.raises(InputError, match="empty query"):
        kb.search("  ")


def test_ask_and_stream_with_the_bundled_model(kb):
    events = list(kb.stream("劳动合同的试用期最长是多久？", max_tokens=48))
    assert isinstance(events[0], SourcesEvent) and events[0].grounded
    assert isinstance(events[-1], DoneEvent) and any(isinstance(e, TokenEvent) for e in events)
    answer = events[-1].answer
    assert answer.text and ARTICLE_19 in [c.hit.ref for c in answer.sources]
    assert 0 < answer.usage["completion_tokens"] <= 48
    refused = kb.ask("红烧肉怎么做才好吃？")
    assert not refused.grounded and refused.citations == []
    assert kb.pipeline is kb.pipeline and kb.pipeline.kb is kb.kb


def test_catalog(home, kb):
    with zhiku.connect(home) as z:
        assert [i.name for i in z.list()] == ["laws"]
        other = z.create("scratch", description="临时")
        assert other.ingest_text("甲乙双方约定租期一年。").added == 1
        assert z.open("scratch") is other and other.search("租期", k=1)[0].text == "甲乙双方约定租期一年。"
        z.delete("scratch")
        assert [i.name for i in z.list()] == ["laws"]
        with pytest.raises(KBNotFoundError):
            z.open("scratch")
    with pytest.raises(KBNotFoundError):
        zhiku.open("nothing-here", home=home)
    assert kb.search("试用期", k=1)  # closing another handle on the same home leaves this one working


def test_default_kb_and_settings(home, kb, monkeypatch):
    monkeypatch.setenv("ZHIKU_HOME", str(home))
    monkeypatch.setenv("ZHIKU_DEFAULT_KB", "laws")
    from zhiku.config import reset_settings

    reset_settings()
    try:
        s = zhiku.get_settings()
        assert isinstance(s, zhiku.Settings) and s.home == home and s.default_kb == "laws"
        with zhiku.open() as kb:
            assert kb.name == "laws" and kb.settings is s and kb.search("试用期", k=1)
        with pytest.raises(sqlite3.ProgrammingError, match="closed database"):  # the with block closed its catalog
            kb.zhiku.list()
    finally:
        reset_settings()


def test_names_and_a_light_import():
    assert set(zhiku.__all__) == set(zhiku._LAZY) - {"open"}  # `from zhiku import *` must not shadow open()
    assert all(getattr(zhiku, name) is not None for name in zhiku.__all__) and callable(zhiku.open)
    assert {"open", "connect", "KnowledgeBase", "Settings", "get_settings"} <= set(dir(zhiku))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        zhiku.nope  # noqa: B018
    heavy = ["jieba", "faiss", "tantivy", "llama_cpp", "numpy", "zhiku.kb", "zhiku.index", "zhiku.generate"]
    code = ("import sys, zhiku; zhiku.Settings; zhiku.get_settings; import json; "
            f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(p.stdout) == []
