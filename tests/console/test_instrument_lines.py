"""The console's figures of a futures plan: the contract named, the unrealised P&L in base
currency (× multiplier × rate), its price series found under the contract's key."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from orchestrator.console.views import plan_line
from orchestrator.render.figures import contract_text, row_key


def _row(**columns: object) -> SimpleNamespace:
    base: dict[str, object] = dict(
        id="ES-1", symbol="ES", side="long", state="protected", quantity=4, filled_qty=4, exited_qty=0,
        outside_qty=0, avg_entry_price="5000.00", entry_price="5000.00", realized_pnl="0", stop_price="4990.00",
        confirmed_stop_price="4990.00", sec_type="FUT", exchange="CME", primary_exchange=None, currency="USD",
        contract_month="202612", local_symbol=None, multiplier="50", fx_rate="0.925")
    base.update(columns)
    return SimpleNamespace(**base)


def test_a_futures_line_is_in_base_currency_and_names_its_contract() -> None:
    es = _row()
    line = plan_line(es, Decimal("5010.00"), None)
    assert line["unrealised"] == Decimal("1850.00")      # 10 points × 4 contracts × 50 × 0.925
    assert contract_text(es) == "ES 202612 CME USD" and row_key(es) == "ES:FUT:CME::USD:202612:"
    stock = _row(symbol="AAPL", sec_type=None, exchange=None, currency=None, contract_month=None, multiplier="1",
                 fx_rate=None, avg_entry_price="180.00")
    assert plan_line(stock, Decimal("181.00"), None)["unrealised"] == Decimal("4.00")
    assert contract_text(stock) == "AAPL" and row_key(stock) == "AAPL"
