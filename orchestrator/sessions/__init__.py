"""Exchange sessions: plan times against the market's calendar, and when a contract's market is open.

Pure: no clock reads (every function takes ``now`` or ``t``), no I/O beyond what
exchange_calendars does when :func:`sessions_from_calendar` first builds a calendar, no ib_async.
Importing this package is cheap: exchange_calendars (and pandas, numpy) load only inside
:func:`sessions_from_calendar`.

Modules, one concern each:

* ``timefields``  plan time fields: absolute times, session anchors, ``session_day``, ``on_closed_day``
* ``plantimes``   a plan's time fields read from its table and resolved together on one session
* ``contract``    one contract's sessions from its IB contract details: the engine's entry point
* ``model``       :class:`Sessions`, :class:`TradingDay`, :class:`Interval` (aware UTC)
* ``xcal``        sessions from exchange_calendars (regular hours, holidays, early closes)
* ``zones``, ``ibhours``, ``ibsessions``  sessions from IB's timeZoneId, tradingHours, liquidHours
* ``crosscheck``  where two sources disagree; the merge in which IB's days win
* ``resolve``     the trading day a plan means, anchors to UTC, "is this inside the session"
* ``sessionclock`` is the market open at ``t``, next open, next close
* ``maintenance``, ``windowconfig``  IB's reset and restart windows, and reading them from config
"""

from .contract import ContractSessions, contract_sessions
from .crosscheck import Disagreement, cross_check, describe_hours, merge
from .errors import (
    BadTradingHours,
    FieldError,
    HoursUnknown,
    OutsideCoverage,
    SessionsError,
    UnknownCalendar,
    UnknownTimeZone,
)
from .ibhours import IbEntry, parse_ib_hours
from .ibsessions import sessions_from_ib
from .maintenance import (
    IB_ASIA_EVENING_RESET,
    IB_ASIA_MORNING_RESET,
    IB_DEFAULT_WINDOWS,
    IB_EUROPE_RESET,
    IB_NORTH_AMERICA_RESET,
    IB_WEEKEND,
    MaintenanceWindow,
    WindowSpan,
    clear_of_windows,
    gateway_restart,
    next_window,
    window_at,
)
from .model import Hours, Interval, Sessions, TradingDay, day_window, normalize
from .plantimes import PlanSchedule, PlanTimes, ResolvedField, read_plan_times, resolve_plan_times
from .resolve import Resolved, Skipped, anchor_time, check_in_session, choose_day, resolve_time
from .sessionclock import SessionClock
from .timefields import (
    OnClosedDay,
    SessionAnchor,
    SessionDay,
    TimeSpec,
    parse_on_closed_day,
    parse_session_day,
    parse_time,
    plan_zone,
)
from .windowconfig import read_window
from .xcal import calendar_for_exchange, sessions_from_calendar
from .zones import ib_zone

__all__ = [
    "BadTradingHours", "ContractSessions", "Disagreement", "FieldError", "Hours", "HoursUnknown",
    "IB_ASIA_EVENING_RESET", "IB_ASIA_MORNING_RESET", "IB_DEFAULT_WINDOWS", "IB_EUROPE_RESET",
    "IB_NORTH_AMERICA_RESET", "IB_WEEKEND", "IbEntry", "Interval", "MaintenanceWindow", "OnClosedDay",
    "OutsideCoverage", "PlanSchedule", "PlanTimes", "Resolved", "ResolvedField", "SessionAnchor", "SessionClock",
    "SessionDay", "Sessions", "SessionsError", "Skipped", "TimeSpec", "TradingDay", "UnknownCalendar",
    "UnknownTimeZone", "WindowSpan", "anchor_time", "calendar_for_exchange", "check_in_session", "choose_day",
    "clear_of_windows", "contract_sessions", "cross_check", "day_window", "describe_hours", "gateway_restart",
    "ib_zone", "merge", "next_window", "normalize", "parse_ib_hours", "parse_on_closed_day", "parse_session_day",
    "parse_time", "plan_zone", "read_plan_times", "read_window", "resolve_plan_times", "resolve_time",
    "sessions_from_calendar", "sessions_from_ib", "window_at",
]
