"""Where `zhiku serve` may bind: loopback only until an API key exists, and several workers only on a shared store."""
from __future__ import annotations

import pytest

from zhiku.config import ServerSettings, Settings, StoreSettings
from zhiku.errors import InputError
from zhiku.serve.auth import KeyStore
from zhiku.serve.launch import Bind, bind


def test_without_keys_only_loopback(tmp_path):
    s = Settings(home=tmp_path, server=ServerSettings(host="0.0.0.0", port=8123))
    where = bind(s)
    assert (where.host, where.port) == ("127.0.0.1", 8123) and "instead of 0.0.0.0" in where.notice
    where = bind(s, "localhost", 9000)
    assert (where.host, where.port) == ("127.0.0.1", 9000) and "without authentication" in where.notice


def test_keys_allow_any_host_unless_auth_is_off(tmp_path):
    keys = KeyStore(tmp_path)
    keys.create("admin")
    keys.close()
    assert bind(Settings(home=tmp_path), "0.0.0.0", 8000) == Bind("0.0.0.0", 8000)
    off = bind(Settings(home=tmp_path, server=ServerSettings(auth="off")), "0.0.0.0", 8000)
    assert off.host == "127.0.0.1" and off.notice


def test_workers_need_a_shared_store(tmp_path):
    with pytest.raises(InputError, match="--workers > 1"):
        bind(Settings(home=tmp_path / "h"), workers=2)
    assert not (tmp_path / "h").exists()  # refused before anything is written
    milvus = Settings(home=tmp_path / "h", store=StoreSettings(backend="milvus", uri="http://127.0.0.1:19530"))
    assert bind(milvus, workers=2).host == "127.0.0.1"
