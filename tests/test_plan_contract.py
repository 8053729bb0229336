"""The contract keys of a plan (``sec_type``, ``exchange``, ``primary_exchange``, ``currency``,
``contract_month``, ``local_symbol``): futures and non-USD stocks check offline, continuous
futures and keys that do not go together are one problem line naming file, plan and field, an
off-tick future price is a warning, and nothing but a US stock loads until the engine can trade
the rest."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from machines import Instrument, InstrumentPlanSpec, PlanSpec, SecType, risk_budget, size_in_base
from orchestrator.cli import plans_check
from orchestrator.engine.intake import spec_hash
from orchestrator.planfile import Scan, scan
from orchestrator.simgw import PricePath, SimGateway

from .test_planfile import CHECKED_AT, REPO, write

ES = """\
[[plans]]
id = "ES-long-1"
symbol = "ES"
sec_type = "FUT"
exchange = "CME"
contract_month = "202703"
side = "long"
entry = "limit"
entry_price = 5000.00
stop_loss = 4990.00
take_profit = 5020.00
risk = "normal"
"""

SAP = """\
[[plans]]
id = "SAP-long-1"
symbol = "SAP"
exchange = "SMART"
primary_exchange = "IBIS"
currency = "EUR"
side = "long"
entry = "limit"
entry_price = 200.01
stop_loss = 190.03
take_profit = 220.07
risk = "normal"
"""


def checked(tmp_path: Path, text: str) -> Scan:
    return scan([write(tmp_path, "p.toml", text)], now=CHECKED_AT)


def lines(found: Scan) -> list[str]:
    return [p.format().split(": ", 1)[1] for p in found.problems]


def edit(text: str, key: str, line: str | None) -> str:
    """``text`` with the line of ``key`` replaced by ``line`` (None: removed, absent: appended)."""
    out = [ln for ln in text.splitlines() if not ln.startswith(f"{key} ")]
    if line is not None:
        out.append(line)
    return "\n".join(out) + "\n"


def test_a_future_plan_checks_and_converts(tmp_path: Path) -> None:
    found = checked(tmp_path, ES)
    assert found.problems == [] and found.warnings == []
    [spec] = found.specs
    assert isinstance(spec, InstrumentPlanSpec)
    assert spec.instrument == Instrument(SecType.FUT, "CME", contract_month="202703")
    assert spec.instrument.is_future and not spec.instrument.is_default
    by_local = checked(tmp_path, edit(ES, "contract_month", 'local_symbol = "ESH7"'))
    assert by_local.problems == [] and by_local.specs[0].instrument.local_symbol == "ESH7"
    both = checked(tmp_path, ES + 'local_symbol = "ESH7"\n')
    assert both.problems == []


def test_a_eur_stock_leaves_its_tick_to_ib(tmp_path: Path) -> None:
    """Xetra's increment for SAP at 200 EUR is 0.05, but only IB's contract details know a
    stock's market rule on another exchange: 200.01 is not refused offline."""
    found = checked(tmp_path, SAP)
    assert found.problems == [] and found.warnings == []
    [spec] = found.specs
    assert spec.instrument == Instrument(exchange="SMART", primary_exchange="IBIS", currency="EUR")
    assert spec.entry_price == Decimal("200.01")


def test_a_us_stock_under_a_dollar_takes_sub_penny_prices(tmp_path: Path) -> None:
    text = edit(edit(edit(SAP, "primary_exchange", None), "currency", None), "symbol", 'symbol = "SNDL"')
    text = text.replace("200.01", "0.4512").replace("190.03", "0.4010").replace("220.07", "0.5513")
    found = checked(tmp_path, text)
    assert found.problems == [] and type(found.specs[0]) is PlanSpec
    off = checked(tmp_path, text.replace("0.5513", "1.005"))
    assert lines(off) == ["plan SAP-long-1: take_profit: must be a multiple of the tick 0.01 at that price "
                          "(got 1.005)"]


@pytest.mark.parametrize(("key", "line", "field", "fragment"), [
    ("sec_type", 'sec_type = "CONTFUT"', "sec_type", "continuous future cannot be traded"),
    ("sec_type", 'sec_type = "OPT"', "sec_type", "must be one of STK, FUT (got 'OPT')"),
    ("sec_type", "sec_type = 1", "sec_type", "must be one of STK, FUT (got integer)"),
    ("exchange", None, "exchange", 'is required for a future, e.g. exchange = "CME"'),
    ("exchange", 'exchange = "GLOBEX"', "exchange", 'IB calls GLOBEX "CME" now'),
    ("exchange", 'exchange = "SMART"', "exchange", "a future is not routed SMART"),
    ("exchange", 'exchange = "cme"', "exchange", "in capitals"),
    ("contract_month", None, "contract_month", "a future needs contract_month"),
    ("contract_month", "contract_month = 202703", "contract_month", 'must be a string: write contract_month = "2027'),
    ("contract_month", 'contract_month = "202713"', "contract_month", 'a contract month "YYYYMM"'),
    ("contract_month", 'contract_month = "2027-03"', "contract_month", 'a contract month "YYYYMM"'),
    ("currency", 'currency = "usd"', "currency", "three-letter currency code"),
    ("local_symbol", 'local_symbol = "ESM7"\ncontract_month = "202703"', "local_symbol",
     "ESM7 is not the contract month 202703"),
    ("local_symbol", 'local_symbol = "ESH6"\ncontract_month = "202703"', "local_symbol",
     "ESH6 is not the contract month 202703"),
])
def test_each_bad_contract_key_is_one_problem(tmp_path: Path, key: str, line: str | None, field: str,
                                              fragment: str) -> None:
    text = edit(edit(ES, "contract_month", None), key, line) if key == "local_symbol" else edit(ES, key, line)
    found = checked(tmp_path, text)
    assert len(found.problems) == 1, lines(found)
    problem = found.problems[0]
    assert (problem.plan_id, problem.field) == ("ES-long-1", field)
    assert fragment in problem.message, problem.message
    assert found.specs == []


