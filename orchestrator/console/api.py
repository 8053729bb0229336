"""The JSON API under ``/api/`` (session cookie or ``Authorization: Bearer``); the controls'
POST lives in :mod:`controls`. ``/api/plans`` is exactly ``status --json``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..report import parse_since, report_record
from . import data, gather
from .db import Unavailable
from .web import console, read, unavailable


async def plans(request: Request) -> Response:
    try:
        return JSONResponse(await read(request, data.api_plans))
    except Unavailable as exc:
        if exc.missing:
            return JSONResponse([])  # like `status --json` before anything ran
        return unavailable(request, exc, api=True)


async def plan(request: Request) -> Response:
    plan_id = request.path_params["plan_id"]
    try:
        record = await read(request, gather.api_plan, plan_id)
    except Unavailable as exc:
        return unavailable(request, exc, api=True)
    if record is None:
        return JSONResponse({"error": "no such plan"}, status_code=404)
    return JSONResponse(record)


async def report(request: Request) -> Response:
    text = request.query_params.get("since") or ""
    try:
        since = parse_since(text) if text else None
    except ValueError:
        return JSONResponse({"error": "since: not a date (YYYY-MM-DD) or ISO 8601 time"}, status_code=400)
    try:
        return JSONResponse(report_record(await read(request, gather.report, since)))
    except Unavailable as exc:
        return unavailable(request, exc, api=True)


async def status(request: Request) -> Response:
    try:
        return JSONResponse(await read(request, gather.status, console(request).clock.now()))
    except Unavailable as exc:
        return unavailable(request, exc, api=True)


async def command(request: Request) -> Response:
    try:
        row = await read(request, data.command, int(request.path_params["command_id"]))
    except Unavailable as exc:
        return unavailable(request, exc, api=True)
    if row is None:
        return JSONResponse({"error": "no such command"}, status_code=404)
    return JSONResponse(row)


routes = [
    Route("/api/plans", plans),
    Route("/api/plans/{plan_id:path}", plan),
    Route("/api/report", report),
    Route("/api/status", status),
    Route("/api/commands/{command_id:int}", command),
]
