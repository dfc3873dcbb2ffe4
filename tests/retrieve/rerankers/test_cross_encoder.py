"""The sentence-transformers backend on a real (tiny, randomly initialised) BERT cross-encoder saved to disk:
checks the wiring (local path, pairs in, one float per passage out), not ranking quality."""
import pytest

st = pytest.importorskip("sentence_transformers")


def test_scores_one_float_per_passage(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("试用期劳动合同离婚多久")
    (tmp_path / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    BertTokenizer(str(tmp_path / "vocab.txt")).save_pretrained(tmp_path)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, num_labels=1)
    BertForSequenceClassification(cfg).save_pretrained(tmp_path)

    from zhiku.retrieve.rerankers.cross_encoder import CrossEncoderReranker

    r = CrossEncoderReranker(str(tmp_path))
    scores = r.score("试用期多久", ["劳动合同试用期", "离婚"])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
    assert r.score("试用期", []) == []
