"""Request-body size limit: 413 with the usual JSON error, before a large body is read into memory.

A declared Content-Length over the limit is refused without reading a byte; a chunked body is counted as it
arrives and refused the moment it passes the limit. JSON requests get a small limit (server.max_json_mb);
multipart uploads a large one (server.max_request_mb; each file is also held to server.max_upload_mb).
"""
from __future__ import annotations

from starlette.responses import JSONResponse

from zhiku.serve.errors import error_body


class _BodyTooLarge(Exception):
    """Raised into the app's body reader once the 413 is sent; the app's own answer is then dropped."""


class BodyLimitMiddleware:
    def __init__(self, app, json_limit: int, upload_limit: int):
        self.app, self.json_limit, self.upload_limit = app, json_limit, upload_limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit = self.upload_limit if multipart else self.json_limit
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _too_large(scope, receive, send, limit)
        seen, refused = 0, False

        async def counting_receive():
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not refused:
                    refused = True
                    await _too_large(scope, receive, send, limit)
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass


async def _too_large(scope, receive, send, limit: int) -> None:
    body = error_body("PayloadTooLargeError", f"request body larger than {limit / 2**20:g} MB")
    await JSONResponse(body, 413, headers={"Connection": "close"})(scope, receive, send)
