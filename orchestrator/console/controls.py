"""Controls (off unless ``[console] controls = true``): pause/resume entries, cancel, flatten.

Each one is confirmed first — a GET shows what will happen and asks (cancel and flatten want
the plan id typed again) — then a POST with the CSRF token writes one command row through
``Console.submit`` and the browser is sent to that command's page, which shows live whether the
daemon carried it out. Nothing here touches plan state: the daemon is its only writer.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import StoreError
from ..store.commands import PLAN_COMMANDS
from . import data
from .db import Unavailable
from .web import console, csrf_valid, form, json_body, origin, read, render

COMMANDS = ("cancel", "flatten", "pause", "resume")  # the controls the console offers

SYMBOL = re.compile(r"^[A-Za-z0-9.\-/ ]{1,24}$")
OFF = "controls are off: set [console] controls = true in config.toml and restart the console"
WHAT = {
    "pause": "stop opening new entries{for_symbol}; working orders and protection at IB stay as they are",
    "resume": "allow new entries again{for_symbol}",
    "cancel": "cancel plan {plan_id}: an unfilled entry is cancelled; if it has filled, the position is flattened",
    "flatten": "flatten plan {plan_id}: exit the whole position now at market and cancel its stop and target",
}


async def _check(request: Request, command: str, plan_id: str, symbol: str) -> str | None:
    """Why the command cannot be asked for, or None."""
    if command not in COMMANDS:
        return f"unknown control {command!r}"
    if command in PLAN_COMMANDS:
        if not plan_id:
            return f"{command} needs a plan"
        if await read(request, data.plan, plan_id) is None:
            return f"no plan {plan_id!r} in the state database"
    elif plan_id:
        return f"{command} is not about one plan"
    if symbol and not SYMBOL.match(symbol):
        return "symbol: letters, digits, '.', '-', '/' or spaces, at most 24"
    return None


def describe(command: str, plan_id: str, symbol: str) -> str:
    return WHAT.get(command, command).format(plan_id=plan_id, for_symbol=f" on {symbol}" if symbol else "")


async def confirm_page(request: Request) -> Response:
    if not console(request).settings.controls:
        return render(request, "error.html", status=403, message=OFF)
    q = request.query_params
    command, plan_id, symbol = q.get("command", ""), q.get("plan_id", ""), q.get("symbol", "").strip().upper()
    try:
        problem = await _check(request, command, plan_id, symbol)
    except Unavailable as exc:
        problem = str(exc)
    if problem:
        return render(request, "error.html", status=400, message=problem)
    return render(request, "confirm.html", command=command, plan_id=plan_id, symbol=symbol,
                  what=describe(command, plan_id, symbol), typed=command in PLAN_COMMANDS)


async def _submit(request: Request, command: str, plan_id: str, symbol: str) -> tuple[int, dict[str, Any]]:
    c = console(request)
    try:
        problem = await _check(request, command, plan_id, symbol)
    except Unavailable as exc:
        return 503, {"error": str(exc)}
    if problem:
        return 400, {"error": problem}
    args = {"symbol": symbol} if symbol else ({} if command in ("pause", "resume") else None)
    try:
        cid = await run_in_threadpool(c.submit, c.store.url, command, plan_id, args, origin(request))
    except StoreError as exc:
        return 409, {"error": str(exc)}
    return 202, {"id": cid, "command": command, "plan_id": plan_id, "args": args, "status": f"/api/commands/{cid}"}


async def submit_form(request: Request) -> Response:
    if not console(request).settings.controls:
        return render(request, "error.html", status=403, message=OFF)
    f = await form(request)
    if not csrf_valid(request, f.get("csrf")):
        return render(request, "error.html", status=403, message="missing or wrong CSRF token: reload the page")
    command, plan_id, symbol = f.get("command", ""), f.get("plan_id", ""), f.get("symbol", "").strip().upper()
    wanted = plan_id if command in PLAN_COMMANDS else "yes"
    if f.get("confirm", "").strip() != wanted:
        return render(request, "confirm.html", status=400, command=command, plan_id=plan_id, symbol=symbol,
                      what=describe(command, plan_id, symbol), typed=command in PLAN_COMMANDS,
                      error="not confirmed: type the plan id exactly as shown" if command in PLAN_COMMANDS
                      else "not confirmed")
    status, body = await _submit(request, command, plan_id, symbol)
    if status != 202:
        return render(request, "error.html", status=status, message=body["error"])
    return RedirectResponse(f"/commands/{body['id']}", status_code=303)


async def submit_api(request: Request) -> Response:
    if not console(request).settings.controls:
        return JSONResponse({"error": OFF}, status_code=403)
    if not csrf_valid(request, request.headers.get("x-csrf-token")):
        return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
    body = await json_body(request)
    if body is None:
        return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
    args = body.get("args") or {}
    symbol = args.get("symbol", "") if isinstance(args, dict) else ""
    status, payload = await _submit(request, str(body.get("command", "")), str(body.get("plan_id") or ""),
                                    str(symbol).strip().upper())
    return JSONResponse(payload, status_code=status)


routes = [
    Route("/controls/confirm", confirm_page, methods=["GET"]),
    Route("/controls", submit_form, methods=["POST"]),
    Route("/api/controls", submit_api, methods=["POST"]),
]
