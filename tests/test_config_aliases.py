"""Settings names: llm.sample_top_k, and its deprecated old name llm.top_k still read from env and zhiku.toml."""
from __future__ import annotations

import pytest

from zhiku.config import Settings


@pytest.fixture()
def clean_env(monkeypatch):
    for name in ("ZHIKU_LLM__TOP_K", "ZHIKU_LLM__SAMPLE_TOP_K", "ZHIKU_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_sample_top_k_from_env_and_its_old_name(clean_env):
    assert Settings().llm.sample_top_k == 40
    clean_env.setenv("ZHIKU_LLM__TOP_K", "7")
    assert Settings().llm.sample_top_k == 7
    clean_env.setenv("ZHIKU_LLM__SAMPLE_TOP_K", "5")  # the new name wins when both are set
    assert Settings().llm.sample_top_k == 5
    assert "top_k" not in Settings().llm.model_dump()  # `config show` prints the new name only


def test_sample_top_k_from_toml_and_its_old_name(clean_env, tmp_path):
    path = tmp_path / "zhiku.toml"
    clean_env.setenv("ZHIKU_CONFIG", str(path))
    path.write_text("[llm]\ntop_k = 9\n[retrieval]\ntop_k = 2\n", encoding="utf-8")
    s = Settings()
    assert (s.llm.sample_top_k, s.retrieval.top_k) == (9, 2)
    path.write_text("[llm]\nsample_top_k = 3\n", encoding="utf-8")
    assert Settings().llm.sample_top_k == 3
