"""The one shape every API error has, {"error": {"type", "message"}}: HTTP error responses (serve/app.py,
serve/body_limit.py) and errors sent mid-stream as an SSE event (serve/routes)."""
from __future__ import annotations


def error_body(kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}


def error_of(e: Exception) -> dict:
    return error_body(type(e).__name__, str(e))
