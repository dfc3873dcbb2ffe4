"""Browser hardening headers on every response; the web UI also gets a Content-Security-Policy.

The UI is module scripts and one stylesheet from /ui itself, talking only to this server (see serve/ui: no inline
script or style, no eval, no external URL; the favicon is a data: URL), so its policy allows exactly that: an
injected <script> or markup from a document could run nothing and send nothing elsewhere. Nothing may frame
any page (clickjacking), no response is content-sniffed into something executable, and no URL of this server
leaks to another site in a Referer.
"""
from __future__ import annotations

from starlette.datastructures import MutableHeaders

UI_PREFIX = "/ui"
UI_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")  # fmt: skip
ALWAYS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


class SecurityHeadersMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        ui = scope["path"] == UI_PREFIX or scope["path"].startswith(UI_PREFIX + "/")

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                if ui:
                    headers.setdefault("Content-Security-Policy", UI_CSP)
            await send(message)

        await self.app(scope, receive, with_headers)
