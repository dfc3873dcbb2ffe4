"""Bytes → text for Chinese files, which arrive as UTF-8, UTF-8 with BOM (Windows Notepad), UTF-16 (Excel
"Unicode text" exports) or GBK/GB18030 (older government sites and Office on Chinese Windows).

Order matters: UTF-8 is strict enough that a successful decode is almost always right; GB18030 is a superset
of GBK and GB2312 but accepts fewer byte sequences than single-byte codecs, so it goes next; charset-normalizer
is the last resort for everything else (Big5, Latin-1…).
"""
from __future__ import annotations

import codecs

from zhiku.errors import InputError

_BOMS = (  # UTF-32 first: its little-endian BOM starts with the UTF-16 one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = {c for c in range(32) if c not in (9, 10, 12, 13)} | {127}


def decode_bytes(data: bytes, where: str) -> str:
    """Decode `data` (named `where` in errors) to text with `\\n` newlines and no BOM."""
    text = _decode(data, where)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode(data: bytes, where: str) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                break  # a BOM followed by garbage: fall through to the binary check
    if b"\x00" in data[:65536]:
        raise InputError(f"{where}: not a text file (binary content)")
    try:
        text = data.decode("utf-8")
        _check_controls(text, where)
        return text
    except UnicodeDecodeError:
        pass
    gb = None
    try:
        gb = data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    if gb is not None and _plausible_gb(gb):
        _check_controls(gb, where)
        return gb
    # Big5 and Shift-JIS are valid GB18030 byte streams too, decoding to nonsense; let the detector judge.
    text = _detect(data)
    if text is None:
        text = gb
    if text is not None:
        _check_controls(text, where)
        return text
    raise InputError(f"{where}: cannot decode text (tried utf-8, utf-16/32 with BOM, gb18030, charset-normalizer)")


def _detect(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
    except Exception:  # a detector failure is just "could not decode"
        return None
    return str(best) if best is not None else None


def _plausible_gb(text: str) -> bool:
    """Real GBK/GB18030 text is overwhelmingly GB2312 characters; misread Big5/Shift-JIS is not (and has kana)."""
    sample = [ch for ch in text[:20000] if ord(ch) > 127]
    odd = 0
    for ch in sample:
        if "\u3040" <= ch <= "\u30ff":
            odd += 1
            continue
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            odd += 1
    return odd <= len(sample) * 0.2


def _check_controls(text: str, where: str) -> None:
    # Binary formats without NUL bytes in their head still decode to streams of control characters.
    sample = text[:65536]
    if sample and sum(1 for ch in sample if ord(ch) in _CONTROL) > len(sample) * 0.02:
        raise InputError(f"{where}: not a text file (binary content)")
