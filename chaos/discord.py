"""A Discord webhook stand-in for chaos runs: HTTP/1.1 on 127.0.0.1, in the harness's loop.

It answers 200 (as ``?wait=true`` does) unless a storm is armed: the next N requests get 503,
or 429 with ``retry_after`` and ``X-RateLimit-*`` headers, as Discord sends them. Every request
is recorded (status given, the embed footer ``PLAN · step N · a → b``) so a run can check that
every transition reached "Discord" at least once. The URL's token is a secret the orchestrator
must never print; the stand-in never writes it anywhere.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

WEBHOOK_ID = "123"
TOKEN = "SECRET-TOKEN-XYZ"
_FOOTER = re.compile(r"^(?P<plan>[^ ]+) · step (?P<seq>\d+)")


@dataclass
class Seen:
    status: int
    plan: str | None
    seq: int | None
    path_ok: bool


class DiscordStandIn:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.port = 0
        self.seen: list[Seen] = []
        self._storms: deque[list[Any]] = deque()   # [status, replies left, retry_after]
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self.storms: list[int] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/webhooks/{WEBHOOK_ID}/{self.token}"

    async def start(self) -> DiscordStandIn:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._conns):
                t.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def storm(self, status: int, count: int, retry_after: float = 0.0) -> None:
        """The next ``count`` requests (after any storm already armed) get ``status`` (503 or 429)."""
        self._storms.append([status, count, retry_after])
        self.storms.append(status)

    def calm(self) -> Counter[str]:
        """End every storm; returns how many storms of each kind ran to their end."""
        whole = Counter(self.storms)
        for status, left, _ in self._storms:
            if left:
                whole[status] -= 1
        self._storms.clear()
        self.storms.clear()
        return Counter({f"discord.{k}": v for k, v in whole.items()})

    def _next(self) -> tuple[int, float]:
        while self._storms and self._storms[0][1] <= 0:
            self._storms.popleft()
        if not self._storms:
            return 200, 0.0
        head = self._storms[0]
        head[1] -= 1
        status, retry = head[0], head[2]
        if head[1] <= 0:
            self._storms.popleft()
        return status, retry

    def delivered(self) -> set[tuple[str, int]]:
        return {(s.plan, s.seq) for s in self.seen if s.status == 200 and s.plan is not None and s.seq is not None}

    def _record(self, path: str, body: bytes, status: int) -> None:
        plan = seq = None
        try:
            footer = json.loads(body)["embeds"][0]["footer"]["text"]
            m = _FOOTER.match(footer)
            if m:
                plan, seq = m["plan"], int(m["seq"])
        except (ValueError, KeyError, IndexError, TypeError):
            pass
        self.seen.append(Seen(status, plan, seq, path == f"/api/webhooks/{WEBHOOK_ID}/{self.token}"))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                _method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                try:
                    body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                except (asyncio.IncompleteReadError, ConnectionError):
                    return   # the sender died mid-request (a kill): nothing was delivered
                status, retry_after = self._next()
                self._record(target.split("?", 1)[0], body, status)
                extra: dict[str, str] = {}
                if status == 200:
                    data = json.dumps({"id": str(len(self.seen)), "type": 0, "webhook_id": WEBHOOK_ID}).encode()
                elif status == 429:
                    data = json.dumps({"message": "You are being rate limited.", "retry_after": retry_after,
                                       "global": False}).encode()
                    extra = {"Retry-After": str(max(1, round(retry_after))), "X-RateLimit-Limit": "5",
                             "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                             "X-RateLimit-Scope": "user"}
                elif status in (401, 403, 404):
                    data = json.dumps({"message": "Unknown Webhook", "code": 10015}).encode()
                else:
                    data = b"upstream connect error"
                reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests",
                          503: "Service Unavailable"}.get(status, "Error")
                hdrs = {"Content-Type": "application/json" if status != 503 else "text/plain", **extra,
                        "Content-Length": str(len(data))}
                out = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
                try:
                    writer.write(out.encode("latin-1") + data)
                    await writer.drain()
                except ConnectionError:
                    return
        finally:
            writer.close()
            self._conns.discard(task)
