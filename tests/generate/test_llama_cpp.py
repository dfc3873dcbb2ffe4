"""The in-process backend on the real 0.5B model. max_tokens stays small: these run in the default suite."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import pytest

from zhiku.errors import InputError
from zhiku.generate.base import LLM, Sampling, Usage
from zhiku.generate.prompts import build_messages
from zhiku.types import Hit

pytest.importorskip("llama_cpp")

ART19 = (
    "劳动合同期限三个月以上不满一年的，试用期不得超过一个月；劳动合同期限一年以上不满三年的，试用期不得超过二个月；"
    "三年以上固定期限和无固定期限的劳动合同，试用期不得超过六个月。"
)
SOURCES = [
    Hit(chunk_id="a", doc_id="d", text=ART19, score=1.0, meta={"law": "中华人民共和国劳动合同法", "article": "第十九条"})
]
MSGS = build_messages("劳动合同试用期最长多久？", SOURCES)
QUICK = Sampling(max_tokens=24, temperature=0.0)
LONG = Sampling(max_tokens=400, temperature=0.0)
COUNT = [{"role": "user", "content": "从1数到300，用逗号分隔。"}]  # reliably long output


def test_is_an_llm(small_llm):
    assert isinstance(small_llm, LLM)
    assert small_llm.name == "qwen2.5-0.5b"


def test_stream_yields_text_and_fills_usage(small_llm):
    usage = Usage()
    parts = list(small_llm.stream(MSGS, QUICK, usage))
    text = "".join(parts)
    assert len(parts) >= 2 and text.strip()
    assert "<|im_end|>" not in text and "<|im_start|>" not in text
    assert usage.prompt_tokens == small_llm.count_tokens(small_llm.render(MSGS)) > 50
    assert 1 <= usage.completion_tokens <= QUICK.max_tokens + 1


def test_complete(small_llm):
    out = small_llm.complete([{"role": "system", "content": "只回答数字。"}, {"role": "user", "content": "1+1等于几？"}], QUICK)
    assert "2" in out


def test_own_system_message_always_sent(small_llm):
    prompt = small_llm.render([{"role": "user", "content": "你好"}])
    assert prompt.startswith("<|im_start|>system\n") and "You are Qwen" not in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    assert small_llm.render(MSGS).startswith("<|im_start|>system\n你是中国法律问答助手")


def test_closing_the_stream_stops_and_releases_the_model(small_llm):
    usage = Usage()
    it = small_llm.stream(COUNT, LONG, usage)
    next(it)
    next(it)
    it.close()
    assert not small_llm._lock.locked()
    assert usage.completion_tokens < 10


def test_astream(small_llm):
    async def run():
        usage = Usage()
        parts = [d async for d in small_llm.astream(MSGS, QUICK, usage)]
        return parts, usage

    parts, usage = asyncio.run(run())
    assert "".join(parts).strip()
    assert usage.prompt_tokens > 50 and usage.completion_tokens >= 1


def test_astream_cancel_stops_generation_early(small_llm):
    usage = Usage()

    async def consume(got_two: asyncio.Event):
        n = 0
        async for _ in small_llm.astream(COUNT, LONG, usage):
            n += 1
            if n == 2:
                got_two.set()

    async def run():
        got_two = asyncio.Event()
        task = asyncio.create_task(consume(got_two))
        await asyncio.wait_for(got_two.wait(), 60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        t = time.perf_counter()
        while small_llm._lock.locked():  # the producer thread lets go within a token or two
            await asyncio.sleep(0.01)
            assert time.perf_counter() - t < 5
        return time.perf_counter() - t

    released_after = asyncio.run(run())
    assert released_after < 2
    assert usage.completion_tokens < 30  # of up to 400


def test_astream_break_stops_generation(small_llm):
    usage = Usage()

    async def run():
        agen = small_llm.astream(COUNT, LONG, usage)
        async for _ in agen:
            break
        await agen.aclose()
        t = time.perf_counter()
        while small_llm._lock.locked():
            await asyncio.sleep(0.01)
            assert time.perf_counter() - t < 5

    asyncio.run(run())
    assert usage.completion_tokens < 30


def test_concurrent_callers_queue_on_the_model(small_llm):
    out: dict[int, str] = {}

    def work(i):
        out[i] = small_llm.complete([{"role": "user", "content": f"{i}+{i}等于几？只回答数字。"}], Sampling(max_tokens=8))

    threads = [threading.Thread(target=work, args=(i,)) for i in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert set(out) == {1, 2, 3} and all(v for v in out.values())


def test_prompt_longer_than_context_is_input_error(small_llm):
    with pytest.raises(InputError, match="context"):
        list(small_llm.stream([{"role": "user", "content": "法" * 5000}], QUICK))
    assert not small_llm._lock.locked()


def test_get_llm_caches_and_importing_generate_does_not_load_llama(small_gguf):
    from zhiku.config import LLMSettings
    from zhiku.generate import get_llm
    from zhiku.generate.llama_cpp import LlamaCppLLM

    s = LLMSettings(backend="llama-cpp", model=str(small_gguf), n_ctx=1024)
    a, b = get_llm(s, small_gguf.parent), get_llm(s, small_gguf.parent)
    assert isinstance(a, LlamaCppLLM) and a is b and a._llm is None  # lazy: nothing loaded yet
    code = "import sys, zhiku.generate; assert 'llama_cpp' not in sys.modules, 'llama_cpp imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_repetition_penalty_reaches_the_sampler(small_llm):
    # counting repeats digits and commas: a strong penalty must change greedy output, 1.0 must not
    greedy = Sampling(max_tokens=16, temperature=0.0)
    plain = small_llm.complete(COUNT, greedy)
    assert small_llm.complete(COUNT, Sampling(max_tokens=16, temperature=0.0, repetition_penalty=1.0)) == plain
    assert small_llm.complete(COUNT, Sampling(max_tokens=16, temperature=0.0, repetition_penalty=2.5)) != plain
