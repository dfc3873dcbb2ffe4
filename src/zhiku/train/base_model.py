"""The base model `zhiku train sft` fine-tunes: a local Hugging Face model directory as is, or a bundled model
whose HF weights are derived offline from its GGUF once and cached under ZHIKU_HOME/train/base/<name>.

The derivation is stack.md §10's: transformers dequantizes the Q4_K_M GGUF into a model object that refuses
`save_pretrained` (it still carries the GGUF quantization config), so its state dict is copied into a plain
model built from the same config. bf16 on disk halves the size (0.5B: ~1 GB); training loads it as fp32.
Written atomically (atomic.py), so a killed derivation never leaves a half model in the cache.
"""
from __future__ import annotations

from pathlib import Path

from zhiku.errors import ModelNotFoundError
from zhiku.train.atomic import atomic_dir


def base_cache(home: Path, name: str) -> Path:
    return Path(home) / "train" / "base" / name


def resolve_base(base: str, home: Path, models_dir: Path) -> Path:
    """A directory with config.json and weights for `base` (bundled name or local HF dir)."""
    from zhiku.models.bundled import BUNDLED, resolve_model

    p = Path(base).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ModelNotFoundError(f"{p}: not a Hugging Face model directory (no config.json)")
        return p
    if base not in BUNDLED:
        raise ModelNotFoundError(
            f"base model {base!r}: not a bundled model ({', '.join(BUNDLED)}) nor a local model directory")
    target = base_cache(home, base)
    if not (target / "config.json").is_file():
        derive_from_gguf(resolve_model(base, models_dir), target)
    return target


def derive_from_gguf(gguf: Path, target: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    with atomic_dir(target) as tmp:
        d, f = str(gguf.parent), gguf.name
        m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.bfloat16,
                                                 quantization_config=GgufConfig(gguf_file=f, dequantize=True))
        cfg = m.config
        if hasattr(cfg, "quantization_config"):  # transformers 5.19 keeps it (and then refuses to save); 5.23 not
            del cfg.quantization_config
        plain = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
        plain.load_state_dict(m.state_dict(), strict=False)
        plain.generation_config = m.generation_config
        plain.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(d, gguf_file=f).save_pretrained(tmp)
    return target
