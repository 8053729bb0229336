"""Fixtures: a state.db written by the real store, and the console app on it behind httpx (in-process)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.clock import FixedClock
from orchestrator.console.app import create_app
from orchestrator.console.settings import ConsoleSettings

from .stores import T0, TOKEN, Built, build_store, daemon_doc

NOW = T0 + timedelta(minutes=1)
BASE = "http://127.0.0.1:8765"


class Client:
    """httpx against the ASGI app in this process, driven from sync tests on a loop of its own.
    (The app's lifespan — the SSE watcher — is not run here; the SSE tests use a real server.)"""

    def __init__(self, app: Any, client: tuple[str, int]) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client), base_url=BASE)

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, path, **kw))

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def options(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("OPTIONS", path, **kw)

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.app.state.console.store.close()
        self.loop.close()


Factory = Callable[..., Client]


@pytest.fixture
def built(tmp_path: Path) -> Built:
    return build_store(tmp_path, daemon=daemon_doc(NOW))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def make_client(built: Built, clock: FixedClock) -> Iterator[Factory]:
    """``make_client(controls=False, url=None, signed_in=True)`` → a Client (lifespan running)."""
    clients: list[Client] = []

    def make(*, controls: bool = False, url: str | None = None, signed_in: bool = True,
             client: tuple[str, int] = ("127.0.0.1", 50000)) -> Client:
        settings = ConsoleSettings(store_url=url or built.url, controls=controls)
        app = create_app(settings, token=TOKEN, token_source="test", clock=clock, watch_interval=0.05)
        c = Client(app, client)
        clients.append(c)
        if signed_in:
            sign_in(c)
        return c

    yield make
    for c in clients:
        c.close()


def login_nonce(c: Client) -> str:
    page = c.get("/login")
    found = re.search(r'name="login_nonce" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_in(c: Client, token: str = TOKEN) -> None:
    r = c.post("/login", data={"login_nonce": login_nonce(c), "token": token})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text


def csrf_of(c: Client) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', c.get("/").text)
    assert found
    return found.group(1)
