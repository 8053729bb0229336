"""Login and logout: the token is exchanged for a session cookie.

The login form carries a one-time value that must match a cookie set with the form (double
submit), so another site cannot log a browser in; wrong tokens are all refused with the same
words, and after a few failures attempts are not even checked until the wait is over.
"""

from __future__ import annotations

import re
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .auth import REFUSED, SESSION_SECONDS
from .guard import SESSION_COOKIE, client_of
from .web import console, csrf_valid, form, render, same

LOGIN_COOKIE = "console_login"
NONCE = re.compile(r"[A-Za-z0-9_-]{32}")


def _login_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    # keep the nonce of an open form: a second GET (another tab, a reload) must not expire it
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    if not NONCE.fullmatch(nonce):
        nonce = secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, error=error, login_nonce=nonce)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=900, path="/login", httponly=True, samesite="strict")
    return response


async def login_form(request: Request) -> Response:
    return _login_page(request)


async def login(request: Request) -> Response:
    c = console(request)
    fields = await form(request)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not same(nonce, fields.get("login_nonce", "")):
        return _login_page(request, 403, "this form has expired: sign in again")
    client = client_of(request.scope)
    wait = c.gate.wait_before(client)
    if wait > 0:
        response = _login_page(request, 429, f"too many failed attempts: wait {int(wait) + 1} s and try again")
        response.headers["retry-after"] = str(int(wait) + 1)
        return response
    if not c.gate.check(client, fields.get("token", "").strip()):
        return _login_page(request, 401, REFUSED)
    sid, _ = c.gate.open_session()
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, sid, max_age=SESSION_SECONDS, path="/", httponly=True, samesite="strict")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    fields = await form(request)
    if not csrf_valid(request, fields.get("csrf")):
        return render(request, "error.html", status=403, message="missing or wrong CSRF token")
    console(request).gate.close_session(request.state.sid)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


routes = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
