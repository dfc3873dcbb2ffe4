"""The web UI at /ui: static files shipped inside the package (no build step, nothing fetched from outside).

The page is public (it holds no data); everything it shows comes from the /api routes, with the user's key.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

UI_DIR = Path(__file__).resolve().parent.parent / "ui"

router = APIRouter(include_in_schema=False)


@router.get("/")
@router.get("/ui")
async def to_ui():
    return RedirectResponse("/ui/")


class UIFiles(StaticFiles):
    """Static files revalidated on every load, so an upgraded server never runs with a stale cached app.js."""

    def file_response(self, *args, **kw):
        resp = super().file_response(*args, **kw)
        resp.headers["Cache-Control"] = "no-cache"
        return resp


def mount(app) -> None:
    app.include_router(router)
    app.mount("/ui", UIFiles(directory=UI_DIR, html=True), name="ui")
