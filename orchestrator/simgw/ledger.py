"""The account's values as IB reports them: per currency, in BASE, and account-wide in the base
currency.

IB's account window has two kinds of tags. The account-wide ones (``NetLiquidation``,
``AvailableFunds``, ``BuyingPower``, margins …) come once, in the base currency's code (``EUR``
for an EUR account: no ``USD`` row, no ``BASE`` row). The ledger ones (``CashBalance``,
``TotalCashBalance``, ``NetLiquidationByCurrency``, ``StockMarketValue``, ``FuturesPNL``,
``UnrealizedPnL``, ``RealizedPnL``, ``ExchangeRate``) come once per currency the account holds
and once as ``BASE`` (every currency converted and summed). ``ExchangeRate`` of a currency is how
many base units one unit of it is worth (the base's own is 1) — that direction is what peer code
reads; IB's documentation does not state it (unsure).

Margin: 25 % of the stock positions' gross value, plus each future's initial (maintenance)
margin per contract; futures are not part of ``GrossPositionValue``. A future's value in
``NetLiquidation`` is its unrealized P&L (its notional is not cash).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .positions import Position

MARGIN_RATE = 0.25
LEDGER_TAGS = ("CashBalance", "TotalCashBalance", "NetLiquidationByCurrency", "StockMarketValue", "FuturesPNL",
               "UnrealizedPnL", "RealizedPnL", "ExchangeRate")
_LEDGER_KEYS = ("CashBalance", "UnrealizedPnL", "RealizedPnL")  # also in values(): reported per currency


def ledger(base: str, rates: Mapping[str, float], balances: Mapping[str, float], realized: Mapping[str, float],
           positions: Iterable[Position], prices: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Ledger values per currency held (the base always), then ``BASE``. ``rates``: base units per
    unit of each currency."""
    held = list(positions)
    others = {c for c, v in balances.items() if v} | {p.currency for p in held if p.qty} | \
        {c for c, v in realized.items() if v}
    currencies = [base, *sorted(others - {base})]
    out: dict[str, dict[str, float]] = {}
    for ccy in currencies:
        mine = [p for p in held if p.currency == ccy and p.qty]
        stock_value = sum(p.market_value(prices.get(p.symbol, 0.0)) for p in mine if not p.future)
        futures_pnl = sum(p.unrealized(prices.get(p.symbol, 0.0)) for p in mine if p.future)
        cash = balances.get(ccy, 0.0)
        out[ccy] = {
            "CashBalance": cash, "TotalCashBalance": cash, "NetLiquidationByCurrency": cash + stock_value + futures_pnl,
            "StockMarketValue": stock_value, "FuturesPNL": futures_pnl,
            "UnrealizedPnL": sum(p.unrealized(prices.get(p.symbol, 0.0)) for p in mine),
            "RealizedPnL": realized.get(ccy, 0.0), "ExchangeRate": rates[ccy],
        }
    total = {tag: sum(row[tag] * row["ExchangeRate"] for row in out.values()) for tag in LEDGER_TAGS}
    total["ExchangeRate"] = 1.0
    out["BASE"] = total
    return out


def account_values(book: Mapping[str, Mapping[str, float]], rates: Mapping[str, float],
                   positions: Iterable[Position], prices: Mapping[str, float]) -> dict[str, float]:
    """The account-wide values in the base currency (and the base's ledger totals), by IB tag."""
    held = [p for p in positions if p.qty]
    gross = sum(abs(p.market_value(prices.get(p.symbol, 0.0))) * rates[p.currency] for p in held if not p.future)
    fut_init = sum(abs(p.qty) * p.init_margin * rates[p.currency] for p in held if p.future)
    fut_maint = sum(abs(p.qty) * p.maint_margin * rates[p.currency] for p in held if p.future)
    base = book["BASE"]
    net_liq = base["NetLiquidationByCurrency"]
    init, maint = MARGIN_RATE * gross + fut_init, MARGIN_RATE * gross + fut_maint
    available, excess = net_liq - init, net_liq - maint
    return {
        "NetLiquidation": net_liq, "EquityWithLoanValue": net_liq, "TotalCashValue": base["CashBalance"],
        "CashBalance": base["CashBalance"], "SettledCash": base["CashBalance"], "GrossPositionValue": gross,
        "InitMarginReq": init, "MaintMarginReq": maint, "FullInitMarginReq": init, "FullMaintMarginReq": maint,
        "AvailableFunds": available, "FullAvailableFunds": available, "ExcessLiquidity": excess,
        "FullExcessLiquidity": excess, "BuyingPower": 4.0 * max(available, 0.0),
        "UnrealizedPnL": base["UnrealizedPnL"], "RealizedPnL": base["RealizedPnL"],
        "Cushion": (excess / net_liq) if net_liq else 0.0,
    }


def fmt(tag: str, value: float) -> str:
    return f"{value:.8f}" if tag == "ExchangeRate" else f"{value:.2f}"


def ledger_rows(book: Mapping[str, Mapping[str, float]], currencies: Iterable[str] | None = None
                ) -> list[tuple[str, str, str]]:
    """``(tag, value, currency)`` rows of the ledger, of every currency (or of ``currencies``)."""
    wanted = list(book) if currencies is None else [c for c in currencies if c in book]
    return [(tag, fmt(tag, book[ccy][tag]), ccy) for ccy in wanted for tag in LEDGER_TAGS]


def value_rows(base: str, values: Mapping[str, float], book: Mapping[str, Mapping[str, float]]
               ) -> list[tuple[str, str, str]]:
    """Every ``(tag, value, currency)`` row of updateAccountValue, as IB sends them."""
    rows: list[tuple[str, str, str]] = [("AccountType", "INDIVIDUAL", "")]
    rows += [("Currency", ccy, ccy) for ccy in book]
    rows += [(tag, fmt(tag, value), base) for tag, value in values.items() if tag not in _LEDGER_KEYS]
    return rows + ledger_rows(book)
