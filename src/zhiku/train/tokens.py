"""Sample lengths for `zhiku train prepare`: tokens of the answer model's own vocabulary when it is at hand, else
characters. The vocabulary comes from the bundled GGUF through llama.cpp's vocab-only load (~1-2 s, no weights in
memory), so preparing data needs neither torch nor transformers."""
from __future__ import annotations

from pathlib import Path

from zhiku.errors import ZhikuError

Record = dict  # {"messages": [...]} or {"text": "..."}


def chatml(messages: list[dict]) -> str:
    """Qwen's chat template for a whole conversation (the Qwen GGUFs carry exactly this ChatML)."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def record_text(record: Record) -> str:
    return chatml(record["messages"]) if "messages" in record else record["text"]


class TokenCounter:
    """`counter(record)` -> its length in `unit` ("tokens" or "chars")."""

    def __init__(self, gguf: Path | None = None):
        self._vocab = None
        if gguf is not None:
            try:
                from llama_cpp import Llama
                from llama_cpp._utils import suppress_stdout_stderr

                with suppress_stdout_stderr(disable=False):  # llama.cpp warns about the missing context on stderr
                    self._vocab = Llama(model_path=str(gguf), vocab_only=True, verbose=False)
            except (ImportError, ValueError, RuntimeError, OSError):
                self._vocab = None  # no llama.cpp here: characters still bound the sample size
        self.unit = "tokens" if self._vocab is not None else "chars"

    def __call__(self, record: Record) -> int:
        text = record_text(record)
        if self._vocab is None:
            return len(text)
        return len(self._vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True))


def counter_for(model: str, models_dir: Path) -> TokenCounter:
    """A counter on the vocabulary of `model` (a bundled name or .gguf path); characters when it cannot be had."""
    from zhiku.models.bundled import resolve_model

    try:
        return TokenCounter(resolve_model(model, models_dir))
    except ZhikuError:
        return TokenCounter(None)
