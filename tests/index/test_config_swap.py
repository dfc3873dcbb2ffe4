"""The same KB service, ingestor and retriever on Milvus, switched by configuration only."""
from zhiku.config import Settings, StoreSettings
from zhiku.ingest.ingestor import Ingestor
from zhiku.kb import KnowledgeBases
from zhiku.retrieve.hybrid import HybridRetriever


def test_milvus_kb_by_configuration(milvus_uri, tmp_path, law_files):
    s = Settings(home=tmp_path, store=StoreSettings(backend="milvus", uri=milvus_uri))
    c = KnowledgeBases(s)
    info = c.create("劳动")
    assert info.store == "milvus" and info.store_uri == milvus_uri
    kb = c.open("劳动")
    report = Ingestor(kb, s).ingest([law_files[0]])
    assert report.ok and report.chunks == 98
    assert Ingestor(kb, s).ingest([law_files[0]]).unchanged == 1
    refs = [h.ref for h in HybridRetriever(kb.store, kb.embedder, s.retrieval).run("劳动合同试用期最长多久", k=10)]
    assert "中华人民共和国劳动合同法#第十九条" in refs
    assert c.info("劳动").stats == {"documents": 1, "chunks": 98}
    c.delete("劳动")
    assert c.list() == []
    c.close()
