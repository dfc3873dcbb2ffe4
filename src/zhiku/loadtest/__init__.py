"""Load testing `zhiku serve` (shipped with zhiku, apart from the top-level bench/ scripts): the HTTP load client
(client.py, `zhiku bench serve`), a stand-in upstream LLM (standin.py) and local-server helpers (process.py)."""
