"""Operations: liveness, readiness (model loaded), Prometheus metrics. Unauthenticated by design: no data."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from zhiku.serve.deps import get_state
from zhiku.serve.state import AppState

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz():
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: AppState = Depends(get_state)):
    g = state.gate
    body = {"ready": state.ready, "generation_busy": g.busy, "running": g.running, "slots": g.slots, "queue": g.waiting,
            "pending_retrieval": g.pending}
    return JSONResponse(body, 200 if state.ready else 503)


@router.get("/metrics")
async def metrics(state: AppState = Depends(get_state)):
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
