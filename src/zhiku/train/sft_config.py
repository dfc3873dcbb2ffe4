"""`zhiku train sft`'s settings: defaults, a TOML file, then command-line overrides, in that order.

A key the file or an override names that is not a setting is an error (a typo such as `lora_rank` would
otherwise train silently with the default). Values are checked for type against the defaults.
"""
from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from zhiku.errors import InputError


@dataclass
class SftConfig:
    base: str = "qwen2.5-0.5b"  # a bundled model name (HF weights derived from its GGUF) or a local HF model dir
    data: str = ""  # a `zhiku train prepare` directory (train.jsonl, val.jsonl)
    out: str = ""  # run directory (default: ZHIKU_HOME/train/runs/<dataset name>)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    # > 0: LoRA on the top N decoder layers only. The backward pass then stops at the lowest adapted layer, which
    # on a CPU is most of a step's cost (0 = every layer, the usual LoRA)
    top_layers: int = 0
    lr: float = 2e-4
    epochs: float = 3.0
    batch_size: int = 2
    grad_accum: int = 4
    max_len: int = 1024  # tokens per sample; longer ones are cut from the end
    max_steps: int = -1  # > 0 stops after this many optimizer steps (smoke runs)
    save_steps: int = 50  # a checkpoint every N optimizer steps
    eval_steps: int = 50  # eval loss on val.jsonl every N steps (and at the end)
    save_total_limit: int = 3
    warmup_ratio: float = 0.03
    seed: int = 0
    threads: int = 0  # torch CPU threads (0 = torch's default)
    # recompute activations in the backward pass: saves memory on a GPU for a 7B, costs ~1/3 more compute; a 0.5B or
    # 1.5B fits a CPU box's RAM without it (trl turns it on unless told)
    gradient_checkpointing: bool = False
    qlora: bool = False  # 4-bit base through bitsandbytes: CUDA only

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(key: str, value: Any, default: Any, where: str) -> Any:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, list):
        if isinstance(value, str):  # --set target_modules=q_proj,v_proj
            value = [v.strip() for v in value.split(",") if v.strip()]
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise InputError(f"{where}: {key} must be {type(default).__name__}, got {value!r}")
    return value


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> SftConfig:
    """Defaults, then the TOML file's keys (top level or a [sft] table), then `overrides` (None values skipped)."""
    cfg = SftConfig()
    defaults = cfg.to_dict()
    layers: list[tuple[str, dict]] = []
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{path}: no such config file") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: not a TOML file ({e})") from e
        layers.append((str(path), data.get("sft", data) if isinstance(data.get("sft"), dict) else data))
    layers.append(("command line", {k: v for k, v in (overrides or {}).items() if v is not None}))
    for where, values in layers:
        for key, value in values.items():
            if key not in defaults:
                names = ", ".join(f.name for f in fields(SftConfig))
                raise InputError(f"{where}: unknown key {key!r} (known: {names})")
            setattr(cfg, key, _check(key, value, defaults[key], where))
    return cfg


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`--set key=value` pairs; values are read as TOML scalars when they parse, else as strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected key=value")
        try:
            out[key.strip()] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = raw
    return out
