"""SSE helpers shared by the native and OpenAI-compatible streams."""
from __future__ import annotations

from sse_starlette import EventSourceResponse

from zhiku.serve.generation import Ticket


class GatedSSE(EventSourceResponse):
    """An SSE response that always hands its generation ticket back, even when the client went away before
    the body started (an async generator that never started would never run its `finally`)."""

    def __init__(self, content, ticket: Ticket, **kw):
        # on shutdown a running answer may finish within the drain time (kept under uvicorn's own timeout)
        grace = max(ticket.gate.drain_seconds - 1, 0)
        super().__init__(content, ping=15, shutdown_grace_period=grace, **kw)
        self.ticket = ticket

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.ticket.close()
