"""A tiny Qwen2 for the training pipeline's tests: the real tokenizer and chat template of the bundled model (read
offline from its GGUF), 2 layers of width 64 and random weights, so a LoRA step takes well under a second."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory):
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from zhiku.config import Settings
    from zhiku.models.bundled import resolve_model

    gguf = resolve_model("qwen2.5-0.5b", Settings().models_dir)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    out = tmp_path_factory.mktemp("tiny_qwen")
    Qwen2ForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out
