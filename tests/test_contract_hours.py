"""The engine's session model per contract (``engine.markethours`` over ``plansessions.contract_sessions_for``),
from IB's contract details as the broker keeps them: a stock on XNYS with IB's days winning (a CLOSED day, an
early close IB knows), disagreements said once and only for the days still to trade, stale details ignored; a
future on IB's hours (its Sunday-evening open, its daily break); hours that cannot be known hold and say why."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from machines import NotifyKind, PlanSpec
from orchestrator.clock import FixedClock
from orchestrator.contractinfo import ContractDetails
from orchestrator.engine.markethours import MarketHours
from orchestrator.errors import BrokerUnavailable
from orchestrator.planfile import scan
from orchestrator.plansessions import Resolution, contract_sessions_for
from orchestrator.sessions import HoursUnknown, Skipped

from .engine.harness import plan_toml
from .sessions.helpers import ES_LIQUID, ES_TRADING, STOCK_LIQUID, STOCK_TRADING

THANKSGIVING_WEEK = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)   # Monday 10:00 New York
AAPL = ContractDetails(con_id=265598, symbol="AAPL", sec_type="STK", exchange="SMART", currency="USD",
                       trading_hours=STOCK_TRADING, liquid_hours=STOCK_LIQUID, time_zone="US/Eastern",
                       primary_exchange="NASDAQ")
ESH6 = ContractDetails(con_id=1, symbol="ES", sec_type="FUT", exchange="CME", currency="USD", local_symbol="ESH6",
                       trading_hours=ES_TRADING, liquid_hours=ES_LIQUID, time_zone="US/Central")
ES_TABLE = 'sec_type = "FUT"\nexchange = "CME"\ncontract_month = "202603"\n'


def _spec(tmp_path: Path, text: str) -> PlanSpec:
    path = tmp_path / "p.toml"
    path.write_text(text)
    found = scan([path])
    assert not found.problems, found.problems
    [spec] = found.specs
    return spec


def _hours(details: ContractDetails | None, now: datetime) -> tuple[MarketHours, list[tuple[str, str]]]:
    said: list[tuple[str, str]] = []
    hours = MarketHours(FixedClock(now), enforce=True, lookup=lambda _key: details,
                        report=lambda _key, kind, message: said.append((str(kind), message)))
    return hours, said


def test_ibs_early_close_wins_over_the_calendar_and_is_said_once(tmp_path: Path) -> None:
    """IB says 2026-11-25 closes at 13:00 (the calendar: 16:00): IB's close is traded on and anchored to."""
    liquid = STOCK_LIQUID.replace("20261125:0930-20261125:1600", "20261125:0930-20261125:1300")
    hours, said = _hours(replace(AAPL, liquid_hours=liquid), THANKSGIVING_WEEK)
    spec = _spec(tmp_path, plan_toml("A") + 'flatten_at = "close-10m"\nsession_day = "2026-11-25"\n')
    result = hours.resolve(spec, THANKSGIVING_WEEK)
    assert isinstance(result, Resolution)
    assert result.spec.flatten_due == datetime(2026, 11, 25, 17, 50, tzinfo=UTC)   # 12:50 New York
    assert hours.closed_until(spec, datetime(2026, 11, 25, 18, 30, tzinfo=UTC)) == (
        datetime(2026, 11, 27, 14, 30, tzinfo=UTC), "the market is closed until 2026-11-27 14:30 UTC")
    hours.closed_until(spec, datetime(2026, 11, 25, 19, 0, tzinfo=UTC))
    assert said == [("hours_disagree", "AAPL: IB's liquid hours and the exchange calendar disagree on 2026-11-25: "
                     "XNYS says 09:30-16:00 America/New_York (14:30-21:00 UTC); IB says 09:30-13:00 "
                     "America/New_York (14:30-18:00 UTC); IB's hours are traded on for that day")] * 2
    # the engine's report is Notices.report_once, keyed by the line: twice here, once in the outbox


def test_agreeing_hours_say_nothing_and_past_disagreements_are_not_said(tmp_path: Path) -> None:
    spec = _spec(tmp_path, plan_toml("A"))
    assert contract_sessions_for(spec, AAPL, THANKSGIVING_WEEK).disagreements == ()
    liquid = STOCK_LIQUID.replace("20261123:0930-20261123:1600", "20261123:CLOSED")
    assert [d.day for d in contract_sessions_for(spec, replace(AAPL, liquid_hours=liquid),
                                                 THANKSGIVING_WEEK).disagreements] == [date(2026, 11, 23)]
    tuesday = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)   # the closed Monday is behind: nothing to say
    assert contract_sessions_for(spec, replace(AAPL, liquid_hours=liquid), tuesday).disagreements == ()


def test_stale_or_missing_details_leave_a_stock_on_the_calendar(tmp_path: Path) -> None:
    spec = _spec(tmp_path, plan_toml("A"))
    a_year_on = datetime(2027, 11, 23, 15, 0, tzinfo=UTC)
    found = contract_sessions_for(spec, AAPL, a_year_on)
    assert (found.sessions.source, found.disagreements) == ("XNYS", ())
    assert contract_sessions_for(spec, None, THANKSGIVING_WEEK).sessions.source == "XNYS"
    assert contract_sessions_for(spec, replace(AAPL, trading_hours="", liquid_hours=""),
                                 THANKSGIVING_WEEK).sessions.source == "XNYS"
    assert contract_sessions_for(spec, AAPL, THANKSGIVING_WEEK).sessions.source == "IB+XNYS"


