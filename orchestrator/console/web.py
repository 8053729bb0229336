"""What the routes share: the console's context object, rendering, forms, CSRF and store access."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.templating import Jinja2Templates

from ..clock import Clock
from ..report import holding_text
from ..store.commands import submit_command
from .auth import Gate, Session, csrf_ok
from .db import StoreHandle, Unavailable, Watcher
from .settings import ConsoleSettings
from .tables import money, plan_table, px

HERE = Path(__file__).parent
MAX_FORM_BYTES = 16 * 1024
Submit = Callable[..., int]


@dataclass
class Console:
    settings: ConsoleSettings
    store: StoreHandle
    gate: Gate
    watcher: Watcher
    clock: Clock
    token_source: str
    submit: Submit = submit_command  # the one write path (swapped for orchestrator.store.commands later)
    templates: Jinja2Templates = field(default_factory=lambda: _templates())


def _templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(HERE / "templates"))
    t.env.globals["plan_table"] = plan_table
    t.env.filters["money"] = money
    t.env.filters["px"] = px
    t.env.filters["ts"] = lambda text: (str(text or "")[:19]).replace("T", " ")
    t.env.filters["held"] = holding_text
    return t


def console(request: Request) -> Console:
    return cast(Console, request.app.state.console)


def session(request: Request) -> Session | None:
    return cast(Session | None, request.state.session)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    c = console(request)
    s = session(request)
    base = {"controls": c.settings.controls, "csrf": s.csrf if s else "", "signed_in": s is not None}
    return c.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


async def read(request: Request, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(conn, *args)`` on the store thread; raises Unavailable when there is no readable store."""
    return await console(request).store.call(fn, *args)


def unavailable(request: Request, exc: Unavailable, *, api: bool = False) -> Response:
    status = 200 if exc.missing else 503
    if api:
        store = "missing" if exc.missing else "unreadable"
        return JSONResponse({"error": str(exc), "store": store}, status_code=status)
    return render(request, "nostore.html", status=status, message=str(exc), missing=exc.missing)


async def form(request: Request) -> dict[str, str]:
    """A urlencoded form body (first value of each field); at most MAX_FORM_BYTES."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


async def json_body(request: Request) -> dict[str, Any] | None:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def csrf_valid(request: Request, given: str | None) -> bool:
    """A browser request's CSRF token matches its session's. API calls with a bearer token need
    none: a browser never attaches that header by itself, so another site cannot forge it."""
    if request.state.via == "api":
        return True
    s = session(request)
    return s is not None and csrf_ok(s.csrf, given)


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def origin(request: Request) -> str:
    client = request.client.host if request.client else "unknown"
    return f"console {client} via {request.state.via or 'browser'}"
