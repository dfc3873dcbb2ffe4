from zhiku.ingest.loaders import load_path

PAGE = """<!DOCTYPE html><html><head><meta charset="gbk"><title>中华人民共和国劳动合同法_中国人大网</title>
<style>p { color: red }</style><script>var x = "第九十九条 不是条文";</script></head>
<body><nav>首页 | 法律法规</nav>
<h1>中华人民共和国劳动合同法</h1>
<div class="content"><p>第一章　总则</p>
<p>第一条　为了完善劳动合同制度，<b>明确</b>劳动合同双方当事人的权利和义务，制定本法。</p>
<p>第二条　中华人民共和国境内的企业适用本法。<br>国家机关依照本法执行。</p>
<p>第三条　订立劳动合同，应当遵循合法原则。</p>
<table><tr><td>附表</td><td>说明</td></tr></table></div></body></html>"""


def test_statute_page_gbk(tmp_path):
    path = tmp_path / "law.html"
    path.write_bytes(PAGE.encode("gbk"))
    [doc] = load_path(path)
    lines = doc.text.split("\n")
    assert "第一条　为了完善劳动合同制度，明确劳动合同双方当事人的权利和义务，制定本法。" in lines
    assert "国家机关依照本法执行。" in lines  # <br> breaks a line
    assert "附表 | 说明" in lines
    assert "首页" not in doc.text and "var x" not in doc.text and "color" not in doc.text
    assert doc.kind == "law" and doc.meta["law"] == "中华人民共和国劳动合同法"  # h1, not the page title
    assert doc.meta["format"] == "html"


def test_ordinary_page_title_from_title_tag(tmp_path):
    path = tmp_path / "a.htm"
    path.write_text("<html><head><title>关于我们</title></head><body><h1>公司</h1><p>简介。</p></body></html>")
    [doc] = load_path(path)
    assert doc.meta["title"] == "关于我们" and doc.text == "公司\n简介。" and doc.meta["format"] == "htm"


def test_title_from_h1_when_no_title_tag(tmp_path):
    path = tmp_path / "a.html"
    path.write_text("<h1>通知</h1><p>明天放假。</p>", encoding="utf-8")
    assert load_path(path)[0].meta["title"] == "通知"
