"""PURE: plan rows as the ``status --json`` objects and as the status tables.

:func:`status_record` is the one place a plan row becomes JSON (``status --json`` and the
console's ``/api/plans``; CONTRACTS.md §3). The tables come in two layouts: the compact one
fits a terminal (80 columns and up) and keeps plan id, state, position, the stop IB confirmed,
net P&L and a reason, the reason cut with an ellipsis, never the id or the state; the wide one
has every column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from machines import State

from .figures import (
    Row,
    clip,
    col,
    commissions,
    contract_text,
    net_pnl,
    num,
    open_qty,
    position_text,
    px,
    reason_text,
    stop_text,
)


def status_record(r: Row) -> dict[str, Any]:
    """One plan as the ``status --json`` object. ``realized_pnl`` is gross (before commissions),
    ``net_pnl`` after them; ``stop_price`` and ``wanted_stop`` are the stop the plan wants,
    ``confirmed_stop`` the one IB last confirmed."""
    paid = commissions(r)
    net = net_pnl(r)
    return {
        "id": r.id,
        "symbol": r.symbol,
        # the contract (a US stock on SMART in USD when the plan names none) and its money
        "sec_type": col(r, "sec_type") or "STK",
        "exchange": col(r, "exchange") or "SMART",
        "currency": col(r, "currency") or "USD",
        "contract_month": col(r, "contract_month"),
        "local_symbol": col(r, "local_symbol"),
        "multiplier": num(col(r, "multiplier") or "1"),
        "base_currency": col(r, "base_currency"),
        "fx_rate": num(col(r, "fx_rate")),
        "risk_base": num(r.risk_amount),
        "side": r.side,
        "state": r.state,
        "entry_type": r.entry_type,
        "quantity": r.quantity,
        "filled_quantity": r.filled_qty,
        "exited_quantity": r.exited_qty,
        "open_quantity": open_qty(r),
        "entry_price": num(r.entry_price),
        "entry_fill_price": num(r.avg_entry_price),
        "sized_price": num(col(r, "sized_price")),
        "entry_cap": num(col(r, "entry_cap")),   # a market entry's limit: the worst fill its risk budget allows
        "stop_price": num(r.stop_price),
        "confirmed_stop": num(col(r, "confirmed_stop_price")),
        "wanted_stop": num(r.stop_price),
        "take_profit": num(r.target_price),
        "exit_price": num(r.avg_exit_price),
        "exit_reason": r.exit_reason,
        "realized_pnl": num(r.realized_pnl) if (r.exited_qty or 0) > 0 else None,
        "commissions": None if paid is None else num(str(paid)),
        "net_pnl": None if net is None else num(str(net)),
        "risk_amount": num(r.risk_amount),
        "planned_risk": num(r.risk_amount),
        "actual_risk": num(col(r, "actual_risk")),
        "reason": r.reason,
        "start_at": col(r, "start_at"),
        "expire_at": col(r, "expire_at"),
        "flatten_at": col(r, "flatten_due"),   # resolved to UTC, like start_at and expire_at
        "times": {name: value for name in ("start", "expire", "flatten_at", "session_day", "on_closed_day")
                  if (value := col(r, name)) is not None},   # the session fields as written
        "tif": col(r, "tif") or "GTC",
        "outside_rth": bool(col(r, "outside_rth", 0)),
        "source_file": col(r, "source_file"),
        "updated_at": r.updated_at,
    }


UNBOUNDED = 10_000  # a console this wide measures a table at its natural width

_STATE_STYLE = {
    State.CLOSED: "green", State.PROTECTED: "cyan", State.TRAILING: "cyan", State.FILLED: "yellow",
    State.REJECTED: "red", State.ERROR: "bold red", State.CANCELLED: "dim",
}


def _state(r: Row) -> str:
    style = _STATE_STYLE.get(State(r.state), "")
    return f"[{style}]{r.state}[/]" if style else str(r.state)


def _net(r: Row) -> str:
    net = net_pnl(r)
    return "" if net is None else f"{net:+,.2f}"


def summary_line(rows: Sequence[Row], pending_notices: int | None, dead_notices: int | None) -> str:
    line = f"{len(rows)} plan{'s' if len(rows) != 1 else ''}"
    if pending_notices is not None:
        line += f" · notifications pending {pending_notices}, dead-lettered {dead_notices or 0}"
    return line


COMPACT = ("plan", "state", "position", "stop", "net P&L", "reason")


def _compact(rows: Sequence[Row], cells: Sequence[tuple[str, ...]], widths: list[int], reasons: list[str]) -> Table:
    t = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
    for name, w in zip(COMPACT, widths):
        t.add_column(name, justify="right" if name == "net P&L" else "left", width=w, no_wrap=True,
                     overflow="ellipsis")
    for r, (plan, _, position, stop, net), reason in zip(rows, cells, reasons):
        t.add_row(plan, _state(r), position, stop, net, clip(reason, widths[-1]))
    return t


def compact_table(rows: Sequence[Row], width: int) -> Table:
    """The table that fits ``width`` columns: every cell whole but the reason, which gets what
    is left (cut with an ellipsis; at least the word "reason")."""
    cells = [(r.id, r.state, position_text(r), stop_text(r), _net(r)) for r in rows]
    widths = [max([len(name), *(len(c[i]) for c in cells)]) for i, name in enumerate(COMPACT[:-1])]
    reasons = [reason_text(r) for r in rows]
    frame = Console(width=UNBOUNDED).measure(_compact(rows, cells, [*widths, 1], reasons)).maximum - 1
    longest = max([len("reason"), *(len(x) for x in reasons)])
    return _compact(rows, cells, [*widths, max(len("reason"), min(width - frame, longest))], reasons)


WIDE = ("plan", "symbol", "side", "state", "qty", "filled", "open", "entry", "stop", "target", "exit", "P&L gross",
        "commissions", "net P&L", "risk", "actual risk", "reason", "updated (UTC)")
_NUMERIC = {"qty", "filled", "open", "entry", "target", "exit", "P&L gross", "commissions", "net P&L", "risk",
            "actual risk"}


def wide_table(rows: Sequence[Row]) -> Table:
    """Every column, nothing cut (the terminal wraps what does not fit)."""
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
    for name in WIDE:
        t.add_column(name, justify="right" if name in _NUMERIC else "left", no_wrap=True, overflow="ignore")
    for r in rows:
        exited = int(r.exited_qty or 0) > 0
        paid = commissions(r)
        t.add_row(r.id, contract_text(r), r.side, _state(r), str(r.quantity or 0), str(r.filled_qty or 0),
                  str(open_qty(r)),
                  px(r.avg_entry_price or r.entry_price), stop_text(r), px(r.target_price), px(r.avg_exit_price),
                  px(r.realized_pnl) if exited else "", px(paid) if paid else "", _net(r), px(r.risk_amount),
                  px(col(r, "actual_risk")), reason_text(r), (r.updated_at or "")[:19].replace("T", " "))
    return t


def status_table(rows: Sequence[Row], *, pending_notices: int | None = None,
                 dead_notices: int | None = None) -> Table:
    """The wide table with its summary as the title (the demo's final status)."""
    t = wide_table(rows)
    t.title, t.title_justify = summary_line(rows, pending_notices, dead_notices), "left"
    return t
