"""PURE: a plan's P&L as the trader reads it everywhere (notifications, ``status``, ``history``,
``report``): gross, net of the commissions IB charged, and the commissions themselves.

``+$1,750.00 gross · $1,745.00 net (commissions $5.00)``. IB reports a fill's commission a
moment after the fill, so a message written at the exit fill may not have the exit's yet; it
then says the net is of the commissions reported so far, never a guess.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def amount(v: Any) -> Decimal | None:
    """A money figure from a row or a payload (text, number or Decimal); None if it is not one."""
    if v is None or isinstance(v, (bool, dict, list)):
        return None
    try:
        d = Decimal(str(v).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def dollars(d: Decimal, *, signed: bool = False) -> str:
    """``$1,745.00``, ``-$12.00``; with ``signed`` a gain carries its ``+``."""
    sign = "-" if d < 0 else "+" if signed and d > 0 else ""
    return f"{sign}${abs(d):,.2f}"


def net(gross: Decimal, commissions: Decimal | None) -> Decimal:
    return gross - (commissions or Decimal(0))


def pnl_text(gross: Decimal, commissions: Decimal | None, *, pending: int = 0, pct: str = "") -> str:
    """``+$1,750.00 gross · $1,745.00 net (commissions $5.00)``; without a known commission
    figure (an older store) only the gross; ``pct`` (``+4.43 %``) follows the gross."""
    head = f"{dollars(gross, signed=True)} gross" + (f" ({pct})" if pct else "")
    if commissions is None:
        return head
    paid = f"commissions {dollars(commissions)}"
    if pending > 0:
        fills = "1 fill's" if pending == 1 else f"{pending} fills'"
        paid += f" so far; IB has not reported {fills} yet"
    return f"{head} · {dollars(net(gross, commissions))} net ({paid})"