def test_a_stock_takes_no_futures_keys(tmp_path: Path) -> None:
    found = checked(tmp_path, SAP + 'contract_month = "202703"\nlocal_symbol = "SAP"\n')
    assert [(p.field, p.message) for p in found.problems] == [
        ("contract_month", 'is only for futures (sec_type = "FUT")'),
        ("local_symbol", 'is only for futures (sec_type = "FUT")')]


def test_an_off_tick_future_price_is_a_warning_with_the_safe_rounding(tmp_path: Path) -> None:
    text = ES.replace("4990.00", "4990.10").replace("5020.00", "5020.10").replace("5000.00", "5000.10")
    found = checked(tmp_path, text)
    assert found.problems == [] and len(found.specs) == 1        # still a valid plan
    assert [(w.field, w.message.rsplit("; ", 1)[1]) for w in found.warnings] == [
        ("entry_price", "rounded the safe way (down) it is 5000.00"),
        ("stop_loss", "rounded the safe way (down) it is 4990.00"),
        ("take_profit", "rounded the safe way (up) it is 5020.25")]
    assert found.warnings[1].format().endswith(
        "plan ES-long-1: stop_loss: 4990.10 is off the 0.25 tick of ES: IB would refuse it as written "
        "(error 110); rounded the safe way (down) it is 4990.00")
    market = checked(tmp_path, text.replace('entry = "limit"', 'entry = "market"'))
    assert [w.field for w in market.warnings] == ["stop_loss", "take_profit"]   # a market entry's price is a reference
    unknown = checked(tmp_path, text.replace('"ES"', '"CL"').replace("ES-long", "CL-long"))
    assert unknown.problems == [] and unknown.warnings == []                     # CL's tick is IB's to tell


def test_plans_check_takes_futures_and_prints_off_tick_prices_as_warnings(tmp_path: Path) -> None:
    """``run`` trades instruments now: ``plans check`` passes an ES plan (exit 0), and a price off
    ES's 0.25 tick is a ``warning:`` line on stderr (run rounds it the safe way), still exit 0."""
    out, err = io.StringIO(), io.StringIO()
    path = write(tmp_path, "es.toml", ES)
    assert plans_check([path], out, CHECKED_AT, err=err) == 0
    assert out.getvalue() == "ok: 1 plan in 1 file\n" and err.getvalue() == ""
    out, err = io.StringIO(), io.StringIO()
    off = write(tmp_path, "off.toml", ES.replace("4990.00", "4990.10"))
    assert plans_check([off], out, CHECKED_AT, err=err) == 0
    [warning] = err.getvalue().splitlines()
    assert warning.startswith(f"warning: {off}: plan ES-long-1: stop_loss: 4990.10 is off the 0.25 tick of ES")
    assert warning.endswith("rounded the safe way (down) it is 4990.00") and out.getvalue() == "ok: 1 plan in 1 file\n"


def test_a_plan_using_the_contract_keys_has_a_hash_of_its_own(tmp_path: Path) -> None:
    [es] = checked(tmp_path, ES).specs
    [es_jun] = checked(tmp_path, ES.replace("202703", "202706")).specs
    [as_stock] = checked(tmp_path, edit(edit(edit(ES, "sec_type", None), "exchange", None), "contract_month",
                                        None)).specs
    assert len({spec_hash(es), spec_hash(es_jun), spec_hash(as_stock)}) == 3


def test_the_instrument_examples_check_and_size_as_their_comments_say() -> None:
    path = str(REPO / "examples" / "instruments.toml")
    found = scan([path], now=CHECKED_AT)
    assert found.problems == [] and found.warnings == []
    specs = {s.id: s for s in found.specs}
    budget = risk_budget(Decimal(100_000), Decimal(2))
    multiplier = {"ES": Decimal(50), "MES": Decimal(5)}
    sizes = {i: size_in_base(budget, s.entry_price, s.stop_loss, multiplier.get(s.symbol, Decimal(1)),
                             Decimal("1.08") if s.instrument.currency == "EUR" else Decimal(1))
             for i, s in specs.items()}
    assert sizes == {"ES-long-1": 4, "MES-long-1": 40, "SAP-long-1": 185, "SNDL-long-1": 40_000}
    prices = PricePath.from_csv(REPO / "examples" / "prices-instruments.csv")
    assert {s.symbol for s in specs.values()} <= set(prices.symbols())
    gw = SimGateway(prices, sim_date=date(2026, 11, 27), tick_seconds=None)
    assert set(gw.catalog.keys_of("ES")) == {"ESZ6", "ESH7"} and gw.catalog.by_key("MESZ6") is not None
