"""prices_on_tick: no price of the orchestrator's leaves off its contract's tick.

Judged from the gateway's journal across clients (every client but the trader's is ours): no
order, modification or margin preview of ours refused with error 110 (the journal keeps IB's code,
and for a refused modification the prices refused), and every limit and stop price of ours that
the gateway placed, transmitted or modified is a multiple of the increment of its own price level
under the contract's market rule — the rule the simulator's catalogue gives the contract (a US
stock 0.0001 below $1 and 0.01 from $1, MES a quarter point, SAP Xetra's ladder). The second half
does not trust the gateway's own check: it is the same arithmetic done again on what was recorded.
A TRAIL order's amount is IB's to judge against the market (its 110 is caught by the first half).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from machines import parse_order_ref
from orchestrator.simgw.contracts import Catalog
from orchestrator.simgw.ticks import OFF_TICK_CODE, Rule

from .hand import TRADER_CLIENT
from .invariants import Violation

PRICED = ("placed", "transmitted", "modified")
UNSET = 1e300   # IB's "no price" (UNSET_DOUBLE is 1.7976931348623157e308)
RuleOf = Callable[[str], Rule | None]


def catalogue_rules(first_prices: Mapping[str, Decimal], sim_date: date | None) -> RuleOf:
    """The market rule of each gateway key (``MESZ6``, ``SAP``, a stock), as the episode's gateway
    has it: the same catalogue, from the same price-path symbols and date."""
    catalog = Catalog(list(first_prices), {s: float(p) for s, p in first_prices.items()}, sim_date)

    def rule_of(key: str) -> Rule | None:
        contract = catalog.by_key(key)
        return contract.rule if contract is not None else None
    return rule_of


def _price(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and 0 < v < UNSET else None


def _priced(e: dict[str, Any], prefix: str = "") -> dict[str, float]:
    names = ["lmt_price"] if e.get("order_type") == "TRAIL" else ["lmt_price", "aux_price"]
    return {n: p for n in names if (p := _price(e.get(prefix + n))) is not None}


def prices_on_tick(journal: Iterable[dict[str, Any]], rule_of: RuleOf) -> list[Violation]:
    out = []
    for i, e in enumerate(journal):
        if e.get("client_id") == TRADER_CLIENT or not e.get("order_ref"):
            continue
        ref = parse_order_ref(e["order_ref"])
        plan = ref[0] if ref is not None else None
        where = f"journal line {i + 1} ({e['event']} {e['order_ref']} {e.get('order_type')} {e.get('symbol')})"
        if e.get("code") == OFF_TICK_CODE:
            refused = _priced(e, "refused_") or _priced(e)
            out.append(Violation("prices_on_tick", plan, f"IB refused it for its tick (110): {where}, prices "
                                 + ", ".join(f"{n} {p!r}" for n, p in refused.items())))
            continue
        if e["event"] not in PRICED:
            continue
        rule = rule_of(str(e.get("symbol") or ""))
        if rule is None:
            out.append(Violation("prices_on_tick", plan, f"{where}: no market rule known for the contract"))
            continue
        for name, p in _priced(e).items():
            if not rule.conforms(p):
                out.append(Violation("prices_on_tick", plan, f"{where}: {name} {p!r} is off its "
                                     f"{rule.increment_at(p)} increment"))
    return out
