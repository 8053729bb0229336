"""The HTML pages and the fragments htmx re-fetches when the event stream says the store changed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..report import parse_since, report_record
from . import data, gather
from .chart import equity_data
from .db import Unavailable
from .web import console, read, render, unavailable


async def _overview(request: Request, template: str) -> Response:
    try:
        ctx = await read(request, gather.overview, console(request).clock.now())
    except Unavailable as exc:
        return unavailable(request, exc)
    return render(request, template, **ctx)


async def overview(request: Request) -> Response:
    return await _overview(request, "overview.html")


async def overview_fragment(request: Request) -> Response:
    return await _overview(request, "_overview.html")


async def plans(request: Request) -> Response:
    state = request.query_params.get("state") or None
    if state is not None and state not in gather.STATE_ORDER:
        return render(request, "error.html", status=404, message=f"no state {state!r}")
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    try:
        ctx = await read(request, gather.plans_list, state, page)
    except Unavailable as exc:
        return unavailable(request, exc)
    return render(request, "plans.html", **ctx)


async def _plan(request: Request, template: str) -> Response:
    plan_id = request.query_params.get("id", "")
    try:
        ctx = await read(request, gather.plan_detail, plan_id)
    except Unavailable as exc:
        return unavailable(request, exc)
    if ctx is None:
        return render(request, "error.html", status=404, message=f"no plan {plan_id!r} in the state database")
    return render(request, template, **ctx)


async def plan(request: Request) -> Response:
    return await _plan(request, "plan.html")


async def plan_fragment(request: Request) -> Response:
    return await _plan(request, "_plan.html")


async def report(request: Request) -> Response:
    since_text = request.query_params.get("since") or ""
    try:
        since = parse_since(since_text) if since_text else None
    except ValueError:
        return render(request, "error.html", status=400, message=f"since: not a date (YYYY-MM-DD): {since_text!r}")
    try:
        result = await read(request, gather.report, since)
    except Unavailable as exc:
        return unavailable(request, exc)
    return render(request, "report.html", report=result, record=report_record(result), since=since_text,
                  equity=equity_data(result.equity_curve))


async def _command(request: Request, template: str) -> Response:
    try:
        cid = int(request.path_params["command_id"])
        row = await read(request, data.command, cid)
    except Unavailable as exc:
        return unavailable(request, exc)
    if row is None:
        return render(request, "error.html", status=404, message="no such command")
    return render(request, template, command=row)


async def command_page(request: Request) -> Response:
    return await _command(request, "command.html")


async def command_fragment(request: Request) -> Response:
    return await _command(request, "_command.html")


routes = [
    Route("/", overview),
    Route("/fragments/overview", overview_fragment),
    Route("/plans", plans),
    Route("/plan", plan),
    Route("/fragments/plan", plan_fragment),
    Route("/report", report),
    Route("/commands/{command_id:int}", command_page),
    Route("/fragments/commands/{command_id:int}", command_fragment),
]
