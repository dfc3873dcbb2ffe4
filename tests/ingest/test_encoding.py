import codecs
import random

import pytest

from zhiku.errors import InputError
from zhiku.ingest.encoding import decode_bytes

TEXT = "第十九条 劳动合同期限三个月以上不满一年的，试用期不得超过一个月。\n同一用人单位与同一劳动者只能约定一次试用期。"


def test_utf8_plain_and_with_bom():
    assert decode_bytes(TEXT.encode("utf-8"), "a.txt") == TEXT
    assert decode_bytes(codecs.BOM_UTF8 + TEXT.encode("utf-8"), "a.txt") == TEXT


@pytest.mark.parametrize("codec", ["gbk", "gb18030", "gb2312"])
def test_chinese_legacy_codecs(codec):
    assert decode_bytes(TEXT.encode(codec), "a.txt") == TEXT


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_bom(codec):
    data = TEXT.encode(codec)
    if codec == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    assert decode_bytes(data, "a.txt") == TEXT


def test_newlines_are_normalised():
    assert decode_bytes("一\r\n二\r三\n".encode("gbk"), "a.txt") == "一\n二\n三\n"


def test_binary_is_rejected_with_the_location():
    png_head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with pytest.raises(InputError, match=r"^scan\.txt: not a text file \(binary content\)$"):
        decode_bytes(png_head, "scan.txt")


def test_control_character_soup_is_binary_even_without_nul():
    with pytest.raises(InputError, match="not a text file"):
        decode_bytes(bytes([1, 2, 3, 4, 5, 6, 7, 8, 11, 14, 15, 16]) * 50, "x.txt")


def test_latin1_falls_back_to_charset_normalizer():
    text = "Le président de la République a déclaré que la réforme était nécessaire. " * 3
    # which Latin code page wins is the detector's call; the text must come back, not an error
    assert decode_bytes(text.encode("latin-1"), "x.txt").startswith("Le président de la République a déclaré")


def test_undecodable_bytes():
    rng = random.Random(1)
    data = bytes(rng.randrange(0x80, 0x100) for _ in range(500))
    with pytest.raises(InputError, match=r"^x\.txt: cannot decode text \(tried utf-8, "):
        decode_bytes(data, "x.txt")


@pytest.mark.parametrize(
    "text, codec",
    [("中華民國勞動基準法第一條", "big5"), ("これは日本語のテキストです。文字コードを確認します。" * 3, "shift_jis")],
)
def test_big5_and_shift_jis_are_not_read_as_gb18030(text, codec):
    # both are valid GB18030 byte streams; decoding them as such gives nonsense
    assert decode_bytes(text.encode(codec), "x.txt") == text


def test_traditional_characters_in_gbk():
    text = "這是繁體中文的測試文字，用於檢查編碼判斷是否正確。"
    assert decode_bytes(text.encode("gbk"), "x.txt") == text


def test_empty_bytes_decode_to_empty_text():
    assert decode_bytes(b"", "x.txt") == ""
