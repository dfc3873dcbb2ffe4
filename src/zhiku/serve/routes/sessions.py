"""Chat sessions: create, list, read turns, delete. Chat with one via /api/rag/chat {session_id}.

A session belongs to the API key that created it: another user key gets 404 for it and does not see it in
lists; admin keys see all.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from zhiku.serve.auth import KeyInfo
from zhiku.serve.deps import get_state, user, viewer
from zhiku.serve.state import AppState

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


class CreateSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kb: str | None = None
    title: str = Field("", max_length=200)


@router.post("", status_code=201)
def create(req: CreateSession, state: AppState = Depends(get_state), key: KeyInfo | None = Depends(user)):
    kb = req.kb or state.settings.default_kb
    state.kbs.get(kb)  # 404 for an unknown KB
    return state.sessions.create(kb, req.title, owner=key.id if key else None)


@router.get("")
def list_sessions(state: AppState = Depends(get_state), key: KeyInfo | None = Depends(user)):
    return {"sessions": state.sessions.list(viewer(key))}


@router.get("/{sid}")
def get_session(sid: str, state: AppState = Depends(get_state), key: KeyInfo | None = Depends(user)):
    return {**state.sessions.get(sid, viewer(key)), "turns": state.sessions.turns(sid, viewer(key))}


@router.delete("/{sid}")
def delete_session(sid: str, state: AppState = Depends(get_state), key: KeyInfo | None = Depends(user)):
    state.sessions.delete(sid, viewer(key))
    return {"deleted": sid}
