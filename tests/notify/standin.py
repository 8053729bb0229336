"""A scriptable stand-in for Discord's webhook endpoint: real HTTP/1.1 on 127.0.0.1.

It records every request (clock time, monotonic time, path, query, JSON body) and answers
from a script: queued replies first, then ``responder(request)`` (default: 200 with a message
object, as ``?wait=true`` gives). Replies can be ordinary, :data:`HANG` (never answer, until
:meth:`release` or stop) or :data:`DROP` (read the request, close the connection unanswered).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from orchestrator.clock import Clock, SystemClock

TOKEN = "tK9-SeCrEt_t0ken_ZZqXwv4r8mN2pL7yH3jB6dF1gC5s"
WEBHOOK_ID = "112233445566778899"

_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 408: "Request Timeout", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


HANG = "hang"
DROP = "drop"


def ok() -> Reply:
    return Reply(200, None)


def rate_limited(retry_after: float, *, is_global: bool = False, header_only: bool = False) -> Reply:
    headers = {"Retry-After": str(max(1, round(retry_after))), "X-RateLimit-Limit": "5",
               "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": f"{retry_after:.3f}",
               "X-RateLimit-Scope": "global" if is_global else "user", "X-RateLimit-Bucket": "abcd1234"}
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    if header_only:
        headers["Retry-After"] = f"{retry_after:g}"
        return Reply(429, "<html>slow down</html>", {**headers, "Content-Type": "text/html"})
    return Reply(429, {"message": "You are being rate limited.", "retry_after": retry_after,
                       "global": is_global}, headers)


def unavailable() -> Reply:
    return Reply(503, "upstream connect error", {"Content-Type": "text/plain"})


def unknown_webhook(status: int = 404) -> Reply:
    return Reply(status, {"message": "Unknown Webhook", "code": 10015})


def invalid_form_body() -> Reply:
    return Reply(400, {"code": 50035, "message": "Invalid Form Body", "errors": {"embeds": {"0": {"fields": {
        "1": {"value": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                                     "message": "Must be 1024 or fewer in length."}]}}}}}}})


@dataclass
class Request:
    at: datetime          # the stand-in's clock (the sender's injected clock) when it arrived
    mono: float           # time.monotonic() when it arrived
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    answered: str = ""    # the status it got, "hang" or "drop"

    @property
    def embed(self) -> dict[str, Any]:
        return self.body["embeds"][0]

    @property
    def key(self) -> tuple[str, int]:
        """(plan id, step) from the footer ``PLAN · step N · a → b``."""
        parts = self.embed["footer"]["text"].split(" · ")
        step = next((int(p.split()[1]) for p in parts if p.startswith("step ")), 0)
        return parts[0], step


class DiscordStandIn:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.requests: list[Request] = []
        self.replies: deque[Reply | str] = deque()
        self.responder: Callable[[Request], Reply | str] = lambda req: ok()
        self.on_reply: Callable[[Request, Reply | str], None] | None = None
        self._changed = asyncio.Condition()
        self._release = asyncio.Event()
        self._stop = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.reply_times: list[tuple[datetime, Request, Reply | str]] = []

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> DiscordStandIn:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.close()  # the handlers see EOF and return (cancelling them makes 3.11's asyncio log errors)
        await asyncio.gather(*self._conns, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/webhooks/{WEBHOOK_ID}/{TOKEN}"

    # ------------------------------------------------------------------ scripting
    def queue(self, *replies: Reply | str) -> None:
        self.replies.extend(replies)

    def release(self) -> None:
        """Hung requests get answered (200) now, and later HANGs answer at once."""
        self._release.set()

    async def wait_requests(self, n: int, timeout: float = 10.0) -> list[Request]:
        """Wait (on an event, not a sleep) until at least ``n`` requests arrived."""
        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.requests) >= n)
        await asyncio.wait_for(until(), timeout)
        return self.requests

    async def wait_for(self, predicate: Callable[[DiscordStandIn], bool], timeout: float = 10.0) -> None:
        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))
        await asyncio.wait_for(until(), timeout)

    def delivered(self) -> list[Request]:
        return [r for r in self.requests if r.answered.isdigit() and 200 <= int(r.answered) < 300]

    # ------------------------------------------------------------------ HTTP
    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        self._writers.add(writer)
        try:
            while not self._stop.is_set():
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                parts = urlsplit(target)
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                req = Request(self.clock.now(), time.monotonic(), method, parts.path, parse_qs(parts.query), body)
                reply = self.replies.popleft() if self.replies else self.responder(req)
                self.requests.append(req)
                if reply == HANG:
                    req.answered = HANG
                    await self._notify()
                    waiters = [asyncio.ensure_future(self._release.wait()), asyncio.ensure_future(self._stop.wait())]
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                    for w in waiters:
                        w.cancel()
                    if self._stop.is_set():
                        return
                    reply = ok()
                if reply == DROP:
                    req.answered = DROP
                    self.reply_times.append((self.clock.now(), req, reply))
                    await self._notify()
                    return
                assert isinstance(reply, Reply)
                self.reply_times.append((self.clock.now(), req, reply))
                if reply.status == 200 and reply.body is None:
                    reply = Reply(200, {"id": str(1000 + len(self.requests)), "type": 0,
                                        "webhook_id": WEBHOOK_ID}, reply.headers)
                data = (b"" if reply.body is None else reply.body.encode() if isinstance(reply.body, str)
                        else json.dumps(reply.body).encode())
                hdrs = {"Content-Type": "application/json", **reply.headers, "Content-Length": str(len(data))}
                req.answered = str(reply.status)
                out = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
                out += "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
                try:
                    writer.write(out.encode("latin-1") + data)
                    await writer.drain()
                except ConnectionError:
                    req.answered = "lost"
                    await self._notify()
                    return
                await self._notify()
        finally:
            self._writers.discard(writer)
            writer.close()
            self._conns.discard(task)
