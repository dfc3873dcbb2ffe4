"""Request dependencies: the shared state and the API-key check (one place for auth)."""
from __future__ import annotations

from fastapi import Depends, Request

from zhiku.serve.auth import KeyInfo, check_scope
from zhiku.serve.sessions import Viewer
from zhiku.serve.state import AppState


def get_state(request: Request) -> AppState:
    return request.app.state.zhiku


def _token(request: Request) -> str | None:
    h = request.headers.get("authorization", "")
    if h.lower().startswith("bearer "):
        return h[7:].strip()
    return request.headers.get("x-api-key")


def _key(request: Request, state: AppState) -> KeyInfo | None:
    if not state.auth_enabled:
        return None  # no keys: the server is bound to loopback only (see cli.serve)
    return state.keys.verify(_token(request))


def user(request: Request, state: AppState = Depends(get_state)) -> KeyInfo | None:
    """Chat, search, sessions, reading the catalog."""
    return _key(request, state)


def admin(request: Request, state: AppState = Depends(get_state)) -> KeyInfo | None:
    """Managing knowledge bases, uploads and keys."""
    key = _key(request, state)
    check_scope(key, "admin")
    return key


def viewer(key: KeyInfo | None) -> Viewer:
    """Whose sessions a request may see: its own key's, all for an admin key, all without auth."""
    return None if key is None else (key.id, key.scope == "admin")
