"""The trader's requests to the daemon: cancel, pause, resume, positions accept. Each is one row
in state.db's ``commands`` table (CONTRACTS.md §2)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from .common import EXIT_BAD_INPUT, EXIT_OK, config


def _submit(args: argparse.Namespace, command: str, plan_id: str = "", **cmd_args: Any) -> int:
    from ..store.commands import submit_command
    cfg = config(args)
    return submit_command(cfg.store.url, command, plan_id, {k: v for k, v in cmd_args.items() if v} or None,
                          origin="cli")


def cmd_gate(args: argparse.Namespace, out: TextIO) -> int:
    symbol = args.symbol.upper() if args.symbol else None
    cid = _submit(args, args.command, symbol=symbol)
    what = f"new entries in {symbol}" if symbol else "all new entries"
    out.write(f"{args.command} of {what} requested (command #{cid}); the daemon applies it within a second, "
              "or at its next start\n")
    return EXIT_OK


def cmd_positions(args: argparse.Namespace, out: TextIO) -> int:
    symbol = args.symbol.upper()
    cid = _submit(args, "accept_position", symbol=symbol)
    out.write(f"accepting what IB holds in {symbol} beyond the plans as your own (command #{cid}); new entries in "
              f"{symbol} resume once the daemon applies it\n")
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace, out: TextIO) -> int:
    from ..clock import SystemClock
    from ..store import Store, open_engine
    cfg = config(args)
    store = Store(cfg.store.url, engine=open_engine(cfg.store.url, create=False))
    try:
        if store.plan_exists(args.plan_id) is None:
            sys.stderr.write(f"orchestrator: no plan {args.plan_id!r} in the state database\n")
            return EXIT_BAD_INPUT
        cid = store.add_command(args.plan_id, "cancel", at=SystemClock().now(), origin="cli")
    finally:
        store.close()
    out.write(f"cancel of {args.plan_id} requested (command #{cid}); a running orchestrator applies it within a "
              "second, a stopped one at its next start\n")
    return EXIT_OK
