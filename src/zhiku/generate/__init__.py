"""Answer generation: the LLM protocol, its backends and the Chinese prompts (bundled model files: zhiku.models).

`get_llm` picks the backend from settings. Backends are imported lazily, so importing zhiku.generate never
imports llama_cpp (or loads a model).
"""
from __future__ import annotations

import atexit
import threading
from pathlib import Path

from zhiku.config import LLMSettings
from zhiku.errors import ConfigError
from zhiku.generate.base import LLM, Message, Sampling, Usage

__all__ = ["LLM", "Message", "Sampling", "Usage", "get_llm", "clear_llm_cache"]

_cache: dict[tuple, LLM] = {}
_cache_lock = threading.Lock()


def get_llm(settings: LLMSettings, models_dir: Path) -> LLM:
    """The LLM for these settings. In-process models are cached per (file, n_ctx, n_threads, lora): a model is
    loaded once per process however many callers ask for it."""
    if settings.backend == "openai":
        from zhiku.generate.openai_compat import OpenAICompatLLM

        key: tuple = ("openai", settings.base_url, settings.model, settings.api_key, settings.timeout)
        with _cache_lock:
            if key not in _cache:
                _cache[key] = OpenAICompatLLM(
                    settings.base_url, settings.model, api_key=settings.api_key, timeout=settings.timeout
                )
            return _cache[key]
    if settings.backend == "llama-cpp":
        from zhiku.generate.llama_cpp import LlamaCppLLM
        from zhiku.models.bundled import resolve_model

        path = resolve_model(settings.model, Path(models_dir)).resolve()
        key = ("llama-cpp", str(path), settings.n_ctx, settings.threads, settings.lora)
        with _cache_lock:
            if key not in _cache:
                _cache[key] = LlamaCppLLM(path, n_ctx=settings.n_ctx, n_threads=settings.threads, name=settings.model,
                                          lora_path=settings.lora or None)
            return _cache[key]
    raise ConfigError(f"unknown LLM backend {settings.backend!r} (llama-cpp, openai)")


def clear_llm_cache() -> None:
    """Drop cached LLMs (tests; settings reloads). Loaded llama.cpp models are freed."""
    with _cache_lock:
        items = list(_cache.values())
        _cache.clear()
    for llm in items:
        close = getattr(llm, "close", None)
        if close is not None:
            close()


# Free cached in-process models while the interpreter is whole: left to its final teardown, a llama.cpp model can
# be freed after llama_cpp's own globals are gone, which prints a TypeError traceback at exit.
atexit.register(clear_llm_cache)
