import pytest

from zhiku.errors import InputError, KBExistsError, KBNotFoundError


def test_create_list_info_delete(kbs):
    kbs.create("劳动法库", description="labour")
    assert [i.name for i in kbs.list()] == ["劳动法库"]
    info = kbs.info("劳动法库")
    assert info.stats == {"documents": 0, "chunks": 0}
    assert info.embedder == "use-multilingual-v3" and info.dim == 512
    kbs.delete("劳动法库")
    assert kbs.list() == []
    assert not (kbs.root / "劳动法库").exists()


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
