"""The trader's requests to the daemon: cancel, pause, resume, positions accept. Each is one row
in state.db's ``commands`` table (CONTRACTS.md §2), written by ``store.submit_command``.

Before writing, the store is read (read-only) for what decides the answer: a plan that ended or
does not exist is refused (exit 2, with its state or the store named) and nothing is written; a
cancel already waiting is not written twice; and every answer says when the request takes
effect, from the store's lock and the daemon's status document (``render.pickup``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from machines import TERMINAL_STATES, State

from ..config import Config
from .common import EXIT_BAD_INPUT, EXIT_OK, config, read_db


@dataclass(frozen=True, slots=True)
class Daemon:
    """What the store says about the daemon (and, for a plan command, the plan)."""

    pickup: str                  # when a request written now is applied
    plan: Any = None             # the plan's row, or None
    waiting: Any = None          # an unprocessed command of the same kind for that plan, or None
    store: str = ""


def _look(cfg: Config, plan_id: str = "", command: str = "") -> Daemon:
    from .. import render
    from ..store import read
    from ..store.lock import holder_of
    conn = read_db(cfg)
    try:
        path = read.path_of(conn)
        plan = read.plan_row(conn, plan_id) if plan_id else None
        waiting = read.waiting_command(conn, plan_id, command) if plan is not None else None
        pickup = render.pickup(holder_of(path), read.daemon_status(conn), datetime.now(UTC))
    finally:
        conn.close()
    return Daemon(pickup, plan, waiting, str(path))


def _submit(cfg: Config, command: str, plan_id: str = "", **cmd_args: Any) -> int:
    from ..store.commands import submit_command
    return submit_command(cfg.store.url, command, plan_id, {k: v for k, v in cmd_args.items() if v} or None,
                          origin="cli")


def cmd_gate(args: argparse.Namespace, out: TextIO) -> int:
    cfg = config(args)
    symbol = args.symbol.upper() if args.symbol else None
    daemon = _look(cfg)
    cid = _submit(cfg, args.command, symbol=symbol)
    what = f"new entries in {symbol}" if symbol else "all new entries"
    out.write(f"{args.command} of {what} requested (command #{cid}); {daemon.pickup}\n")
    return EXIT_OK


def cmd_positions(args: argparse.Namespace, out: TextIO) -> int:
    cfg = config(args)
    symbol = args.symbol.upper()
    daemon = _look(cfg)
    cid = _submit(cfg, "accept_position", symbol=symbol)
    out.write(f"accepting what IB holds in {symbol} beyond the plans as your own (command #{cid}); new entries in "
              f"{symbol} resume once it is applied; {daemon.pickup}\n")
    return EXIT_OK


def ended(plan: Any) -> str | None:
    """``closed (take_profit)``, ``cancelled (expired before activation)`` … for a plan that
    ended; None for a live one."""
    if plan.state not in TERMINAL_STATES:
        return None
    why = plan.exit_reason if plan.state == State.CLOSED and plan.exit_reason else plan.reason
    return f"{plan.state} ({why})" if why else str(plan.state)


def what_cancel_does(plan: Any) -> str:
    held = int(plan.filled_qty or 0) - int(plan.exited_qty or 0) - int(getattr(plan, "outside_qty", 0) or 0)
    if held > 0:
        return f"its position of {held} shares is flattened"
    if plan.state == State.PENDING:
        return "it never starts"
    return "its unfilled entry is cancelled"


def cmd_cancel(args: argparse.Namespace, out: TextIO) -> int:
    cfg = config(args)
    daemon = _look(cfg, args.plan_id, "cancel")
    plan = daemon.plan
    if plan is None:
        sys.stderr.write(f"orchestrator: no plan {args.plan_id!r} in {daemon.store}; nothing to cancel\n")
        return EXIT_BAD_INPUT
    state = ended(plan)
    if state is not None:
        sys.stderr.write(f"orchestrator: plan {plan.id} is {state}; nothing to cancel\n")
        return EXIT_BAD_INPUT
    if daemon.waiting is not None:
        out.write(f"cancel of {plan.id} already requested (command #{daemon.waiting.id} at "
                  f"{daemon.waiting.created_at[:19].replace('T', ' ')} UTC), not applied yet; {daemon.pickup}\n")
        return EXIT_OK
    cid = _submit(cfg, "cancel", plan.id)
    out.write(f"cancel of {plan.id} requested (command #{cid}): {what_cancel_does(plan)}; {daemon.pickup}\n")
    return EXIT_OK
