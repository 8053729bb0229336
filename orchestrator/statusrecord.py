"""PURE: a plan row as the ``status --json`` object (CONTRACTS.md §3), on the standard library alone.

:func:`status_record` is the one place a plan row becomes JSON: ``status --json``, the
console's ``/api/plans`` and the status tables' figures all come from here. It imports neither
the pure core (``machines``) nor pydantic nor Rich, so that ``orchestrator status --json``
answers in about the time a bare Python takes to read the same rows (bench/restart.py, P3).
Rows are ``store.read`` rows (columns as attributes); a column an older store lacks reads as
unknown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

Row = Any


def col(r: Row, name: str, default: Any = None) -> Any:
    """A column of the row, or ``default`` for a store from before that column existed."""
    return getattr(r, name, default)


def dec(text: Any) -> Decimal | None:
    return None if text is None else Decimal(str(text))


def num(text: str | None) -> float | int | None:
    """A stored decimal for JSON: an int when it was written without a point, else a float.

    The common forms take a shortcut worth most of ``status --json``'s time at 10,000 plans: a
    plain integer through ``int``, a figure with a point through ``float`` (the same correctly
    rounded double that ``float(Decimal(text))`` gives). Anything else goes the exact way."""
    if text is None:
        return None
    try:
        if "." in text:
            return float(text)
        whole = int(text)
        if abs(whole) < 10**15:
            return whole
    except ValueError:
        pass
    return exact_num(text)


def exact_num(text: str) -> float | int:
    """:func:`num` through :class:`~decimal.Decimal`, for every form (``1E+2``, ``NaN``, big ones)."""
    d = Decimal(text)
    return int(d) if d == d.to_integral_value() and abs(d) < 10**15 and "." not in text else float(d)


def open_qty(r: Row) -> int:
    """Shares the plan holds now: filled, less exited, less what left outside the orchestrator."""
    return int(r.filled_qty or 0) - int(r.exited_qty or 0) - int(col(r, "outside_qty", 0) or 0)


def commissions(r: Row) -> Decimal | None:
    return dec(col(r, "commissions"))


def net_pnl(r: Row) -> Decimal | None:
    """Realized P&L less commissions, once anything exited (None before: nothing is realized)."""
    if int(r.exited_qty or 0) <= 0 or r.realized_pnl is None:
        return None
    return Decimal(r.realized_pnl) - (commissions(r) or Decimal(0))


_TIMES = ("start", "expire", "flatten_at", "session_day", "on_closed_day")  # the plan file's session fields


def status_record(r: Row) -> dict[str, Any]:
    """One plan as the ``status --json`` object. ``realized_pnl`` is gross (before commissions),
    ``net_pnl`` after them; ``stop_price`` and ``wanted_stop`` are the stop the plan wants,
    ``confirmed_stop`` the one IB last confirmed. (``getattr`` with a default is :func:`col`, inline.)"""
    paid = commissions(r)
    net = net_pnl(r)
    return {
        "id": r.id,
        "symbol": r.symbol,
        # the contract (a US stock on SMART in USD when the plan names none) and its money
        "sec_type": getattr(r, "sec_type", None) or "STK",
        "exchange": getattr(r, "exchange", None) or "SMART",
        "currency": getattr(r, "currency", None) or "USD",
        "contract_month": getattr(r, "contract_month", None),
        "local_symbol": getattr(r, "local_symbol", None),
        "multiplier": num(getattr(r, "multiplier", None) or "1"),
        "base_currency": getattr(r, "base_currency", None),
        "fx_rate": num(getattr(r, "fx_rate", None)),
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
        "sized_price": num(getattr(r, "sized_price", None)),
        "entry_cap": num(getattr(r, "entry_cap", None)),   # a market entry's limit: the worst fill its budget allows
        "stop_price": num(r.stop_price),
        "confirmed_stop": num(getattr(r, "confirmed_stop_price", None)),
        "wanted_stop": num(r.stop_price),
        "take_profit": num(r.target_price),
        "exit_price": num(r.avg_exit_price),
        "exit_reason": r.exit_reason,
        "realized_pnl": num(r.realized_pnl) if (r.exited_qty or 0) > 0 else None,
        "commissions": None if paid is None else num(str(paid)),
        "net_pnl": None if net is None else num(str(net)),
        "risk_amount": num(r.risk_amount),
        "planned_risk": num(r.risk_amount),
        "actual_risk": num(getattr(r, "actual_risk", None)),
        "reason": r.reason,
        "start_at": getattr(r, "start_at", None),
        "expire_at": getattr(r, "expire_at", None),
        "flatten_at": getattr(r, "flatten_due", None),   # resolved to UTC, like start_at and expire_at
        "times": {name: value for name in _TIMES if (value := getattr(r, name, None)) is not None},  # as written
        "tif": getattr(r, "tif", None) or "GTC",
        "outside_rth": bool(getattr(r, "outside_rth", 0)),
        "source_file": getattr(r, "source_file", None),
        "updated_at": r.updated_at,
    }


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode   # the C encoder, built once


def json_lines(records: Sequence[dict[str, Any]]) -> str:
    """A JSON array with one object per line (the C encoder; ``indent`` would use the Python one)."""
    if not records:
        return "[]"
    return "[\n" + ",\n".join(_ENCODE(r) for r in records) + "\n]"


def status_json(rows: Sequence[Row]) -> str:
    return json_lines([status_record(r) for r in rows])
