"""PURE: a plan row's figures as a trader reads them (position, the stop IB holds, net P&L, why),
for the status tables and the console; the JSON's own (``col``, ``num``, ``open_qty``, net P&L)
live in ``orchestrator.statusrecord`` and are re-exported here. Rows are ``store.read`` rows (columns as attributes);
a column an older store lacks reads as unknown."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from machines import LIVE_POSITION, TERMINAL_STATES, Instrument, SecType, State, contract_key

from ..statusrecord import Row, col, commissions, dec, net_pnl, num, open_qty

__all__ = ["Row", "clip", "col", "commissions", "contract_text", "dec", "ended", "exact", "money_factor",
           "net_pnl", "num", "open_qty", "position_text", "px", "reason_text", "row_key", "stop_differs",
           "holds_position", "stop_text"]


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
    """Why the plan is where it is: its reason, else how it exited, else the limit a market
    entry still working at IB is capped at."""
    if r.reason:
        return str(r.reason)
    if r.exit_reason:
        return f"exit: {r.exit_reason}"
    return cap_text(r)


def cap_text(r: Row) -> str:
    """A market entry (or its unfilled rest) working at IB as a limit at its price cap."""
    cap = col(r, "entry_cap")
    if cap is None or r.entry_done or r.state in TERMINAL_STATES:
        return ""
    worst = "pays at most" if r.side == "long" else "sells for at least"
    rest = "the rest of the market entry" if (r.filled_qty or 0) > 0 else "market entry"
    return f"{rest} {worst} {cap} (its price cap: the risk stays within budget × (1 + tolerance))"


def ended(r: Row) -> bool:
    return r.state in TERMINAL_STATES


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the cut marked with an ellipsis."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def row_key(r: Row) -> str:
    """The engine's key of the row's contract (a US stock: its symbol): its price series' name."""
    sec_type = col(r, "sec_type")
    if sec_type is None:
        return str(r.symbol)
    return contract_key(str(r.symbol), Instrument(SecType(sec_type), col(r, "exchange") or "SMART",
                                                  col(r, "primary_exchange"), col(r, "currency") or "USD",
                                                  col(r, "contract_month"), col(r, "local_symbol")))


def money_factor(r: Row) -> Decimal:
    """What one point of price move of one unit is worth in base currency: multiplier × FX."""
    return Decimal(str(col(r, "multiplier") or 1)) * Decimal(str(col(r, "fx_rate") or 1))


def contract_text(r: Row) -> str:
    """The symbol, and for any other contract than a US stock its month (or local symbol),
    exchange and currency: ``ES ESZ6 CME USD``, ``SAP SMART/IBIS EUR``."""
    if col(r, "sec_type") is None:
        return str(r.symbol)
    where = "/".join(x for x in (col(r, "exchange"), col(r, "primary_exchange")) if x)
    parts = [r.symbol, col(r, "local_symbol") or col(r, "contract_month"), where, col(r, "currency")]
    return " ".join(str(x) for x in parts if x)
