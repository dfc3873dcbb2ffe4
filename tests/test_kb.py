import pytest

from zhiku.errors import InputError, KBExistsError, KBNotFoundError


def test_create_list_info_delete(kbs):
    kbs.create("劳动法库", description="labour")
    uploaded = kbs.settings.uploads_root / "劳动法库" / "a.md"  # what `zhiku serve` keeps of an upload
    uploaded.parent.mkdir(parents=True)
    uploaded.write_text("第一条 甲。", encoding="utf-8")
    assert [i.name for i in kbs.list()] == ["劳动法库"]
    info = kbs.info("劳动法库")
    assert info.stats == {"documents": 0, "chunks": 0}
    assert info.embedder == "use-multilingual-v3" and info.dim == 512
    kbs.delete("劳动法库")
    assert kbs.list() == []
    assert not (kbs.root / "劳动法库").exists()
    assert not uploaded.parent.exists()  # else a new KB of the name refuses another a.md as a namesake


def test_errors_name_the_kb(kbs):
    kbs.create("a")
    with pytest.raises(KBExistsError, match="'a' already exists"):
        kbs.create("a")
    with pytest.raises(KBNotFoundError, match="'nope' does not exist"):
        kbs.open("nope")
    with pytest.raises(KBNotFoundError):
        kbs.delete("nope")
    for bad in ["", "../x", "a/b", ".hidden", "x" * 65]:
        with pytest.raises(InputError, match="invalid knowledge base name"):
            kbs.create(bad)


def test_catalog_survives_reopen(settings):
    from zhiku.kb import KnowledgeBases

    c = KnowledgeBases(settings)
    c.create("keep")
    c.close()
    c2 = KnowledgeBases(settings)
    assert c2.get("keep").store == "local"
    c2.close()


def test_kb_delete_that_fails_midway_keeps_the_kb_listed(tmp_path):
    """The catalog row goes first (see below); when the drop then fails, the row comes back: the KB can be
    deleted again once Milvus is back, instead of vanishing from the list with its collection left behind."""
    from zhiku.config import Settings, StoreSettings
    from zhiku.errors import BackendError
    from zhiku.kb import KnowledgeBases
    from zhiku.loadtest.process import milvus_lite_server

    with milvus_lite_server(tmp_path / "milvus") as uri:
        c = KnowledgeBases(Settings(home=tmp_path / "home", store=StoreSettings(backend="milvus", uri=uri)))
        c.create("k")
    try:  # the server has stopped
        with pytest.raises(BackendError, match="Milvus at"):
            c.delete("k")
        assert c.exists("k")
    finally:
        c.close()


# ---- a delete cut short by kill -9 --------------------------------------------------------------------------------

# Runs `zhiku kb delete k --yes` and SIGKILLs it at one step: when the store starts dropping ("drop") or once it has
# dropped ("dropped"); the real drop of whichever engine the KB has runs up to there.
KILLED_DELETE = """
import os, signal, sys
from zhiku.index.local import LocalStore
from zhiku.index.milvus import MilvusStore

step, home = sys.argv[1:]
for engine in (LocalStore, MilvusStore):
    def drop(self, real=engine.drop):
        if step == "dropped":
            real(self)
        os.kill(os.getpid(), signal.SIGKILL)
    engine.drop = drop
from zhiku.cli import app
app(["--home", home, "kb", "delete", "k", "--yes"])
"""


@pytest.mark.parametrize("engine", ["local", "milvus"])
@pytest.mark.parametrize("step", ["drop", "dropped"])
def test_kb_delete_killed_midway_leaves_it_whole_or_gone(engine, step, tmp_path, request):
    """Never a KB listed with its store half dropped (empty, or on Milvus documents without chunks); a KB imported
    under the name is not refused for what the killed delete left, and one created again inherits none of it."""
    import os
    import signal
    import subprocess
    import sys
    import uuid

    from zhiku.backup import export_kb, import_kb
    from zhiku.config import Settings, StoreSettings
    from zhiku.ingest.ingestor import Ingestor
    from zhiku.kb import KnowledgeBases

    store = StoreSettings()
    if engine == "milvus":
        store = StoreSettings(backend="milvus", uri=request.getfixturevalue("milvus_uri"),
                              collection_prefix=f"t{uuid.uuid4().hex[:8]}_")
    settings = Settings(home=tmp_path / "home", store=store)
    c = KnowledgeBases(settings)
    c.create("k")
    Ingestor(c.open("k"), settings).ingest(lines=["劳动合同期限三个月以上不满一年的，试用期不得超过一个月。",
                                                  "用人单位自用工之日起即与劳动者建立劳动关系。"])
    whole = c.info("k").stats
    assert whole == {"documents": 2, "chunks": 2}
    export_kb(c, "k", tmp_path / "k.tar.gz")
    (settings.uploads_root / "k").mkdir(parents=True)
    (settings.uploads_root / "k" / "a.md").write_text("第一条 甲。", encoding="utf-8")
    c.close()

    env = {**os.environ, "ZHIKU_STORE__COLLECTION_PREFIX": store.collection_prefix}
    done = subprocess.run([sys.executable, "-c", KILLED_DELETE, step, str(settings.home)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr

    c = KnowledgeBases(settings)
    try:
        if c.exists("k"):  # the kill came before the delete took effect: all of it is still there
            assert c.info("k").stats == whole
            c.delete("k")
        assert import_kb(c, tmp_path / "k.tar.gz").stats == whole  # what the delete left is no obstacle
        c.delete("k")
        c.create("k")
        assert c.info("k").stats == {"documents": 0, "chunks": 0} and not (settings.uploads_root / "k").exists()
        assert Ingestor(c.open("k"), settings).ingest(lines=["用人单位自用工之日起即与劳动者建立劳动关系。"]).added == 1
    finally:
        c.close()
