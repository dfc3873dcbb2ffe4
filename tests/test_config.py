"""Settings shown to people: every credential masked, found by walking the whole settings model."""
from __future__ import annotations

import json
import re
import tomllib

from pydantic import BaseModel

from zhiku.config import MASK, SECRET, Settings, mask_url_credentials
from zhiku.toml_writer import dumps

SECRET_NAME = re.compile(r"key|token|secret|passw|credential", re.I)


def str_fields(model: type[BaseModel] = Settings, path: tuple[str, ...] = ()):
    """(path, is_secret) of every plain-string field, nested sections included."""
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from str_fields(field.annotation, (*path, name))
        elif field.annotation is str:
            yield (*path, name), SECRET in field.metadata


def secret_laden() -> dict[tuple[str, ...], str]:
    """A value for every string field: a bare secret in the Secret ones, credentials inside a URL in the others.
    Everything secret contains 'LEAK'."""
    return {path: f"sk-LEAK-{i}" if secret else f"http://user{i}:pw-LEAK-{i}@host{i}:80/v1?x=1&api_key=LEAK{i}#f"
            for i, (path, secret) in enumerate(str_fields())}


def nested(values: dict[tuple[str, ...], str]) -> dict:
    out: dict = {}
    for path, value in values.items():
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def test_every_credential_field_is_marked_secret():
    fields = dict(str_fields())
    named = {p for p in fields if SECRET_NAME.search(p[-1])}
    assert named and all(fields[p] for p in named), [p for p in named if not fields[p]]
    assert {".".join(p) for p, secret in fields.items() if secret} >= {
        "embedder.api_key", "store.token", "llm.api_key", "rerank.api_key", "eval.judge_api_key"}


def test_public_dict_masks_every_secret_and_url_credential():
    values = secret_laden()
    public = Settings(**nested(values)).to_public_dict()
    assert "LEAK" not in json.dumps(public) and "LEAK" not in dumps(public)
    for i, (path, value) in enumerate(values.items()):
        node = public
        for part in path:
            node = node[part]
        assert node == (MASK if value.startswith("sk-") else f"http://***@host{i}:80/v1?x=1&api_key=***#f")
    assert Settings().to_public_dict()["llm"]["api_key"] == ""  # unset stays visibly unset


def test_mask_url_credentials_leaves_plain_values():
    for plain in ("qwen2.5-1.5b", "http://127.0.0.1:8000/v1", "/data/zhiku", "user@example.com", "a=b&c"):
        assert mask_url_credentials(plain) == plain
    assert mask_url_credentials({"u": ["https://t0ken@h/x", "h?token=abc&k=1"]}) == \
        {"u": ["https://***@h/x", "h?token=***&k=1"]}


def test_toml_round_trips_the_settings():
    data = Settings(default_kb='法 "引号" \\ \t\n\x7f').to_public_dict()
    data["extra"] = {"empty": {}, "list": [1, 2.5, "x", True, {"a": 1}], "inf": float("inf"), "none": None}
    parsed = tomllib.loads(dumps(data))
    data["extra"].pop("none")  # TOML has no null
    assert parsed == data
