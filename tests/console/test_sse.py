"""The event stream over real HTTP: a commit by another connection arrives as ``change``."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx

from orchestrator.clock import FixedClock
from orchestrator.console.app import create_app
from orchestrator.console.settings import ConsoleSettings

from .conftest import NOW
from .servers import serving
from .stores import TOKEN, Built, write


def test_a_commit_reaches_the_stream_within_a_second(built: Built) -> None:
    settings = ConsoleSettings(store_url=built.url)

    def app(port: int):  # type: ignore[no-untyped-def]
        return create_app(replace(settings, port=port), token=TOKEN, clock=FixedClock(NOW), watch_interval=0.1)

    with serving(app) as url, httpx.Client(base_url=url, timeout=5) as http:
        assert http.get("/events").status_code == 401  # no session, no stream
        session = http.post("/login", data={"login_nonce": _nonce(http), "token": TOKEN})
        assert session.status_code == 303
        with http.stream("GET", "/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert _first_data(lines) == ("hello", "0")
            started = time.monotonic()
            write(built.path, "UPDATE plans SET reason='moved' WHERE id='TSLA-WAIT'")
            event = _first_data(lines)
            elapsed = time.monotonic() - started
        assert event == ("change", "1")
        assert elapsed < 1.0, elapsed


def _first_data(lines) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    event = ""
    for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            return event, line.split(":", 1)[1].strip()
    raise AssertionError("the stream ended")


def _nonce(http: httpx.Client) -> str:
    import re
    found = re.search(r'name="login_nonce" value="([^"]+)"', http.get("/login").text)
    assert found
    return found.group(1)
