"""`create_app(settings)`: the FastAPI app, its lifespan, metrics/access-log middleware and the ONE error mapping.

Every failure leaves as {"error": {"type", "message"}} with the status its zhiku.errors class declares.
"""
from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from zhiku.config import Settings
from zhiku.errors import OverloadedError, ZhikuError
from zhiku.serve.body_limit import BodyLimitMiddleware
from zhiku.serve.errors import error_body, error_of
from zhiku.serve.origin_guard import HostRules, OriginGuard
from zhiku.serve.security_headers import SecurityHeadersMiddleware
from zhiku.serve.state import AppState

log = logging.getLogger("zhiku.serve")
access = logging.getLogger("zhiku.access")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        if e.get("type") == "json_invalid":
            parts.append(f"malformed JSON body: {e.get('ctx', {}).get('error', e.get('msg'))}")
        else:
            parts.append(f"{loc}: {e.get('msg')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ZhikuError)
    async def zhiku_error(request: Request, exc: ZhikuError):
        headers = {"Retry-After": str(request.app.state.zhiku.settings.server.retry_after)} if isinstance(
            exc, OverloadedError) else None
        if exc.http_status >= 500 and not isinstance(exc, OverloadedError):
            log.error("%s: %s", type(exc).__name__, exc)
        return JSONResponse(error_of(exc), exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return JSONResponse(error_body("ValidationError", _validation_message(exc)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse(error_body("HTTPError", str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("InternalError", f"{type(exc).__name__}: {exc}"), 500)


class ObserveMiddleware:
    """Request count/latency by route template and status, and one structured access-log line per request."""

    def __init__(self, app, state: AppState):
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status = time.perf_counter(), [500]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            dt = time.perf_counter() - t0
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            m = self.state.metrics
            m.requests.labels(scope["method"], route, str(status[0])).inc()
            m.latency.labels(scope["method"], route, str(status[0])).observe(dt)
            client = scope.get("client") or ("-", 0)
            access.info("request", extra={"fields": {
                "method": scope["method"], "path": scope["path"], "route": route, "status": status[0],
                "ms": round(dt * 1000, 1), "client": client[0],
            }})  # fmt: skip


def create_app(settings: Settings, warm_up: bool = True) -> FastAPI:
    from zhiku.serve.routes import chunks, jobs, kb, keys, ops, openai, rag, rerank, sessions, status, ui

    state = AppState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm_up:
            try:
                await anyio.to_thread.run_sync(state.warm_up)
            except ZhikuError as e:  # /readyz reports it; catalog and search still work
                log.error("model not loaded: %s", e)
        else:
            state.ready = True
        try:
            yield
        finally:
            state.close()

    app = FastAPI(title="知库 zhiku", version="0.1.0", lifespan=lifespan)
    app.state.zhiku = state
    install_error_handlers(app)
    for r in (rag, openai, rerank, kb, chunks, jobs, sessions, keys, ops, status):
        app.include_router(r.router)
    ui.mount(app)
    srv = settings.server
    app.add_middleware(BodyLimitMiddleware, json_limit=int(srv.max_json_mb * 2**20),
                       upload_limit=int(srv.max_request_mb * 2**20))  # fmt: skip
    app.add_middleware(OriginGuard, rules=HostRules(srv.host, srv.allowed_hosts))  # before any body is read
    app.add_middleware(SecurityHeadersMiddleware)  # on every answer, refusals included
    app.add_middleware(ObserveMiddleware, state=state)  # outermost: it sees the 403s and 413s too
    return app


def app_from_env() -> FastAPI:
    """The app of one `zhiku serve --workers N` process, built from the environment the CLI left."""
    from zhiku.config import get_settings
    from zhiku.log import setup_logging

    s = get_settings()
    setup_logging(s.log_level, s.log_json)
    access.setLevel(logging.INFO)
    return create_app(s)
