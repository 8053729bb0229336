"""One contract's sessions from what the engine has: its IB contract details and a date range.

This is the entry point for the engine and the scheduler (the other modules are its parts):

* a US stock (an IB ``primaryExchange`` that maps to an exchange_calendars calendar): the
  calendar for the range, cross-checked against IB's liquid hours, merged so IB's days win
  where IB gave hours; anchors use the regular session;
* anything without a calendar, futures in particular: IB's hours only (near-24-hour sessions),
  and anchors use IB's trading hours (``open`` is the Sunday 17:00 CT open of ES's Monday).

It takes plain strings (``ContractDetails.tradingHours``, ``.liquidHours``, ``.timeZoneId``,
``contract.secType``, ``contract.primaryExchange``) so this package never imports ib_async.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .crosscheck import Disagreement, cross_check, merge
from .ibsessions import sessions_from_ib
from .model import Hours, Sessions
from .xcal import calendar_for_exchange, sessions_from_calendar

__all__ = ["ContractSessions", "contract_sessions"]


@dataclass(frozen=True, slots=True)
class ContractSessions:
    """The sessions to trade on, where IB and the calendar disagree, and the hours anchors use."""

    sessions: Sessions
    disagreements: tuple[Disagreement, ...]
    anchor_hours: Hours


def contract_sessions(*, sec_type: str, primary_exchange: str, trading_hours: str, liquid_hours: str,
                      time_zone_id: str, first: date, last: date) -> ContractSessions:
    """Sessions for ``first`` to ``last`` (the calendar's range; IB's own range may be shorter).

    Raises BadTradingHours / UnknownTimeZone when IB's fields cannot be read (with or without a
    calendar: a contract whose hours IB describes unreadably is not traded on a guess).
    Empty IB fields for a stock with a calendar mean the calendar alone.
    """
    calendar_name = calendar_for_exchange(primary_exchange) if sec_type.upper() == "STK" else None
    if calendar_name is None:
        return ContractSessions(sessions_from_ib(trading_hours, liquid_hours, time_zone_id), (), "extended")
    calendar = sessions_from_calendar(calendar_name, first, last)
    if not (trading_hours.strip() or liquid_hours.strip()):
        return ContractSessions(calendar, (), "regular")
    ib = sessions_from_ib(trading_hours, liquid_hours, time_zone_id)
    return ContractSessions(merge(calendar, ib), tuple(cross_check(calendar, ib)), "regular")
