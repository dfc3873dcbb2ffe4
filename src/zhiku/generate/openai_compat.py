"""Any OpenAI-compatible chat server: vLLM, Ollama, Xinference, llama_cpp.server, LM Studio, ...

POST {base_url}/chat/completions with "stream": true and parse the SSE stream (`data: {...}` lines, ending
with `data: [DONE]`). Usage comes from the final chunk when the server honours
`stream_options: {"include_usage": true}`, else completion tokens are the number of content chunks.
`top_k` goes as an extra field (vLLM, llama_cpp.server and Ollama accept it; it is left out when <= 0), and so does
a repetition penalty other than 1 (as both `repetition_penalty` and `repeat_penalty`: servers ignore the name
they do not know).
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx

from zhiku.errors import BackendError, ConfigError
from zhiku.generate.base import Message, Sampling, Usage

_DONE = object()


@dataclass
class _State:
    chunks: int = 0  # content chunks seen
    usage_seen: bool = False  # the server reported usage
    finished: bool = False  # a choice carried finish_reason
    done: bool = False  # data: [DONE] arrived


def normalize_base_url(base_url: str) -> str:
    """Strip the trailing slash; a bare host (http://localhost:11434) gets the usual /v1."""
    url = base_url.strip().rstrip("/")
    if url and "://" not in url:
        url = "http://" + url
    if url and urlsplit(url).path in ("", "/"):
        url += "/v1"
    return url


def _error_message(body: bytes) -> str:
    """The server's own error text from a JSON error body (OpenAI, FastAPI, Ollama styles) or the raw body."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        if isinstance(err, str) and err:
            return err[:300]
        detail = data.get("detail")
        if isinstance(detail, list):  # FastAPI validation errors
            parts = []
            for d in detail[:3]:
                if isinstance(d, dict):
                    loc = ".".join(str(x) for x in d.get("loc", []) if x != "body")
                    parts.append(f"{loc}: {d.get('msg', '')}" if loc else str(d.get("msg", d)))
                else:
                    parts.append(str(d))
            return "; ".join(parts)[:300]
        if detail:
            return str(detail)[:300]
        if data.get("message"):
            return str(data["message"])[:300]
    return text[:300]


def _transport_reason(e: httpx.HTTPError) -> str:
    if isinstance(e, httpx.ConnectError):
        return f"cannot connect ({e})" if str(e) else "cannot connect"
    if isinstance(e, httpx.TimeoutException):
        return f"timed out ({type(e).__name__})"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


async def _sse_lines(r: httpx.Response) -> AsyncIterator[str]:
    """The stream's lines, split from bytes: a server relaying hundreds of token streams spent a third of its
    relay time in httpx's layered text and line decoders. SSE is UTF-8 (aiter_bytes still undoes any gzip)."""
    buf = b""
    async for chunk in r.aiter_bytes():
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", errors="replace")
    if buf:
        yield buf.rstrip(b"\r").decode("utf-8", errors="replace")


class OpenAICompatLLM:
    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 120.0):
        if not base_url:
            raise ConfigError(
                "the openai LLM backend needs llm.base_url, e.g. ZHIKU_LLM__BASE_URL=http://127.0.0.1:8000/v1"
            )
        if not model:
            raise ConfigError("the openai LLM backend needs llm.model: the model name the server serves")
        self.base_url = normalize_base_url(base_url)
        self.model = model
        self.name = f"openai:{model}"
        self.timeout = timeout
        headers = {"Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._headers = headers
        self._timeout = httpx.Timeout(timeout, connect=min(10.0, timeout))
        self._client = httpx.Client(timeout=self._timeout, headers=headers)
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        self._include_usage = True  # dropped once if the server rejects stream_options

    # ---------------------------------------------------------------- helpers

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _error(self, reason: str) -> BackendError:
        return BackendError(f"LLM server {self.base_url}: {reason}")

    def _payload(self, messages: list[Message], sampling: Sampling) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        if sampling.top_k > 0:
            body["top_k"] = sampling.top_k
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.repetition_penalty != 1.0:  # vLLM, SGLang, TGI, Xinference read the first; llama_cpp.server
            body["repetition_penalty"] = body["repeat_penalty"] = sampling.repetition_penalty  # and Ollama the second
        if sampling.json_schema is not None:
            fmt: dict[str, Any] = {"type": "json_object"}
            if sampling.json_schema:
                fmt["schema"] = sampling.json_schema
            body["response_format"] = fmt
        if self._include_usage:
            body["stream_options"] = {"include_usage": True}
        return body

    def _status_error(self, status: int, body: bytes) -> BackendError | None:
        """None when the request should be retried without stream_options."""
        msg = _error_message(body)
        if self._include_usage and status in (400, 422) and "stream_options" in msg:
            self._include_usage = False
            return None
        return self._error(f"HTTP {status}: {msg}")

    def _parse_line(self, line: str) -> Any:
        """One SSE line -> a chunk dict, _DONE, or None for anything else (comments, event:, blank)."""
        if not line.startswith("data:"):
            return None
        data = line[5:].strip()
        if not data:
            return None
        if data == "[DONE]":
            return _DONE
        try:
            obj = json.loads(data)
        except ValueError as e:
            raise self._error(f"malformed stream chunk: {data[:120]!r}") from e
        if isinstance(obj, dict) and obj.get("error"):
            err = obj["error"]
            msg = err.get("message") if isinstance(err, dict) else err
            raise self._error(f"error in stream: {msg}")
        return obj

    @staticmethod
    def _delta(chunk: dict[str, Any], usage: Usage | None, st: _State) -> str:
        if chunk.get("usage"):
            u = chunk["usage"]
            st.usage_seen = True
            if usage is not None:
                usage.prompt_tokens = int(u.get("prompt_tokens") or 0)
                usage.completion_tokens = int(u.get("completion_tokens") or 0)
        choices = chunk.get("choices") or []
        if not choices:
            return ""
        if choices[0].get("finish_reason"):
            st.finished = True
        delta = choices[0].get("delta") or {}
        text = delta.get("content") or ""
        if text:
            st.chunks += 1
            if usage is not None and not st.usage_seen:
                usage.completion_tokens = st.chunks
        return text

    def _text_of(self, line: str, usage: Usage | None, st: _State) -> str:
        """The answer text one SSE line carries ("" for none); the [DONE] line sets st.done."""
        chunk = self._parse_line(line)
        if chunk is _DONE:
            st.done = True
            return ""
        return "" if chunk is None else self._delta(chunk, usage, st)

    def _check_end(self, st: _State) -> None:
        """A stream that just stops (no [DONE], no finish_reason) is a server-side failure, not an answer:
        llama_cpp.server does this when the prompt exceeds its context, or when interrupt_requests cuts it off."""
        if not st.done and not st.finished:
            what = "after a partial answer" if st.chunks else "without a response"
            raise self._error(
                f"stream ended {what} (no [DONE]); see the server log (prompt longer than its context?"
                " llama_cpp.server needs --interrupt_requests False)"
            )

    # ---------------------------------------------------------------- sync

    def stream(self, messages: list[Message], sampling: Sampling, usage: Usage | None = None) -> Iterator[str]:
        st = _State()
        if usage is not None:
            usage.prompt_tokens = usage.completion_tokens = 0
        for _attempt in range(2):
            try:
                with self._client.stream("POST", self.url, json=self._payload(messages, sampling)) as r:
                    if r.status_code >= 400:
                        err = self._status_error(r.status_code, r.read())
                        if err is None:
                            continue
                        raise err
                    for line in r.iter_lines():
                        text = self._text_of(line, usage, st)
                        if st.done:
                            break
                        if text:
                            yield text
                    self._check_end(st)
                    return
            except httpx.HTTPError as e:
                raise self._error(_transport_reason(e)) from e

    def complete(self, messages: list[Message], sampling: Sampling) -> str:
        return "".join(self.stream(messages, sampling)).strip()

    def models(self) -> list[str]:
        """The model ids the server serves (GET /models): a health check."""
        try:
            r = self._client.get(f"{self.base_url}/models", timeout=min(10.0, self.timeout))
        except httpx.HTTPError as e:
            raise self._error(_transport_reason(e)) from e
        if r.status_code >= 400:
            raise self._error(f"HTTP {r.status_code}: {_error_message(r.content)}")
        try:
            return [str(m.get("id")) for m in r.json().get("data", [])]
        except (ValueError, AttributeError) as e:
            raise self._error(f"unexpected /models response: {r.text[:120]!r}") from e

    # ---------------------------------------------------------------- async

    def _async_client(self) -> httpx.AsyncClient:
        # an AsyncClient's pooled connections belong to the loop that opened them
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop or self._aclient.is_closed:
            self._aclient = httpx.AsyncClient(timeout=self._timeout, headers=self._headers)
            self._aclient_loop = loop
        return self._aclient

    async def astream(
        self, messages: list[Message], sampling: Sampling, usage: Usage | None = None
    ) -> AsyncIterator[str]:
        client = self._async_client()
        st = _State()
        if usage is not None:
            usage.prompt_tokens = usage.completion_tokens = 0
        for _attempt in range(2):
            try:
                async with client.stream("POST", self.url, json=self._payload(messages, sampling)) as r:
                    if r.status_code >= 400:
                        err = self._status_error(r.status_code, await r.aread())
                        if err is None:
                            continue
                        raise err
                    async for line in _sse_lines(r):
                        text = self._text_of(line, usage, st)
                        if st.done:
                            break
                        if text:
                            yield text
                    self._check_end(st)
                    return
            except httpx.HTTPError as e:
                raise self._error(_transport_reason(e)) from e

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None

    def __repr__(self) -> str:
        return f"OpenAICompatLLM({self.base_url!r}, model={self.model!r})"
