"""OCR is optional: without an engine images are refused with instructions; with one, text comes back."""
import os

import pytest

from zhiku.errors import InputError, UnsupportedFileError
from zhiku.ingest.loaders import load_path
from zhiku.ingest.loaders.image import ocr_engine, tidy

FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def png(path, lines):
    from PIL import Image, ImageDraw, ImageFont

    font = next((f for f in FONTS if os.path.exists(f)), None)
    if font is None:
        pytest.skip("no CJK font installed")
    img = Image.new("RGB", (1000, 60 + 50 * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((30, 30 + 50 * i), line, fill="black", font=ImageFont.truetype(font, 28))
    img.save(path)
    return path


def test_ocr_disabled(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(UnsupportedFileError, match="image files need OCR, which is disabled"):
        load_path(path, ocr=False)


@pytest.mark.skipif(ocr_engine() is not None, reason="an OCR engine is installed")
def test_no_ocr_engine_says_how_to_install(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(b"\xff\xd8\xff")
    with pytest.raises(UnsupportedFileError, match=r"not installed: pip install 'zhiku\[ocr\]'"):
        load_path(path)


def test_tidy_joins_cjk_and_restores_article_space():
    assert tidy("第 十 九 条 劳 动 合 同 期 限") == "第十九条 劳动合同期限"
    assert tidy("第十九条规定的情形") == "第十九条规定的情形"
    assert tidy("第十九条第二款") == "第十九条第二款"


@pytest.mark.skipif(ocr_engine() is None, reason="no OCR engine installed (zhiku[ocr] or tesseract)")
def test_ocr_reads_chinese(tmp_path):
    path = png(tmp_path / "scan.png", ["第一条 为了完善劳动合同制度，制定本法。", "第二条 用人单位应当依法建立劳动规章制度。"])
    [doc] = load_path(path)
    assert "劳动合同制度" in doc.text and doc.meta["ocr"] == ocr_engine() and doc.meta["format"] == "png"


@pytest.mark.skipif(ocr_engine() is None, reason="no OCR engine installed")
def test_corrupt_image(tmp_path):
    path = tmp_path / "bad.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(InputError, match="corrupt or unreadable image"):
        load_path(path)
