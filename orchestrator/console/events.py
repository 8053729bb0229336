"""``/events``: a server-sent event stream that says "the store changed".

Each connected page gets ``event: change`` (data: the change count) within one watcher poll
of a commit; htmx then re-fetches the fragments that listen for it (one rendering path for
first load and updates). A comment line every 15 s keeps proxies from closing the stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .web import console

KEEPALIVE_SECONDS = 15


async def events(request: Request) -> Response:
    watcher = console(request).watcher

    async def stream() -> AsyncIterator[ServerSentEvent]:
        seen = watcher.count
        yield ServerSentEvent(data=str(seen), event="hello", retry=1000)
        while True:
            seen = await watcher.wait(seen)
            yield ServerSentEvent(data=str(seen), event="change")

    return EventSourceResponse(stream(), ping=KEEPALIVE_SECONDS)


routes = [Route("/events", events)]
