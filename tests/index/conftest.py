"""Fixtures for the store contract: both engines, real law articles (tests/fixtures), seeded unit vectors.

`make_store` opens a store of the engine under test; calling it again with the same name opens a second
object on the same location (path or Milvus uri + registry), which is how reopen and crash tests look.
The Milvus engine runs against the session's real `milvus-lite server` (`milvus_uri`, tests/conftest.py).
"""
from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from zhiku.index.base import DocWrite
from zhiku.types import Chunk, Document

DIM = 16
LAWS = {  # 10 articles each: 劳动合同法 第十七–二十六条 (第十九条 answers 试用期最长多久), 劳动法 总则, a shipping rule
    "中华人民共和国劳动合同法": [f"第{n}条" for n in "十七 十八 十九 二十 二十一 二十二 二十三 二十四 二十五 二十六".split()],
    "中华人民共和国劳动法": [f"第{n}条" for n in "一 二 三 四 五 六 七 八 九 十".split()],
    "上海航运交易所管理规定": [f"第{n}条" for n in "一 二 三 四 五 六 七 八 九 十".split()],
}
SHORT = {"中华人民共和国劳动合同法": "ldht", "中华人民共和国劳动法": "ldf", "上海航运交易所管理规定": "hy"}


# ---- data ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def records(fixtures) -> list[dict]:
    want = {f"{law}#{a}" for law, arts in LAWS.items() for a in arts}
    out = {}
    for line in (fixtures / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["id"] in want and r["id"] not in out:
            out[r["id"]] = r
    assert len(out) == 30, sorted(want - set(out))
    return [out[f"{law}#{a}"] for law, arts in LAWS.items() for a in arts]


def unit_vector(key: str, dim: int = DIM) -> np.ndarray:
    """A reproducible random unit vector per key (the contract needs exact-match geometry, not semantics)."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little"))
    v = rng.normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def make_doc(doc_id: str, recs: list[dict], source: str, version: str = "", extra_meta: dict | None = None) -> DocWrite:
    """One document whose chunks are the given articles; `version` alters text and vectors (a changed doc)."""
    law = recs[0]["law"]
    meta = {"law": law, "title": law, **(extra_meta or {})}
    text = "\n".join(r["text"] for r in recs) + version
    doc = Document(doc_id=doc_id, text=text, source=source, meta=meta, kind="law")
    chunks, vecs = [], []
    for i, r in enumerate(recs):
        body = r["text"] + (f"（{version}）" if version else "")
        index_text = f"{r['law']} {r['article']} {body}"
        chunks.append(Chunk(chunk_id=f"{doc_id}#{i}", doc_id=doc_id, ordinal=i, text=body, index_text=index_text,
                            meta={"law": r["law"], "article": r["article"], "id": r["id"]}))
        vecs.append(unit_vector(f"{doc_id}#{i}{version}"))
    return DocWrite(doc=doc, chunks=chunks, vectors=np.stack(vecs) if vecs else np.zeros((0, DIM), np.float32))


@pytest.fixture(scope="session")
def corpus(records) -> list[DocWrite]:
    """6 documents of 5 articles: two per law, both from the same source file."""
    docs = []
    for law, short in SHORT.items():
        recs = [r for r in records if r["law"] == law]
        for part in (0, 1):
            docs.append(make_doc(f"{short}-{part}", recs[part * 5 : part * 5 + 5], source=f"laws/{short}.md"))
    return docs


# ---- engines ------------------------------------------------------------------------------------------------------


@pytest.fixture(params=["local", "milvus"])
def engine(request) -> str:
    return request.param


@pytest.fixture
def store_spec(engine, request, tmp_path) -> dict:
    """Where the engine under test keeps this test's knowledge base (JSON-able, for subprocesses too)."""
    name = f"kb_{uuid.uuid4().hex[:10]}"
    spec = {"engine": engine, "name": name, "dim": DIM, "path": str(tmp_path / "kb")}
    if engine == "milvus":
        spec["uri"] = request.getfixturevalue("milvus_uri")
        spec["registry"] = str(tmp_path / "registry.sqlite")
    return spec


def open_store(spec: dict):
    if spec["engine"] == "local":
        from zhiku.index.local import LocalStore

        return LocalStore(Path(spec["path"]), spec["name"], spec["dim"])
    from zhiku.index.milvus import MilvusStore

    return MilvusStore(spec["uri"], spec["name"], spec["dim"], registry_path=Path(spec["registry"]))


@pytest.fixture
def make_store(store_spec):
    """make_store() opens (another object on) this test's knowledge base; all are closed at teardown."""
    opened = []

    def make(**override):
        s = open_store({**store_spec, **override})
        opened.append(s)
        return s

    yield make
    for s in opened:
        try:
            s.close()
        except Exception:
            pass


@pytest.fixture
def store(make_store):
    return make_store()


@pytest.fixture
def filled(store, corpus):
    store.write(corpus)
    return store


@pytest.fixture
def kit():
    """The helpers above, for test modules (importing conftest by name is ambiguous across directories)."""
    import types

    return types.SimpleNamespace(make_doc=make_doc, unit_vector=unit_vector, open_store=open_store, dim=DIM,
                                 conftest=Path(__file__))
