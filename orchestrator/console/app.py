"""The console as an ASGI app: routes, static files, the guard, and the store watcher's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..clock import Clock, SystemClock
from ..store.commands import submit_command
from . import api, controls, events, login, pages
from .auth import Gate
from .db import StoreHandle, Watcher
from .guard import Guard
from .settings import ConsoleSettings
from .web import HERE, Console, Submit


def create_app(settings: ConsoleSettings, *, token: str, token_source: str = "", clock: Clock | None = None,
               watch_interval: float = 0.25, submit: Submit = submit_command) -> Starlette:
    """The app. ``clock`` drives sessions, the login throttle and the heartbeat age; ``submit`` is
    the command writer (a seam for the store's own ``submit_command``)."""
    clock = clock or SystemClock()
    store = StoreHandle(settings.store_url)
    gate = Gate(token=token, clock=clock)
    state = Console(settings=settings, store=store, gate=gate, watcher=Watcher(store, watch_interval), clock=clock,
                    token_source=token_source, submit=submit)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.watcher.start()
        try:
            yield
        finally:
            await state.watcher.stop()
            store.close()

    routes = [*login.routes, *pages.routes, *controls.routes, *api.routes, *events.routes,
              Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(Guard, gate=gate, hosts=settings.host_headers())])
    app.state.console = state
    return app
