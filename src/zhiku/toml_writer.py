"""A small TOML writer for plain data (what `model_dump(mode="json")` gives): tomllib only reads.

Scalars of a table come before its sub-tables; lists are inline arrays (dicts in them inline tables). TOML has
no null, so None values are left out of tables.
"""
from __future__ import annotations

import math
import re

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# TOML basic strings: quote, backslash and control characters (tab aside, escaped anyway) must be escaped
_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\b"): "\\b", ord("\t"): "\\t", ord("\n"): "\\n",
            ord("\f"): "\\f", ord("\r"): "\\r"}
_ESCAPES |= {c: f"\\u{c:04x}" for c in [*range(0x20), 0x7F] if c not in _ESCAPES}


def dumps(data: dict) -> str:
    lines: list[str] = []
    _table(data, (), lines)
    return "\n".join(lines) + "\n"


def _table(data: dict, path: tuple[str, ...], lines: list[str]) -> None:
    values = [(k, v) for k, v in data.items() if v is not None and not isinstance(v, dict)]
    tables = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    if path and (values or not tables):  # a header for its keys, or to keep an empty table
        if lines:
            lines.append("")
        lines.append("[" + ".".join(_key(k) for k in path) + "]")
    lines += [f"{_key(k)} = {_value(v)}" for k, v in values]
    for k, v in tables:
        _table(v, (*path, k), lines)


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(s: str) -> str:
    return '"' + s.translate(_ESCAPES) + '"'


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items() if x is not None) + "}"
    raise TypeError(f"no TOML form for {type(v).__name__} {v!r}")
