"""PURE: a plan row's figures as a trader reads them (position, the stop IB holds, net P&L, why),
shared by the status tables and the JSON. Rows are ``store.read`` rows (columns as attributes);
a column an older store lacks reads as unknown."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from machines import LIVE_POSITION, TERMINAL_STATES, State

Row = Any


def col(r: Row, name: str, default: Any = None) -> Any:
    """A column of the row, or ``default`` for a store from before that column existed."""
    return getattr(r, name, default)


def dec(text: Any) -> Decimal | None:
    return None if text is None else Decimal(str(text))


def num(text: str | None) -> float | int | None:
    """A stored decimal for JSON: an int when it was written without a point, else a float."""
    if text is None:
        return None
    d = Decimal(text)
    return int(d) if d == d.to_integral_value() and abs(d) < 10**15 and "." not in text else float(d)


def px(text: Any) -> str:
    """A stored decimal as a 2-decimal figure with thousands separators ('' when unknown)."""
    return "" if text is None else f"{Decimal(str(text)):,.2f}"


def exact(text: Any) -> str:
    """A stored amount with at least 2 and at most 4 decimals (IB's commissions have fractions of a cent)."""
    if text is None:
        return ""
    d = Decimal(str(text)).quantize(Decimal("0.0001"))
    shown = f"{d:,.4f}".rstrip("0")
    return shown if len(shown.partition(".")[2]) >= 2 else f"{d:,.2f}"


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


def holds_position(r: Row) -> bool:
    return r.state in LIVE_POSITION or (r.state == State.ERROR and open_qty(r) > 0)


def stop_differs(r: Row) -> bool:
    """The stop the plan wants is not (yet) the one IB confirmed, while that matters."""
    confirmed, wanted = dec(col(r, "confirmed_stop_price")), dec(r.stop_price)
    return holds_position(r) and wanted is not None and confirmed != wanted


def stop_text(r: Row) -> str:
    """The stop IB confirmed, and ``→`` the wanted one only while it differs (``176.00→184.00``:
    IB holds 176, the plan moves it to 184); before any position, the plan's stop (nothing is at
    IB yet)."""
    confirmed = col(r, "confirmed_stop_price")
    if not holds_position(r):
        return px(confirmed if confirmed is not None else r.stop_price)
    shown = px(confirmed) if confirmed is not None else "none"
    return f"{shown}→{px(r.stop_price)}" if stop_differs(r) else shown


def position_text(r: Row) -> str:
    """``AAPL +443`` (long, open), ``TSLA -250`` (short), ``AAPL 0`` (flat again), ``AAPL long``
    (nothing filled yet)."""
    if int(r.filled_qty or 0) <= 0:
        return f"{r.symbol} {r.side}"
    held = open_qty(r)
    sign = "" if held == 0 else "+" if r.side == "long" else "-"
    return f"{r.symbol} {sign}{abs(held)}"


def reason_text(r: Row) -> str:
    """Why the plan is where it is: its reason, else how it exited."""
    if r.reason:
        return str(r.reason)
    return f"exit: {r.exit_reason}" if r.exit_reason else ""


def ended(r: Row) -> bool:
    return r.state in TERMINAL_STATES


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the cut marked with an ellipsis."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"
