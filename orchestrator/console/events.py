"""``/events``: a server-sent event stream that says "the store changed".

Each connected page gets ``event: change`` (data: the change count) within one watcher poll
of a commit; htmx then re-fetches the fragments that listen for it (one rendering path for
first load and updates). A comment line every 15 s keeps proxies from closing the stream; when the server stops, the
stream ends with a proper last chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .web import console

KEEPALIVE_SECONDS = 15


async def events(request: Request) -> Response:
    watcher = console(request).watcher
    shutdown = anyio.Event()  # set by sse-starlette when the server stops: end the stream cleanly

    async def stream() -> AsyncIterator[ServerSentEvent]:
        seen = watcher.count
        yield ServerSentEvent(data=str(seen), event="hello", retry=1000)
        while True:
            change = asyncio.ensure_future(watcher.wait(seen))
            stop = asyncio.ensure_future(shutdown.wait())
            done, pending = await asyncio.wait({change, stop}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if change not in done:
                return
            seen = change.result()
            yield ServerSentEvent(data=str(seen), event="change")

    return EventSourceResponse(stream(), ping=KEEPALIVE_SECONDS, shutdown_event=shutdown, shutdown_grace_period=1)


routes = [Route("/events", events)]
