"""llama.cpp's own GGUF converters (convert_hf_to_gguf.py, convert_lora_to_gguf.py with their conversion/ and
gguf-py/ packages). They ship only in the llama-cpp-python sdist, so scripts/install.sh extracts them once into
the cache beside the wheelhouse; nothing is fetched at run time. They run in a subprocess with this interpreter
(torch, transformers, gguf and sentencepiece from the `train` extra)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from zhiku.errors import BackendError, ConfigError

LLAMA_VERSION = "0.3.36"  # the llama-cpp-python whose sdist scripts/install.sh takes the converters from


def tools_dir() -> Path:
    if os.environ.get("ZHIKU_LLAMA_TOOLS"):
        return Path(os.environ["ZHIKU_LLAMA_TOOLS"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "zhiku" / f"llama.cpp-{LLAMA_VERSION}"


def _script(name: str) -> Path:
    path = tools_dir() / name
    if not path.is_file():
        raise ConfigError(f"llama.cpp's {name} is not installed in {path.parent}: run scripts/install.sh with the "
                          "train extra (it extracts the converters from the llama-cpp-python sdist once)")
    return path


def _run(args: list[str], what: str) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("NO_LOCAL_GGUF", None)  # the scripts must use their own gguf-py: PyPI's gguf 0.19 lacks newer names
    p = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackendError(f"{what} failed: {tail}")


def convert_model(hf_dir: Path, out: Path, outtype: str = "f16") -> Path:
    """A Hugging Face model directory as one GGUF file."""
    _run([str(_script("convert_hf_to_gguf.py")), str(hf_dir), "--outfile", str(out), "--outtype", outtype],
         f"converting {hf_dir} to GGUF")
    return out


def convert_lora(adapter_dir: Path, base_dir: Path, out: Path, outtype: str = "f16") -> Path:
    """A peft LoRA adapter as a GGUF adapter llama.cpp applies at load (`Llama(lora_path=...)`)."""
    _run([str(_script("convert_lora_to_gguf.py")), str(adapter_dir), "--base", str(base_dir), "--outfile", str(out),
          "--outtype", outtype], f"converting the LoRA adapter {adapter_dir} to GGUF")
    return out


def quantize(src: Path, out: Path, threads: int = 0) -> Path:
    """A GGUF quantized to Q4_K_M (the bundled models' type) by llama.cpp's quantizer, reached through the
    llama-cpp-python binding (its wheel has no llama-quantize binary). Tensors whose rows do not fit K-quant
    blocks fall back to another type, which llama.cpp chooses."""
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    params.nthread = threads
    with suppress_stdout_stderr(disable=False):  # it logs every tensor
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(out).encode(), params)
    if rc != 0:
        raise BackendError(f"quantizing {src} to Q4_K_M failed (llama.cpp returned {rc})")
    return out
