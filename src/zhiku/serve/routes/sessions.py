"""Chat sessions: create, list, read turns, delete. Chat with one via /api/rag/chat {session_id}."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from zhiku.serve.deps import get_state, user
from zhiku.serve.state import AppState

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


class CreateSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kb: str | None = None
    title: str = Field("", max_length=200)


@router.post("", status_code=201)
def create(req: CreateSession, state: AppState = Depends(get_state), _key=Depends(user)):
    kb = req.kb or state.settings.default_kb
    state.kbs.get(kb)  # 404 for an unknown KB
    return state.sessions.create(kb, req.title)


@router.get("")
def list_sessions(state: AppState = Depends(get_state), _key=Depends(user)):
    return {"sessions": state.sessions.list()}


@router.get("/{sid}")
def get_session(sid: str, state: AppState = Depends(get_state), _key=Depends(user)):
    return {**state.sessions.get(sid), "turns": state.sessions.turns(sid)}


@router.delete("/{sid}")
def delete_session(sid: str, state: AppState = Depends(get_state), _key=Depends(user)):
    state.sessions.delete(sid)
    return {"deleted": sid}