def test_a_future_uses_ibs_trading_hours_with_its_break(tmp_path: Path) -> None:
    """ES on IB's hours: open on Sunday evening and at night (XNYS closed), closed in the 16:00-17:00 break."""
    spec = _spec(tmp_path, plan_toml("E", "ES", entry_price=5000.0, stop=4990.0, target=5020.0) + ES_TABLE)
    hours, said = _hours(ESH6, datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
    assert hours.closed_until(spec, datetime(2026, 3, 2, 0, 0, tzinfo=UTC)) is None       # Sunday 18:00 Chicago
    assert hours.closed_until(spec, datetime(2026, 3, 3, 3, 0, tzinfo=UTC)) is None       # Monday 21:00 Chicago
    assert hours.closed_until(spec, datetime(2026, 3, 3, 22, 30, tzinfo=UTC)) == (        # Tuesday 16:30: the break
        datetime(2026, 3, 3, 23, 0, tzinfo=UTC), "the market is closed until 2026-03-03 23:00 UTC")
    assert hours.closed_until(spec, datetime(2026, 3, 7, 12, 0, tzinfo=UTC)) == (         # Saturday
        datetime(2026, 3, 8, 22, 0, tzinfo=UTC), "the market is closed until 2026-03-08 22:00 UTC")  # 17:00 CDT
    assert said == []
    anchored = _spec(tmp_path, plan_toml("F", "ES", entry_price=5000.0, stop=4990.0, target=5020.0) + ES_TABLE
                     + 'start = "open"\nflatten_at = "close-10m"\nsession_day = "2026-03-04"\n')
    result = hours.resolve(anchored, datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
    assert isinstance(result, Resolution)   # Wednesday's session: Tuesday 17:00 to Wednesday 16:00 Chicago
    assert (result.spec.start_at, result.spec.flatten_due) == (datetime(2026, 3, 3, 23, 0, tzinfo=UTC),
                                                               datetime(2026, 3, 4, 21, 50, tzinfo=UTC))


def test_a_future_without_hours_holds_and_says_why(tmp_path: Path) -> None:
    spec = _spec(tmp_path, plan_toml("E", "ES", entry_price=5000.0, stop=4990.0, target=5020.0) + ES_TABLE)
    now = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    with pytest.raises(HoursUnknown, match="IB's trading hours of ES are not known yet"):
        contract_sessions_for(spec, None, now)
    hours, said = _hours(None, now)
    until, why = hours.closed_until(spec, now) or (None, "")
    assert until is not None and until > now
    assert why == ("the ES market's hours are not known (IB's trading hours of ES are not known yet (its contract "
                   "details have not been read))")
    assert [kind for kind, _ in said] == [NotifyKind.HOURS_UNKNOWN.value]
    anchored = _spec(tmp_path, plan_toml("F", "ES", entry_price=5000.0, stop=4990.0, target=5020.0) + ES_TABLE
                     + 'flatten_at = "close-10m"\n')
    waiting = hours.resolve(anchored, now)
    assert isinstance(waiting, Skipped) and waiting.reason == "hours"
    assert waiting.message == ("IB's trading hours of ES are not known yet (its contract details have not been "
                               "read): it is loaded once they are read from IB")


async def test_the_details_a_waiting_future_needs_are_read_once_a_minute(tmp_path: Path) -> None:
    now = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    clock = FixedClock(now)
    hours = MarketHours(clock, enforce=True)
    anchored = _spec(tmp_path, plan_toml("F", "ES", entry_price=5000.0, stop=4990.0, target=5020.0) + ES_TABLE
                     + 'start = "open"\nsession_day = "2026-03-04"\n')
    asked: list[str] = []

    async def refused(key: str) -> ContractDetails:
        asked.append(key)
        raise BrokerUnavailable("not connected")

    assert isinstance(hours.resolve(anchored, now), Skipped)
    await hours.fetch_wanted(refused)
    await hours.fetch_wanted(refused)          # within the minute: not asked again
    assert len(asked) == 1
    waiting = hours.resolve(anchored, now)
    assert isinstance(waiting, Skipped) and waiting.message.endswith("(the last look: not connected)")

    async def answered(key: str) -> ContractDetails:
        asked.append(key)
        hours.learn(key, ESH6)
        return ESH6

    clock.set(datetime(2026, 3, 2, 0, 1, tzinfo=UTC))
    await hours.fetch_wanted(answered)
    assert len(asked) == 2
    result = hours.resolve(anchored, clock.now())
    assert isinstance(result, Resolution) and result.spec.start_at == datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
    await hours.fetch_wanted(answered)          # nothing waits any more
    assert len(asked) == 2


def test_an_unknown_time_zone_is_never_guessed(tmp_path: Path) -> None:
    spec = _spec(tmp_path, plan_toml("A"))
    hours, said = _hours(replace(AAPL, time_zone="XYZ"), THANKSGIVING_WEEK)
    found = hours.closed_until(spec, THANKSGIVING_WEEK)
    assert found is not None and found[1] == ("the AAPL market's hours are not known (unknown IB time zone id 'XYZ': "
                                              "not an IANA name and not a known IB alias)")
    assert [kind for kind, _ in said] == ["hours_unknown"]


def test_hours_are_rebuilt_when_ib_sends_new_details(tmp_path: Path) -> None:
    spec = _spec(tmp_path, plan_toml("A"))
    hours, _ = _hours(AAPL, THANKSGIVING_WEEK)
    assert hours.closed_until(spec, THANKSGIVING_WEEK) is None
    closed = STOCK_LIQUID.replace("20261123:0930-20261123:1600", "20261123:CLOSED")
    hours.learn("AAPL", replace(AAPL, liquid_hours=closed))
    found = hours.closed_until(spec, THANKSGIVING_WEEK)
    assert found is not None and found[0] == datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
