"""`zhiku train export`: a trained LoRA in the forms zhiku and other servers load.

- gguf-lora: the adapter as GGUF (llama.cpp's convert_lora_to_gguf.py), applied at load by the llama.cpp backend
  (`llm.lora = PATH`) on top of the base model's GGUF, the bundled one included: the adapter was trained on the
  dequantized weights of that same file.
- merged: base + LoRA folded into plain safetensors (peft merge_and_unload), what vLLM serves as a model.
- gguf: the merged model as one GGUF (f16 via convert_hf_to_gguf.py), for llama.cpp without an adapter;
  gguf-q4: the same quantized to Q4_K_M, the bundled models' type (~1/3.5 of f16).

Everything lands in one export directory, written atomically (atomic.py).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from zhiku.errors import InputError
from zhiku.train.atomic import atomic_dir
from zhiku.train.llama_tools import convert_lora, convert_model, quantize

FORMATS = ("gguf-lora", "merged", "gguf", "gguf-q4")


def find_adapter(path: Path) -> Path:
    """A run directory's adapter/, or an adapter directory itself."""
    path = Path(path)
    for d in (path / "adapter", path):
        if (d / "adapter_config.json").is_file():
            return d
    raise InputError(f"{path}: no LoRA adapter here (expected a `zhiku train sft` run or an adapter directory)")


def adapter_base(adapter: Path) -> str:
    """The base model the adapter was trained on, as peft recorded it."""
    return str(json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))["base_model_name_or_path"])


def vllm_lines(name: str, base_dir: Path, adapter: Path, merged: Path | None, rank: int) -> list[str]:
    lines = [f"vllm serve {merged} --served-model-name {name}"] if merged else []
    lines.append(f"vllm serve {base_dir} --enable-lora --lora-modules {name}={adapter} --max-lora-rank {rank}")
    return lines


def export(adapter: Path, base_dir: Path, out: Path, formats: tuple[str, ...] = FORMATS, name: str = "zhiku-lora",
           progress=None) -> dict:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InputError(f"--format must be some of {', '.join(FORMATS)}, got {', '.join(unknown) or 'none'}")
    report = progress or (lambda stage, done, total: None)
    out = Path(out)
    files: dict[str, str] = {}
    rank = int(json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))["r"])
    with atomic_dir(out) as tmp:
        if "gguf-lora" in formats:
            report("gguf-lora", 0, 1)
            convert_lora(adapter, base_dir, tmp / "adapter.gguf")
            files["gguf-lora"] = str(out / "adapter.gguf")
            report("gguf-lora", 1, 1)
        if {"merged", "gguf", "gguf-q4"} & set(formats):
            report("merge", 0, 1)
            merge(adapter, base_dir, tmp / "merged")
            files["merged"] = str(out / "merged")
            report("merge", 1, 1)
        if {"gguf", "gguf-q4"} & set(formats):
            report("gguf", 0, 1)
            convert_model(tmp / "merged", tmp / "model-f16.gguf")
            files["gguf"] = str(out / "model-f16.gguf")
            report("gguf", 1, 1)
        if "gguf-q4" in formats:
            report("gguf-q4", 0, 1)
            quantize(tmp / "model-f16.gguf", tmp / "model-q4_k_m.gguf")
            files["gguf-q4"] = str(out / "model-q4_k_m.gguf")
            report("gguf-q4", 1, 1)
        for kind, what in (("gguf", "model-f16.gguf"), ("merged", "merged")):  # intermediates nobody asked for
            if kind not in formats and kind in files:
                if (tmp / what).is_dir():
                    shutil.rmtree(tmp / what)
                else:
                    (tmp / what).unlink()
                del files[kind]
        merged = out / "merged" if "merged" in files else None
        info = {"adapter": str(adapter), "base": str(base_dir), "name": name, "files": files,
                "vllm": vllm_lines(name, base_dir, adapter, merged, rank)}
        (tmp / "export.json").write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return info


def merge(adapter: Path, base_dir: Path, out: Path) -> Path:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.to(torch.bfloat16).save_pretrained(out, safe_serialization=True)  # vLLM's dtype; half of fp32 on disk
    tok_dir = adapter if (adapter / "tokenizer_config.json").is_file() else base_dir
    AutoTokenizer.from_pretrained(tok_dir).save_pretrained(out)
    return out
