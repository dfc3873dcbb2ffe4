"""API keys over HTTP, for admin keys: create (the secret is in this one answer), list, revoke."""
from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from zhiku.serve.auth import KeyInfo
from zhiku.serve.deps import admin, get_state
from zhiku.serve.state import AppState

router = APIRouter(prefix="/api/keys", tags=["keys"])


class CreateKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: str = Field("user", pattern="^(user|admin)$")
    name: str = Field("", max_length=200)


@router.post("", status_code=201)
async def create_key(req: CreateKey, state: AppState = Depends(get_state), _key: KeyInfo | None = Depends(admin)):
    info, token = await anyio.to_thread.run_sync(state.keys.create, req.scope, req.name)
    return {**info.to_dict(), "key": token}


@router.get("")
async def list_keys(state: AppState = Depends(get_state), _key: KeyInfo | None = Depends(admin)):
    return {"keys": [k.to_dict() for k in await anyio.to_thread.run_sync(state.keys.list)]}


@router.delete("/{key_id}")
async def revoke_key(key_id: str, state: AppState = Depends(get_state), _key: KeyInfo | None = Depends(admin)):
    await anyio.to_thread.run_sync(state.keys.revoke, key_id)
    return {"revoked": key_id}
