"""Ingest jobs: state, progress and the final report (failed files are named there).

Admin keys only: jobs come from uploads, which need an admin key, and a report names every uploaded file, so a
user key has no job of its own to follow and may not read other people's.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends

from zhiku.serve.deps import admin, get_state
from zhiku.serve.state import AppState

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("")
async def list_jobs(state: AppState = Depends(get_state), _key=Depends(admin)):
    return {"jobs": [j.to_dict() for j in state.jobs.list()]}


@router.get("/{job_id}")
async def get_job(job_id: str, state: AppState = Depends(get_state), _key=Depends(admin)):
    return state.jobs.get(job_id).to_dict()
