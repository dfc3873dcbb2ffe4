"""Ingest jobs: state, progress and the final report (failed files are named there)."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from zhiku.serve.deps import get_state, user
from zhiku.serve.state import AppState

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("")
async def list_jobs(state: AppState = Depends(get_state), _key=Depends(user)):
    return {"jobs": [j.to_dict() for j in state.jobs.list()]}


@router.get("/{job_id}")
async def get_job(job_id: str, state: AppState = Depends(get_state), _key=Depends(user)):
    return state.jobs.get(job_id).to_dict()
