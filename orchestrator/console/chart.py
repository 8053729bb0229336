"""What the plan chart draws, as JSON-ready data (pure: rows in, dict out).

- ``price``: the symbol's price over the plan's life — the stored price series (one-minute
  closes and marks, :mod:`orchestrator.store.prices`) together with the prices the journal
  holds (``PriceUpdate`` events and fills: a plan shorter than a bar still shows its path);
  fill prices are always points of it.
- ``stop``: the stop as a staircase (drawn with steps): the plan's stop_loss from the start,
  then every stop IB confirmed (``ProtectionStatus``/``StopModified`` with a price) or the
  series marked, held until the last point.
- ``markers``: one per fill (arrow up for a buy, down for a sell); ``lines``: entry, SL, TP.
Times are UNIX seconds (floats) as lightweight-charts takes them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..store.prices import PriceSeries

Row = Any


def _t(iso_text: str) -> float:
    return round(datetime.fromisoformat(iso_text).timestamp(), 6)


def _points(pairs: list[tuple[float, Decimal]]) -> list[dict[str, float]]:
    """Sorted by time, one point per time (the last one wins)."""
    by_time: dict[float, Decimal] = {}
    for t, v in sorted(pairs, key=lambda p: p[0]):
        by_time[t] = v
    return [{"time": t, "value": float(v)} for t, v in by_time.items()]


def _journal_prices(journal: Sequence[Row]) -> list[tuple[float, Decimal]]:
    out = []
    for j in journal:
        if j.event in ("PriceUpdate", "EntryFilled", "ExitFilled"):
            price = json.loads(j.payload).get("price")
            if price is not None:
                out.append((_t(j.at), Decimal(str(price))))
    return out


def _stop_moves(journal: Sequence[Row], series: PriceSeries, plan_id: str) -> list[tuple[float, Decimal]]:
    out = []
    for j in journal:
        if j.event in ("ProtectionStatus", "StopModified"):
            price = json.loads(j.payload).get("stop_price")
            if price is not None:
                out.append((_t(j.at), Decimal(str(price))))
    out += [(_t(m.at), m.price) for m in series.marks if m.kind == "stop" and m.plan_id in (None, plan_id)]
    return sorted(out, key=lambda p: p[0])


def _fills(fills: Sequence[Row], journal: Sequence[Row]) -> list[tuple[float, str, int, Decimal]]:
    """(time, leg, quantity, price) of every fill: the fills table, else the journal's fill events."""
    if fills:
        return [(_t(f.at), f.leg, int(f.quantity), Decimal(f.price)) for f in fills]
    out = []
    for j in journal:
        if j.event in ("EntryFilled", "ExitFilled"):
            p = json.loads(j.payload)
            out.append((_t(j.at), "entry" if j.event == "EntryFilled" else p.get("leg", "exit"),
                        int(p["quantity"]), Decimal(str(p["price"]))))
    return out


def chart_data(plan: Row, journal: Sequence[Row], fills: Sequence[Row], series: PriceSeries) -> dict[str, Any]:
    fill_list = _fills(fills, journal)
    fill_points = [(t, price) for t, _, _, price in fill_list]
    pairs = _journal_prices(journal)
    source = "journal"
    if not series.empty:
        source = "prices+journal" if pairs else "prices"
        pairs += [(_t(b.minute), b.close) for b in series.bars] + [(_t(m.at), m.price) for m in series.marks]
    price = _points(pairs + fill_points)
    start = price[0]["time"] if price else _t(plan.created_at)
    end = price[-1]["time"] if price else _t(plan.updated_at)
    moves = [(t, v) for t, v in _stop_moves(journal, series, plan.id) if t >= start]
    steps = [(start, Decimal(plan.stop_loss)), *moves]
    stop: list[dict[str, float]] = []
    for point in _points(steps):  # a step only where the stop changed
        if not stop or point["value"] != stop[-1]["value"]:
            stop.append(point)
    if stop and stop[-1]["time"] < end:
        stop.append({"time": end, "value": stop[-1]["value"]})
    markers = []
    for t, leg, qty, px in sorted(fill_list, key=lambda f: f[0]):
        is_buy = (leg == "entry") == (plan.side == "long")
        markers.append({"time": t, "position": "belowBar" if is_buy else "aboveBar",
                        "shape": "arrowUp" if is_buy else "arrowDown", "color": "#16a34a" if is_buy else "#dc2626",
                        "text": f"{'buy' if is_buy else 'sell'} {qty} @ {px} ({leg})"})
    entry = plan.avg_entry_price or plan.entry_price
    lines = [{"price": float(Decimal(entry)), "title": "entry", "color": "#2563eb"},
             {"price": float(Decimal(plan.stop_loss)), "title": "SL", "color": "#dc2626"},
             {"price": float(Decimal(plan.target_price or plan.take_profit)), "title": "TP", "color": "#16a34a"}]
    return {"plan_id": plan.id, "symbol": plan.symbol, "side": plan.side, "source": source,
            "price": price, "stop": stop, "markers": markers, "lines": lines}


def equity_data(curve: Sequence[tuple[datetime, Decimal]]) -> list[dict[str, float]]:
    """The report's equity curve as chart points (one per second: the last trade closed in it wins)."""
    return _points([(round(at.timestamp(), 6), equity) for at, equity in curve])
