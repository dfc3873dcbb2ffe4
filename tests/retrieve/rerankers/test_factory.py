import pytest

from zhiku.config import RerankSettings
from zhiku.errors import ConfigError
from zhiku.retrieve.rerankers import get_reranker


def test_default_is_the_bundled_e5():
    assert get_reranker(RerankSettings()).name == "e5"


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"backend": "cross-encoder"}, "needs rerank.model"),
        ({"backend": "cross-encoder", "model": "/nonexistent/bge-reranker"}, "no such directory"),
        ({"backend": "http"}, "needs rerank.base_url"),
    ],
)
def test_misconfiguration_says_what_to_set(kw, message):
    with pytest.raises(ConfigError, match=message):
        get_reranker(RerankSettings(**kw))


def test_unknown_backend():
    s = RerankSettings()
    object.__setattr__(s, "backend", "colbert")  # bypass Literal validation, as a stale config file might
    with pytest.raises(ConfigError, match="unknown rerank backend"):
        get_reranker(s)
