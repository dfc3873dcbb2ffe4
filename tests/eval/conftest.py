"""The real llama_cpp.server (0.5B) of tests/generate, shared as the faithfulness judge's endpoint."""
from generate.conftest import llama_server, small_gguf  # noqa: F401 - fixtures, re-used not re-written
