"""The Sampling builder: configured defaults, then whatever a request gave."""
from __future__ import annotations

from zhiku.config import LLMSettings
from zhiku.generate.base import Sampling


def test_sampling_from_settings_takes_the_configured_values():
    llm = LLMSettings(max_tokens=100, temperature=0.3, top_p=0.7, sample_top_k=12)
    assert Sampling.from_settings(llm) == Sampling(max_tokens=100, temperature=0.3, top_p=0.7, top_k=12)


def test_request_values_override_and_none_keeps_the_default():
    base = Sampling.from_settings(LLMSettings(max_tokens=100, temperature=0.3, top_p=0.7, sample_top_k=12))
    got = base.with_overrides(max_tokens=8, temperature=None, top_p=None, top_k=1)
    assert got == Sampling(max_tokens=8, temperature=0.3, top_p=0.7, top_k=1)
    assert base.with_overrides() == base and base.max_tokens == 100  # a copy: the defaults stay as they were
    # 0 is a value, not "left out": temperature 0 is greedy, top-k 0 switches top-k off
    assert base.with_overrides(temperature=0.0, top_k=0) == Sampling(max_tokens=100, temperature=0.0, top_p=0.7, top_k=0)


def test_repetition_penalty_is_a_request_value_like_the_others():
    base = Sampling.from_settings(LLMSettings())
    assert base.repetition_penalty == 1.0  # off unless asked: answers stay as they were
    assert base.with_overrides(repetition_penalty=1.3).repetition_penalty == 1.3
    assert base.with_overrides(repetition_penalty=None) == base


def test_json_values_finds_json_inside_words_and_fences():
    from zhiku.generate.base import json_values

    reply = '好的，结果如下：\n```json\n{"items": [{"name": "林秋"}]}\n```'
    assert list(json_values(reply)) == [{"items": [{"name": "林秋"}]}, [{"name": "林秋"}]]
    assert list(json_values('[1, 2]')) == [[1, 2]]
    assert list(json_values("不是JSON {name: 林秋")) == []
