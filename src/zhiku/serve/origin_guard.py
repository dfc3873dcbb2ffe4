"""Host and Origin checks: no DNS-rebinding page may use the API, no other site may write through the user's browser.

Host: a rebinding page (evil.example made to resolve to 127.0.0.1) reaches the server under its own name, so a
request is served only under a name the server is known by: an IP literal (no page can own the server's address),
localhost, server.host, or an entry of server.allowed_hosts.

Origin: a state-changing request a browser sends for another site names that site in Origin (or Referer; or it
says Sec-Fetch-Site: cross-site). It is refused unless that is this server itself (the Host it asked for) or a
name in server.allowed_hosts. A request with none of these headers (curl, SDKs, scripts) is not a page's and
passes.

Both checks apply with and without API keys. Without keys they are what keeps other sites out; with keys a
browser never attaches the key by itself, so a cross-site write would be refused anyway, but the checks cost
legitimate callers nothing (the API sends no CORS headers, so no other origin's page could use it) and the
public parts (/ui, /healthz) stay unreachable to a rebinding page. See docs/security.md.
"""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from starlette.responses import JSONResponse

from zhiku.errors import ConfigError, ForbiddenError
from zhiku.serve.errors import error_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANY_HOST = "*"  # in server.allowed_hosts: skip the Host check (a proxy in front enforces it)
_HOST_SYNTAX = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[^\s/@\[\]:]+)(:\d{1,5})?$")
_DEFAULT_PORT = {"http": 80, "https": 443}


def split_host(value: str) -> tuple[str, int | None] | None:
    """(lower-case name or address without brackets, port or None) of a Host header or URL netloc; None when
    it is not one."""
    if not _HOST_SYNTAX.match(value):
        return None
    parts = urlsplit(f"//{value}")
    try:
        port = parts.port
    except ValueError:
        return None
    return (parts.hostname or "").rstrip("."), port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostRules:
    """The names this server answers to. An entry is `name` (any port), `name:port`, `.domain` (the domain and
    every subdomain) or `*` (no Host check)."""

    def __init__(self, server_host: str, allowed: list[str]):
        self.any_host = ANY_HOST in allowed
        self.domains: list[str] = []  # ".example.com" entries, without the dot
        self.names: list[tuple[str, int | None]] = []  # (name, port or None for any port)
        for entry in (e.strip().lower() for e in allowed):
            if entry.startswith("."):
                self.domains.append(entry[1:].rstrip("."))
            elif entry and entry != ANY_HOST:
                parsed = split_host(entry)
                if parsed is None:
                    raise ConfigError(f"server.allowed_hosts: {entry!r} is not a host name, name:port or .domain")
                self.names.append(parsed)
        self.implicit = {"localhost", server_host.lower().rstrip(".")}

    def listed(self, name: str, port: int | None) -> bool:
        """In server.allowed_hosts (the names an operator vouched for; origins are held to these)."""
        if any(name == d or name.endswith(f".{d}") for d in self.domains):
            return True
        return any(n == name and p in (None, port) for n, p in self.names)

    def serves(self, host: tuple[str, int | None]) -> bool:
        name, port = host
        return self.any_host or _is_ip(name) or name in self.implicit or self.listed(name, port)


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an Origin or Referer value; None for "null" and anything that is not http(s)."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORT or not parts.hostname:
        return None
    try:
        port = parts.port or _DEFAULT_PORT[parts.scheme]
    except ValueError:
        return None
    return parts.scheme, parts.hostname.rstrip("."), port


class OriginGuard:
    def __init__(self, app, rules: HostRules):
        self.app, self.rules = app, rules

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self.problem(scope["method"], headers)
        if problem:
            # the body is never read: Connection: close so an unread upload does not linger on the connection
            response = JSONResponse(error_of(ForbiddenError(problem)), 403, headers={"Connection": "close"})
            return await response(scope, receive, send)
        await self.app(scope, receive, send)

    def problem(self, method: str, headers: dict[str, str]) -> str | None:
        """Why the request is refused, or None."""
        raw_host = headers.get("host", "")
        host = split_host(raw_host) if raw_host else None
        if raw_host and (host is None or not self.rules.serves(host)):
            return (f"Host '{raw_host[:100]}' is not a name this server answers to; if it is, add it to "
                    "server.allowed_hosts (ZHIKU_SERVER__ALLOWED_HOSTS)")  # fmt: skip
        if method in SAFE_METHODS:
            return None
        site = headers.get("sec-fetch-site", "")
        if site == "same-origin":  # said by the browser itself; no page can forge it
            return None
        claimed = headers.get("origin") or headers.get("referer")
        if claimed is None:  # no page named: a script or SDK, unless the browser says it is another site's
            cross = site in ("cross-site", "same-site")
            return f"cross-site request refused (Sec-Fetch-Site: {site})" if cross else None
        origin = _origin_of(claimed)
        if origin is not None and self._own(origin, host):
            return None
        return (f"cross-site request refused: {claimed[:100]!r} is not this server; if it serves this API, add its "
                "host to server.allowed_hosts")  # fmt: skip

    def _own(self, origin: tuple[str, str, int], host: tuple[str, int | None] | None) -> bool:
        scheme, name, port = origin
        if host is not None and (host[0], host[1] or _DEFAULT_PORT[scheme]) == (name, port):
            return True  # the page came from the very address this request was sent to
        return self.rules.listed(name, port)
