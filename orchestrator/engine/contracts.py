"""The contract each plan trades, as IB describes it, and what activation needs of it.

``ContractBook`` asks IB for a plan's contract details (through the broker, which caches them for
its connection), writes them to state.db once per process (so every start refreshes them), and
gives the plan its price ladder (``plan.price_rule``: trailing rounds on it), and has the broker
read the currency's rate from a quote of its pair when the account reports none. A restored plan
gets the cached details at once: its conId maps IB's positions to it before anything is asked.

:func:`contract_terms` turns the details and the account into what sizing needs — multiplier,
the FX rate to the base currency, a future's what-if margin per contract — and
:func:`prices_on_tick` rounds the plan's prices onto the contract's grid the conservative way.
Each says why when it cannot: a missing rate, multiplier, margin or grid refuses the plan, never
a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from machines import EntryType, MarketRule, Plan, PriceRole, Side, SizingError, fx_rate, round_price

from ..broker.port import Broker
from ..clock import Clock
from ..contractinfo import ContractDetails, price_rule
from ..store import Store


class ContractBook:
    def __init__(self, broker: Broker, store: Store, clock: Clock,
                 learned: Callable[[str, ContractDetails | None], None] | None = None) -> None:
        self.broker = broker
        self.store = store
        self.clock = clock
        self.learned = learned or (lambda _key, _details: None)   # the market hours take IB's from here
        self._saved: dict[str, ContractDetails] = {}   # the details this process wrote, fresh from IB
        # the latest details of each contract this process read or was given: a restart with
        # 10,000 plans on a few contracts reads each contract's row once, not once per plan
        self._known: dict[str, ContractDetails | None] = {}

    def restore(self, plan: Plan) -> None:
        """The cached details of a plan's contract (none yet: the offline grid, if any)."""
        if plan.key not in self._known:   # the cache's row, read and given to the market hours once
            cached = self.store.load_contract(plan.key)
            self._known[plan.key] = cached[0] if cached is not None else None
            if cached is not None:
                self.learned(plan.key, cached[0])
        details = self._known[plan.key]
        if details is not None:
            self.broker.remember(plan.key, details.con_id)
        plan.price_rule = price_rule(details, plan.spec.symbol, plan.spec.instrument)

    async def qualify(self, plan: Plan) -> ContractDetails:
        """IB's details of the plan's contract, its currency's rate refreshed (a pair quote where
        the account has no rate). Raises UnknownContract or BrokerUnavailable."""
        details = await self.details_of(plan.key)
        plan.price_rule = price_rule(details, plan.spec.symbol, plan.spec.instrument)
        await self.broker.quote_rate(details.currency or plan.spec.instrument.currency)   # fresh when sized
        return details

    async def details_of(self, key: str) -> ContractDetails:
        """IB's details of the contract ``key`` (also one no loaded plan trades yet), kept in state.db
        and given to the market hours. Raises UnknownContract or BrokerUnavailable."""
        details = await self.broker.qualify(key)
        if self._saved.get(key) != details:   # first read by this process, or read again since
            self.store.save_contract(key, details, at=self.clock.now())
            self._saved[key] = details
        self._known[key] = details
        self.learned(key, details)
        return details


@dataclass(frozen=True, slots=True)
class Terms:
    """What sizing needs of the contract and the account, in base currency."""

    multiplier: Decimal
    fx_rate: Decimal
    base_currency: str
    margin_per_unit: Decimal | None = None


def contract_terms(plan: Plan, details: ContractDetails, base: str | None,
                   rates: dict[str, Decimal]) -> Terms | str:
    """The plan's multiplier and FX rate (a string: why the plan cannot be sized)."""
    what = plan.key if plan.key == plan.spec.symbol else f"{plan.spec.symbol} ({details.local_symbol or plan.key})"
    multiplier = details.multiplier_value
    if multiplier is None:
        return f"IB gave no usable multiplier for {what} ({details.multiplier!r}): refusing to size rather than guess"
    if base is None:
        return "the account's base currency is not known (IB sent no NetLiquidation row): refusing to size"
    currency = details.currency or plan.spec.instrument.currency
    try:
        rate = fx_rate(currency, base, rates)
    except SizingError as exc:
        return f"cannot size {what} in the account's {base}: {exc}"
    return Terms(multiplier, rate, base)


def prices_on_tick(plan: Plan, rule: MarketRule | None) -> tuple[Decimal | None, Decimal | None, Decimal | None] | str:
    """Entry (limit or stop entries only), stop and target on ``rule``'s grid, each rounded the
    conservative way for its role (None: already on tick); a string when they cannot be placed."""
    spec = plan.spec
    if rule is None:
        return f"IB gave no price increment for {plan.key}: its prices cannot be placed"
    entry_role = {EntryType.LIMIT: PriceRole.LIMIT_ENTRY, EntryType.STOP: PriceRole.STOP_ENTRY}.get(spec.entry_type)
    wanted = [("entry_price", spec.entry_price, entry_role), ("stop_loss", spec.stop_loss, PriceRole.STOP),
              ("take_profit", spec.take_profit, PriceRole.TARGET)]
    out: list[Decimal | None] = []
    rounded: dict[str, Decimal] = {}
    for name, price, role in wanted:
        if role is None:   # a market entry's price is a sizing reference, never sent
            out.append(None)
            rounded[name] = price
            continue
        on_tick = round_price(rule, price, role, spec.side)
        if on_tick <= 0:
            return f"{name} {price} rounds to {on_tick} on the tick {rule.increment_at(price)}: it cannot be placed"
        rounded[name] = on_tick
        out.append(None if on_tick == price else on_tick)
    sign = 1 if spec.side is Side.LONG else -1
    entry, stop, target = rounded["entry_price"], rounded["stop_loss"], rounded["take_profit"]
    if (entry - stop) * sign <= 0 or (target - entry) * sign <= 0:
        return (f"on the tick of {plan.key} the prices cross (entry {entry}, stop {stop}, target {target}): "
                "they cannot be placed")
    return out[0], out[1], out[2]
