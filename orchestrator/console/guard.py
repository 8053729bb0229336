"""The ASGI middleware in front of every route: Host check, cross-site refusal, auth, headers.

Order of checks for each HTTP request:

1. ``Host`` must be one the console is bound to (DNS rebinding): else 400.
2. A request that is not GET/HEAD must not come from another site: ``Sec-Fetch-Site`` (when
   sent) must be ``same-origin`` or ``none`` and ``Origin`` (when sent) must be ours: else 403.
   The CSRF token itself is checked by the route, which has the form or JSON body.
3. Except ``/login`` and ``/static/``: a live session cookie, or on ``/api/`` an
   ``Authorization: Bearer`` token. A wrong bearer token counts as a failed login (throttled).
   Pages without a session redirect to ``/login``; the API and the event stream answer 401.

Every response, refusals included, gets the security headers: a CSP that allows only this
origin's scripts and styles (no inline script, no eval), frame denial, nosniff, no referrer to other sites,
no caching of pages. There is no CORS anywhere: no ``Access-Control-*`` header is ever sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from .auth import REFUSED, Gate

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "console_session"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # no-referrer would make browsers send `Origin: null` on our own forms
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
SAFE_METHODS = frozenset({"GET", "HEAD"})


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Guard:
    def __init__(self, app: ASGIApp, *, gate: Gate, hosts: frozenset[str]) -> None:
        self.app = app
        self.gate = gate
        self.hosts = hosts
        self.origins = frozenset(f"http://{h}" for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if not path.startswith("/static/"):
                    headers["cache-control"] = "no-store"
            await send(message)

        refusal = self._refusal(scope, path)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, path: str) -> Response | None:
        headers = Headers(scope=scope)
        if headers.get("host", "") not in self.hosts:
            return PlainTextResponse("invalid Host header", status_code=400)
        if scope["method"] not in SAFE_METHODS:
            site, origin = headers.get("sec-fetch-site"), headers.get("origin")
            if (site is not None and site not in ("same-origin", "none")) or (
                    origin is not None and origin not in self.origins):
                return PlainTextResponse("cross-site request refused", status_code=403)
        state = scope.setdefault("state", {})
        state.update(session=None, sid=None, via=None)
        if path == "/login" or path.startswith("/static/"):
            return None
        api = path.startswith("/api/")
        auth = headers.get("authorization")
        if api and auth is not None:
            return self._bearer(scope, auth, state)
        sid = _cookie(headers, SESSION_COOKIE)
        session = self.gate.session(sid)
        if session is not None:
            state.update(session=session, sid=sid, via="browser")
            return None
        if api or path == "/events":
            return JSONResponse({"error": "authentication required"}, status_code=401,
                                headers={"www-authenticate": "Bearer"})
        return RedirectResponse("/login", status_code=303)

    def _bearer(self, scope: Scope, auth: str, state: dict[str, Any]) -> Response | None:
        client = client_of(scope)
        wait = self.gate.wait_before(client)
        if wait > 0:
            return JSONResponse({"error": "too many failed attempts; try again later"}, status_code=429,
                                headers={"retry-after": str(int(wait) + 1)})
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not self.gate.check(client, token.strip()):
            return JSONResponse({"error": REFUSED}, status_code=401, headers={"www-authenticate": "Bearer"})
        state.update(via="api")
        return None


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None
