"""The judge's cover rule for a working market flatten (chaos R1210-E26-P3). A plan's flatten
market order working at IB for the plan's whole position exits at the first price a stop could
have filled at (a triggered stop is a market order too, behind it), and the engine by design
sends it only once the stop is done (README: one round trip without a stop while the position
is closed at market). The simulator fills at most ``partial_fill_max`` per tick and the market
clock stands still during a checkpoint, so the rest of a partly filled flatten waits there."""

from __future__ import annotations

from typing import Any

from chaos import invariants as inv


def _order(ref: str, remaining: float, *, order_type: str = "MKT", status: str = "Submitted",
           client_id: int = 7) -> dict[str, Any]:
    return {"order_ref": ref, "status": status, "order_type": order_type, "action": "SELL", "remaining": remaining,
            "quantity": 4195, "symbol": "C26D", "client_id": client_id, "perm_id": 1}


def _state(position: int, *orders: dict[str, Any]) -> dict[str, Any]:
    return {"positions": [{"symbol": "C26D", "quantity": float(position)}], "orders": list(orders)}


PLANS = {"C26D": "R1210-E26-P3"}


def test_a_working_market_flatten_for_the_whole_position_is_cover() -> None:
    # the two checkpoints of R1210-E26-P3: 2695 then 1195 left, the flatten working for exactly that
    for left in (2695, 1195):
        assert inv.coverage_gaps(_state(left, _order("R1210-E26-P3:flatten", left)), PLANS) == {}


def test_a_flatten_for_less_than_the_position_or_not_ours_is_no_cover() -> None:
    short = inv.coverage_gaps(_state(2695, _order("R1210-E26-P3:flatten", 1195)), PLANS)
    assert set(short) == {"R1210-E26-P3"}
    trader = inv.coverage_gaps(_state(2695, _order("R1210-E26-P3:flatten", 2695, client_id=0)), PLANS)
    assert set(trader) == {"R1210-E26-P3"}
