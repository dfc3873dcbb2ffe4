"""The query adapter as search sees it: bundled by default for the bundled embedder, off on request, and clear
errors for a missing, foreign or broken adapter file."""
from __future__ import annotations

import numpy as np
import pytest

from zhiku.config import EmbedderSettings
from zhiku.errors import ConfigError
from zhiku.index.embedders import AdaptedEmbedder, QueryAdapter, get_embedder


def test_bundled_adapter_is_on_by_default_and_only_touches_questions():
    e = get_embedder(EmbedderSettings())
    assert isinstance(e, AdaptedEmbedder)
    base = get_embedder(EmbedderSettings(query_adapter="none"))
    assert not isinstance(base, AdaptedEmbedder)
    assert (e.name, e.dim) == (base.name, base.dim)  # same vector space: existing KBs open unchanged
    docs = ["劳动者在试用期间应当得到劳动报酬。", "夫妻双方自愿离婚的，应当签订书面离婚协议。"]
    assert np.array_equal(e.embed_documents(docs), base.embed_documents(docs))
    q, raw = e.embed_query("老板不给发工资怎么办"), base.embed_query("老板不给发工资怎么办")
    assert q.shape == raw.shape and np.linalg.norm(q) == pytest.approx(1.0, abs=1e-5)
    assert float(q @ raw) < 0.99  # it moves the question


def test_bundled_adapter_records_how_it_was_fitted():
    from zhiku.index.embedders.adapter import BUNDLED, BUNDLED_DIR

    a = QueryAdapter.load(BUNDLED_DIR / BUNDLED["use-multilingual-v3"])
    assert a.embedder == "use-multilingual-v3" and a.weight.shape == (512, 512)
    assert a.info["questions"] == 617 and a.info["chunks"] > 58000
    # it knows its training questions, so an evaluation on them can be flagged as in-sample
    assert a.seen(["谁可以成为个体工商户？", "红烧肉怎么做才好吃？"]) == 1


def test_no_bundled_adapter_for_other_embedders():
    from zhiku.index.embedders.adapter import resolve_adapter

    class Other:
        name, dim = "some-other-model", 512

    assert resolve_adapter("auto", Other()) is None


def test_save_load_roundtrip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    w = np.eye(8, dtype=np.float32) + 0.01 * rng.standard_normal((8, 8)).astype(np.float32)
    path = QueryAdapter(w, "m", {"note": "测试"}).save(tmp_path / "a")  # the suffix is added
    assert path.name == "a.npz" and not list(tmp_path.glob("*.tmp*"))
    a = QueryAdapter.load(path)
    assert np.allclose(a.weight, w, atol=1e-3) and a.embedder == "m" and a.info == {"note": "测试"}
    v = rng.standard_normal((3, 8)).astype(np.float32)
    assert np.allclose(np.linalg.norm(a.apply(v), axis=1), 1.0, atol=1e-5)
    with pytest.raises(ConfigError, match="no such file"):
        QueryAdapter.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="junk.npz: not a zhiku adapter"):
        QueryAdapter.load(tmp_path / "junk.npz")
    with pytest.raises(ConfigError, match="fitted for embedder 'm'"):
        get_embedder(EmbedderSettings(query_adapter=str(path)))
