"""In-process generation with llama-cpp-python (GGUF on CPU).

One `Llama` object per instance, loaded lazily on first use. A llama.cpp context is not thread-safe, so every
generation holds `self._lock` for its whole duration; concurrent callers queue on it (FIFO-ish, by the OS).
The prompt is rendered here with the model's own chat template (from the GGUF) so the prompt token count is
exact and the system message is always ours: Qwen's template injects an English default system prompt when
none is given.
"""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

from zhiku.errors import BackendError, ConfigError, InputError, ModelNotFoundError
from zhiku.generate.base import Message, Sampling, Usage

# ChatML, used when a .gguf carries no chat template (every Qwen GGUF does)
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
STOP = ["<|im_end|>", "<|endoftext|>"]
DEFAULT_SYSTEM = "你是一个有帮助的助手。请用中文回答。"
_SENTINEL_DONE = object()


class LlamaCppLLM:
    def __init__(
        self,
        model_path: Path | str,
        n_ctx: int = 4096,
        n_threads: int = 2,
        name: str | None = None,
        n_batch: int = 512,
        lora_path: Path | str | None = None,
    ):
        self.model_path = Path(model_path)
        self.lora_path = Path(lora_path) if lora_path else None
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_batch = n_batch
        self.name = name or self.model_path.stem
        self._llm: Any = None
        self._formatter: Any = None
        self._lock = threading.Lock()  # guards the Llama object: one generation at a time
        self._load_lock = threading.Lock()

    # ---------------------------------------------------------------- loading

    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        with self._load_lock:
            if self._llm is not None:
                return self._llm
            try:
                from llama_cpp import Llama
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            except ImportError as e:
                raise ConfigError(
                    "the llama-cpp backend needs llama-cpp-python: pip install 'zhiku[llm]'"
                    " (or set ZHIKU_LLM__BACKEND=openai to use an LLM server)"
                ) from e
            if not self.model_path.is_file():
                raise ModelNotFoundError(f"{self.model_path}: model file does not exist")
            if self.lora_path is not None and not self.lora_path.is_file():
                raise ModelNotFoundError(f"{self.lora_path}: LoRA adapter file does not exist (llm.lora)")
            try:
                llm = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    n_batch=self.n_batch,
                    # Read the weights into anonymous memory: mmapped pages can be reclaimed by the host's
                    # page-out (DAMON on these VMs) and re-read from disk mid-generation, which made token rates
                    # swing from ~40/s to one every few seconds. Without swap, anonymous pages stay put.
                    use_mmap=False,
                    lora_path=str(self.lora_path) if self.lora_path else None,  # applied once, at load
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as e:
                raise ConfigError(f"{self.model_path}: cannot load model: {e}") from e
            eos_id, bos_id = llm.token_eos(), llm.token_bos()
            eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
            bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
            template = llm.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE
            self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
            self._stop = [s for s in {*STOP, eos} if s]
            self._llm = llm
            return llm

    def load(self) -> "LlamaCppLLM":
        """Load the model now (otherwise the first generation does)."""
        self._load()
        return self

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None

    # ---------------------------------------------------------------- prompt

    @staticmethod
    def _with_system(messages: list[Message]) -> list[Message]:
        if messages and messages[0].get("role") == "system":
            return list(messages)
        return [{"role": "system", "content": DEFAULT_SYSTEM}, *messages]

    def render(self, messages: list[Message]) -> str:
        """The exact prompt text the model sees."""
        self._load()
        return self._formatter(messages=self._with_system(messages)).prompt

    def count_tokens(self, text: str) -> int:
        llm = self._load()
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    # ---------------------------------------------------------------- generation

    def stream(self, messages: list[Message], sampling: Sampling, usage: Usage | None = None) -> Iterator[str]:
        return self._generate(messages, sampling, usage, None)

    def _generate(
        self,
        messages: list[Message],
        sampling: Sampling,
        usage: Usage | None,
        cancel: threading.Event | None,
    ) -> Iterator[str]:
        llm = self._load()
        prompt = self._formatter(messages=self._with_system(messages)).prompt
        # the template already wrote any special tokens; tokenize them as such
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        room = self.n_ctx - len(tokens)
        if room < 8:
            raise InputError(
                f"prompt of {len(tokens)} tokens does not fit the model context of {self.n_ctx} tokens;"
                " use fewer or shorter sources (retrieval.top_k, retrieval.max_source_chars) or raise llm.n_ctx"
            )
        max_tokens = min(sampling.max_tokens, room) if sampling.max_tokens > 0 else room
        generated = 0

        def count_and_check(_ids: Any, _logits: Any) -> bool:
            nonlocal generated
            generated += 1
            return cancel is not None and cancel.is_set()

        # queue on the context; an async consumer that goes away while we wait cancels the wait
        while not self._lock.acquire(timeout=0.1):
            if cancel is not None and cancel.is_set():
                return
        try:
            from llama_cpp import StoppingCriteriaList

            if usage is not None:
                usage.prompt_tokens = len(tokens)
                usage.completion_tokens = 0
            try:
                it = llm.create_completion(
                    prompt=tokens,
                    max_tokens=max_tokens,
                    temperature=sampling.temperature,
                    top_p=sampling.top_p,
                    top_k=sampling.top_k,
                    repeat_penalty=sampling.repetition_penalty,
                    stop=[*sampling.stop, *self._stop],
                    stopping_criteria=StoppingCriteriaList([count_and_check]),
                    stream=True,
                )
            except ValueError as e:
                raise BackendError(f"llama.cpp ({self.name}): {e}") from e
            try:
                for chunk in it:
                    if cancel is not None and cancel.is_set():
                        break
                    text = chunk["choices"][0].get("text") or ""
                    if usage is not None:
                        usage.completion_tokens = generated
                    if text:
                        yield text
            except RuntimeError as e:  # llama_decode failures
                raise BackendError(f"llama.cpp ({self.name}): {e}") from e
            finally:
                it.close()
                if usage is not None:
                    usage.completion_tokens = generated
        finally:
            self._lock.release()

    async def astream(
        self, messages: list[Message], sampling: Sampling, usage: Usage | None = None
    ) -> AsyncIterator[str]:
        """Generation runs in a daemon thread; deltas come over an asyncio queue.

        Closing or cancelling this iterator sets `cancel`, which the producer checks between tokens (and
        llama.cpp checks after each sampled token), so generation stops within one token.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # loop closed: nobody is listening any more
                cancel.set()

        def produce() -> None:
            try:
                gen = self._generate(messages, sampling, usage, cancel)
                try:
                    for delta in gen:
                        if cancel.is_set():
                            break
                        put(delta)
                finally:
                    gen.close()
                put(_SENTINEL_DONE)
            except BaseException as e:  # noqa: BLE001 - handed to the consumer
                put(e)

        thread = threading.Thread(target=produce, name=f"zhiku-llm-{self.name}", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is _SENTINEL_DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancel.set()

    def complete(self, messages: list[Message], sampling: Sampling) -> str:
        return "".join(self.stream(messages, sampling)).strip()

    def __repr__(self) -> str:
        return f"LlamaCppLLM({str(self.model_path)!r}, n_ctx={self.n_ctx}, n_threads={self.n_threads})"
