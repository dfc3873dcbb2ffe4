"""`zhiku train export` for real: a LoRA trained on the tiny Qwen2 becomes a GGUF adapter that llama.cpp applies
on the base model's GGUF, merged safetensors equal to base + adapter, and a merged GGUF; each one loads and
generates. The converters are llama.cpp's own, installed by scripts/install.sh."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import run as run_cli

LAW = Path(__file__).resolve().parents[2] / "samples" / "laws" / "社会法" / "劳动合同法(2012-12-28).md"


def zhiku(home: Path, *args: str, check: int | None = 0, **env: str) -> subprocess.CompletedProcess:
    return run_cli(home, *args, check=check, timeout=900, **env)


@pytest.fixture(scope="module")
def exported(tiny_qwen, tmp_path_factory):
    """A run of 3 steps at a high learning rate (so the adapter visibly moves the logits), exported three ways."""
    home = tmp_path_factory.mktemp("export_home")
    data, run = home / "data", home / "run"
    zhiku(home, "train", "prepare", "--from", "text", str(LAW), "--chunk-size", "60", "--sample", "--out", str(data))
    zhiku(home, "train", "sft", "--base", str(tiny_qwen), "--data", str(data), "--out", str(run), "--max-steps", "3",
          "--batch-size", "2", "--grad-accum", "1", "--max-len", "64", "--lr", "0.05", "--save-steps", "100")
    info = json.loads(zhiku(home, "train", "export", str(run), "--format", "gguf-lora", "--format", "merged",
                            "--format", "gguf", "--format", "gguf-q4", "--name", "legal", "--json").stdout)
    return home, run, info


def test_export_writes_every_format_and_the_vllm_lines(exported, tiny_qwen):
    home, run, info = exported
    out = run / "export"
    assert info["files"] == {"gguf-lora": str(out / "adapter.gguf"), "merged": str(out / "merged"),
                             "gguf": str(out / "model-f16.gguf"), "gguf-q4": str(out / "model-q4_k_m.gguf")}
    assert all(Path(info["files"][k]).read_bytes()[:4] == b"GGUF" for k in ("gguf-lora", "gguf", "gguf-q4"))
    assert Path(info["files"]["gguf-q4"]).stat().st_size < 0.8 * Path(info["files"]["gguf"]).stat().st_size
    assert (out / "merged" / "model.safetensors").is_file() and (out / "merged" / "tokenizer.json").is_file()
    assert info["vllm"] == [f"vllm serve {out / 'merged'} --served-model-name legal",
                            f"vllm serve {tiny_qwen} --enable-lora --lora-modules legal={run / 'adapter'} "
                            "--max-lora-rank 16"]
    assert json.loads((out / "export.json").read_text()) == info
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temp directory left


def test_merged_model_is_base_plus_adapter(exported, tiny_qwen):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, run, info = exported
    ids = AutoTokenizer.from_pretrained(tiny_qwen)("劳动合同应当以书面形式订立。", return_tensors="pt").input_ids
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(tiny_qwen, dtype=torch.float32)
        plain = base(ids).logits
        tuned = PeftModel.from_pretrained(base, str(run / "adapter"))(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(info["files"]["merged"], dtype=torch.float32)(ids).logits
    moved = (tuned - plain).abs().max().item()
    assert moved > 1e-3  # the adapter does something
    assert (merged - tuned).abs().max().item() < moved / 5  # bf16 storage noise, far below the adapter's effect


def _last_logits(llm, text: str):
    """llama.cpp's logits for the token after `text` (the model as loaded, adapter included)."""
    import numpy as np

    model = llm._load()
    tokens = model.tokenize(text.encode("utf-8"), add_bos=False)
    model.reset()
    model.eval(tokens)  # without logits_all only the last token's logits are kept, in the context
    return np.ctypeslib.as_array(model._ctx.get_logits(), shape=(model.n_vocab(),)).copy()


def test_llama_cpp_applies_the_gguf_adapter_and_loads_the_merged_gguf(exported, tiny_qwen, tmp_path):
    import numpy as np

    from zhiku.config import LLMSettings
    from zhiku.generate import clear_llm_cache, get_llm
    from zhiku.generate.base import Sampling
    from zhiku.train.llama_tools import convert_model

    _, run, info = exported
    base_gguf = convert_model(tiny_qwen, tmp_path / "tiny-f16.gguf")
    text = "劳动合同应当以书面形式订立。"
    msgs = [{"role": "system", "content": "你是助手。"}, {"role": "user", "content": "劳动合同"}]
    greedy = Sampling(max_tokens=8, temperature=0.0)
    try:
        plain = get_llm(LLMSettings(model=str(base_gguf), n_threads=1), tmp_path)
        tuned = get_llm(LLMSettings(model=str(base_gguf), lora=info["files"]["gguf-lora"], n_threads=1), tmp_path)
        merged = get_llm(LLMSettings(model=info["files"]["gguf"], n_threads=1), tmp_path)
        assert tuned is not plain and str(tuned.lora_path) == info["files"]["gguf-lora"]
        base_l, tuned_l, merged_l = (_last_logits(m, text) for m in (plain, tuned, merged))
        moved = np.abs(tuned_l - base_l).max()
        assert moved > 1e-3  # the adapter is applied at load
        assert np.abs(merged_l - tuned_l).max() < moved / 5  # adapter at load == adapter merged (f16 noise)
        q4 = get_llm(LLMSettings(model=info["files"]["gguf-q4"], n_threads=1), tmp_path)
        for m in (tuned, merged, q4):
            assert "".join(m.stream(msgs, greedy))  # and each generates through zhiku's backend
    finally:
        clear_llm_cache()


def test_a_missing_adapter_file_is_a_one_line_error(tmp_path, tiny_qwen):
    from zhiku.errors import ModelNotFoundError
    from zhiku.generate.llama_cpp import LlamaCppLLM

    with pytest.raises(ModelNotFoundError, match="LoRA adapter file does not exist"):
        LlamaCppLLM(tiny_qwen / "config.json", lora_path=tmp_path / "nope.gguf").load()


def test_export_refusals(exported, tmp_path):
    home, run, _ = exported
    p = zhiku(home, "train", "export", str(tmp_path), check=2)
    assert "no LoRA adapter here" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = zhiku(home, "train", "export", str(run), "--out", str(tmp_path / "x"), "--format", "gguf-lora", check=2,
              ZHIKU_LLAMA_TOOLS=str(tmp_path / "none"))
    assert "scripts/install.sh" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
    only = json.loads(zhiku(home, "train", "export", str(run), "--out", str(tmp_path / "y"), "--format", "gguf-q4",
                            "--json").stdout)
    assert list(only["files"]) == ["gguf-q4"] and sorted(p.name for p in (tmp_path / "y").iterdir()) == [
        "export.json", "model-q4_k_m.gguf"]  # the merged model and the f16 GGUF were only steps
