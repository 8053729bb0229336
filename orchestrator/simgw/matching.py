"""Price rules of the simulated gateway: validation, triggers, trails, fills.

Pure functions over :class:`~orchestrator.simgw.orders.SimOrder` and the last
trade price; the book decides what to do with their answers.

* MKT fills at the last trade price.
* LMT fills when the price is at or better than the limit, at that price.
* STP triggers when the price reaches the stop (BUY: at or above, SELL: at or
  below) and then fills at that tick's price, so a gap fills at the worse price.
* STP LMT triggers the same way and then works as a limit order.
* TRAIL keeps its stop at the best price seen minus (SELL) or plus (BUY) the
  trailing amount (``auxPrice``) or percentage; the stop never loosens.
"""

from __future__ import annotations

from decimal import Decimal

from .orders import ORDER_TYPES, SimOrder
from .ticks import Rule


def evaluate(o: SimOrder, price: float) -> tuple[bool, bool]:
    """Apply one trade at ``price`` to a working order: ``(triggered_now, fills)``.

    Updates the order's trigger and trailing-stop state in place.
    """
    kind = o.order_type
    if kind == "MKT":
        return False, True
    if kind == "LMT":
        return False, marketable(o, price)
    triggered_now = False
    if kind in ("STP", "STP LMT"):
        if not o.triggered and o.aux_price is not None and crossed(o, o.aux_price, price):
            o.triggered = triggered_now = True
        return triggered_now, o.triggered and (kind == "STP" or marketable(o, price))
    if kind == "TRAIL":
        if not o.triggered:
            if o.trail_stop_price is not None and crossed(o, o.trail_stop_price, price):
                o.triggered = triggered_now = True
            else:
                ratchet(o, price)
        return triggered_now, o.triggered
    return False, False


def marketable(o: SimOrder, price: float) -> bool:
    if o.lmt_price is None:
        return False
    return price <= o.lmt_price if o.is_buy else price >= o.lmt_price


def crossed(o: SimOrder, stop: float, price: float) -> bool:
    return price >= stop if o.is_buy else price <= stop


def trail_distance(o: SimOrder, price: float) -> float:
    if o.aux_price:
        return o.aux_price
    return price * (o.trailing_percent or 0.0) / 100.0


def trail_stop_from(o: SimOrder, extreme: float) -> float:
    """The trailing stop for the best price ``extreme``."""
    dist = trail_distance(o, extreme)
    return round(extreme + dist if o.is_buy else extreme - dist, 4)


def start_trail(o: SimOrder, price: float) -> None:
    """A TRAIL order starts working at ``price`` (keeps a given initial stop)."""
    o.extreme_price = price
    if o.trail_stop_price is None:
        o.trail_stop_price = trail_stop_from(o, price)


def ratchet(o: SimOrder, price: float) -> None:
    extreme = o.extreme_price if o.extreme_price is not None else price
    if (not o.is_buy and price > extreme) or (o.is_buy and price < extreme):
        extreme = price
    o.extreme_price = extreme
    candidate = trail_stop_from(o, extreme)
    if o.trail_stop_price is None or tighter(o, candidate, o.trail_stop_price):
        o.trail_stop_price = candidate


def tighter(o: SimOrder, new: float, old: float) -> bool:
    """Is stop ``new`` closer to the market than ``old`` for this order's side?"""
    return new < old if o.is_buy else new > old


def stop_problem(o: SimOrder, price: float, aux: float | None, trail_stop: float | None) -> str:
    """A stop on the wrong side of the market (it would trigger at once), or ``""``."""
    stop = aux if o.order_type in ("STP", "STP LMT") else trail_stop if o.order_type == "TRAIL" else None
    if stop is None:
        return ""
    if o.is_buy and stop <= price:
        return f"BUY stop price {stop:g} must be above the market price {price:g}"
    if not o.is_buy and stop >= price:
        return f"SELL stop price {stop:g} must be below the market price {price:g}"
    return ""


def _marketable(o: SimOrder, price: float) -> bool:
    if o.lmt_price is None:
        return False
    return price <= o.lmt_price if o.is_buy else price >= o.lmt_price


def _crossed(o: SimOrder, stop: float, price: float) -> bool:
    return price >= stop if o.is_buy else price <= stop


def static_problem(
    action: str, qty: float, order_type: str, lmt: float | None, aux: float | None,
    trailing_percent: float | None, tif: str,
) -> str:
    """Why an order is invalid on its face, or ``""``."""
    if action not in ("BUY", "SELL"):
        return f"unsupported action {action!r} (use BUY or SELL)"
    if not qty or qty <= 0:
        return f"order quantity must be positive, got {qty:g}"
    if not float(qty).is_integer():
        return f"fractional quantity {qty:g} is not supported"
    if order_type not in ORDER_TYPES:
        return f"unsupported order type {order_type!r}"
    if tif not in ("", "DAY", "GTC"):
        return f"time in force {tif!r} is not supported (DAY or GTC)"
    if order_type in ("LMT", "STP LMT") and (lmt is None or lmt <= 0):
        return f"{order_type} order needs a positive limit price"
    if order_type in ("STP", "STP LMT") and (aux is None or aux <= 0):
        return f"{order_type} order needs a positive stop price (auxPrice)"
    if order_type == "TRAIL":
        amount_ok = aux is not None and aux > 0
        pct_ok = trailing_percent is not None and 0 < trailing_percent < 100
        if not (amount_ok or pct_ok):
            return "TRAIL order needs a trailing amount (auxPrice) or a trailingPercent"
    return ""



def off_tick(rule: Rule, order_type: str, lmt: float | None, aux: float | None, trail_stop: float | None,
             market: float) -> bool:
    """Does any price of the order miss its market rule (IB: error 110)? The limit and the stop
    price are checked on their own price level, a trailing amount (``auxPrice`` of a TRAIL) on
    the level of the market (that IB checks the amount at all is (unsure))."""
    if order_type == "TRAIL":
        amount_ok = aux is None or Decimal(repr(float(aux))) % rule.increment_at(market) == 0
        return not amount_ok or (trail_stop is not None and not rule.conforms(trail_stop))
    return any(p is not None and not rule.conforms(p) for p in (lmt, aux))
