"""What-if orders: the margin IB would require for an order, without placing it.

The answer is an openOrder whose OrderState carries the account's initial and maintenance
margin and equity with loan before, the change, and after, in the base currency, and the
order's commission in the contract's currency (tws-protocol.md §4.5). A future's margin is its
initial (maintenance) margin per contract × the position's size in contracts; a stock's 25 % of
the position's value. The change is the margin of the position after the order less the margin
before it, so an order that reduces a position frees margin (a negative change). Equity with
loan changes by the commission only. That IB quotes these figures in the base currency is
(unsure); the simulator does.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import matching
from .account import Account
from .contracts import SimContract
from .ledger import MARGIN_RATE
from .orders import OrderRequest
from .positions import commission_of


def off_tick(c: SimContract, r: OrderRequest, market: float) -> bool:
    return matching.off_tick(c.rule, r.order_type, r.lmt_price, r.aux_price, r.trail_stop_price, market)


def _position_margin(c: SimContract, qty: float, price: float, maintenance: bool) -> float:
    """Margin of ``qty`` units of ``c`` at ``price``, in the contract's currency."""
    if c.is_future:
        return abs(qty) * (c.maint_margin if maintenance else c.init_margin)
    return MARGIN_RATE * abs(qty) * price * c.multiplier


def what_if(account: Account, prices: Mapping[str, float], c: SimContract, r: OrderRequest,
            per_share: float, minimum: float) -> dict[str, float]:
    """The OrderState figures of a what-if order (see the module docstring)."""
    values = account.values(prices)
    market = prices[c.key]
    price = r.lmt_price if r.order_type in ("LMT", "STP LMT") and r.lmt_price else market
    held = account.positions[c.key].qty if c.key in account.positions else 0.0
    after = held + (r.quantity if r.action == "BUY" else -r.quantity)
    rate = account.rate(c.currency)
    change = {m: (_position_margin(c, after, market, m) - _position_margin(c, held, market, m)) * rate
              for m in (False, True)}
    commission = commission_of(c, r.quantity, r.quantity * price, per_share, minimum)
    equity = values["EquityWithLoanValue"]
    return {
        "init_before": values["InitMarginReq"], "maint_before": values["MaintMarginReq"], "equity_before": equity,
        "init_change": change[False], "maint_change": change[True], "equity_change": -commission * rate,
        "init_after": values["InitMarginReq"] + change[False], "maint_after": values["MaintMarginReq"] + change[True],
        "equity_after": equity - commission * rate, "commission": commission,
    }
