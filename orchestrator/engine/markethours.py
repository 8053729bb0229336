"""When a plan's market is open, and its session fields resolved, for the engine, per contract.

One :class:`MarketHours` per engine keeps each contract's sessions (``plansessions.contract_sessions_for``):

* a US stock: the XNYS calendar (exchange_calendars, loaded on first use), with IB's liquid
  hours from its contract details in place of the calendar's days where IB gives them. Where
  the two disagree (a day IB says is closed, other hours, an early close the calendar does not
  know) the engine says so once (log and notification) and trades on IB's hours;
* a future: IB's trading hours (the near-24-hour session with its daily break), not XNYS.

IB's details come from :meth:`learn` (the contract book calls it when it restores a plan's
cached details or reads them from IB) or, the first time a contract is asked about, from the
store's cache. The sessions are rebuilt when the details change and once the clock leaves the
span they were built for. Questions:

* :meth:`closed_until`: None while a plan's market is open (or when hours are not enforced,
  or a stock plan may work outside regular hours), else the next open. A market entry holds
  until then; trailing does not modify a stop meanwhile. Hours that cannot be known (no IB
  hours for a future yet, unreadable ones, an unknown time zone, past the sessions' coverage)
  count as closed for a while, never as open: the plan says why, and a notice says it once.
* :meth:`resolve`: a new plan's session fields on its contract's sessions (``plansessions``).
  A future whose details the engine has not read yet is not loaded (``Skipped``, reason
  ``hours``: looked at again at every scan); :meth:`fetch_wanted` reads them from IB before
  the next scan, at most once a minute per contract.

``enforce`` is config's ``[sessions] market_hours``; anchors are resolved either way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from machines import NotifyKind, PlanSpec, contract_key

from ..clock import Clock
from ..contractinfo import ContractDetails
from ..errors import BrokerUnavailable, UnknownContract
from ..plansessions import LOOK_AHEAD, Resolution, contract_sessions_for, resolve_spec
from ..sessions.contract import ContractSessions
from ..sessions.errors import HoursUnknown, OutsideCoverage, SessionsError
from ..sessions.resolve import Skipped
from ..sessions.sessionclock import SessionClock

log = logging.getLogger(__name__)

UNKNOWN_RETRY = timedelta(minutes=5)
FETCH_RETRY = timedelta(minutes=1)
REBUILD_MARGIN = timedelta(days=20)
Report = Callable[[str, NotifyKind, str], None]   # (once-key, kind, message)
Lookup = Callable[[str], ContractDetails | None]


@dataclass(slots=True)
class _Built:
    details: ContractDetails | None
    sessions: ContractSessions
    clock: SessionClock
    until: datetime            # rebuilt once the engine's clock reaches this
    since: datetime


class MarketHours:
    def __init__(self, clock: Clock, *, enforce: bool, lookup: Lookup | None = None,
                 report: Report | None = None) -> None:
        self.clock = clock
        self.enforce = enforce
        self._lookup = lookup or (lambda _key: None)
        self._report = report or (lambda _key, _kind, message: log.warning("%s", message))
        self._details: dict[str, ContractDetails | None] = {}
        self._built: dict[str, _Built] = {}
        self._version: dict[str, int] = {}       # how often a contract's details changed (a notice per version)
        self._wanted: dict[str, datetime] = {}   # contracts a plan waits for: when IB was last asked
        self._refused: dict[str, str] = {}       # why IB could not give them, the last time it was asked

    def learn(self, key: str, details: ContractDetails | None) -> None:
        """The contract's details as IB gave them (or the store cached them): its hours from now on."""
        if details is not None and self._details.get(key) == details:
            return
        self._details[key] = details
        self._built.pop(key, None)
        self._version[key] = self._version.get(key, 0) + 1

    def _details_of(self, key: str) -> ContractDetails | None:
        if key not in self._details:
            self._details[key] = self._lookup(key)
        return self._details[key]

    def _build(self, spec: PlanSpec, now: datetime) -> _Built:
        key = contract_key(spec.symbol, spec.instrument)
        built = self._built.get(key)
        if built is not None and built.since - timedelta(days=6) <= now < built.until:
            return built
        details = self._details_of(key)
        found = self._found(spec, key, details, now)
        built = _Built(details, found, SessionClock(found.sessions), now + LOOK_AHEAD - REBUILD_MARGIN, now)
        self._built[key] = built
        return built

    def _found(self, spec: PlanSpec, key: str, details: ContractDetails | None, now: datetime) -> ContractSessions:
        found = contract_sessions_for(spec, details, now)
        for d in found.disagreements:
            self._report(f"hours:{key}:{d.describe()}", NotifyKind.HOURS_DISAGREE,
                         f"{spec.symbol}: IB's liquid hours and the exchange calendar disagree on {d.describe()}; "
                         "IB's hours are traded on for that day")
        return found

    def closed_until(self, spec: PlanSpec, now: datetime) -> tuple[datetime, str] | None:
        """None: the plan's orders may act now. Else (when to look again, why not now)."""
        if not self.enforce:
            return None
        if spec.outside_rth and spec.instrument.is_us_stock:
            return None   # the calendar knows no extended hours; IB's own rules decide
        try:
            built = self._build(spec, now)
            hours = built.sessions.anchor_hours
            if built.clock.is_open(now, hours):
                return None
            opens = built.clock.next_open(now, hours)
        except SessionsError as exc:
            key = contract_key(spec.symbol, spec.instrument)
            why = _unknown(exc)   # the same words at every look, so it is said once and the plan's reason holds
            self._report(f"hours-unknown:{key}:{self._version.get(key, 0)}:{why}", NotifyKind.HOURS_UNKNOWN,
                         f"{spec.symbol}: the market's hours are not known ({why}): market entries and trailing "
                         "wait until they are")
            return now + UNKNOWN_RETRY, f"the {spec.symbol} market's hours are not known ({why})"
        return opens, f"the market is closed until {opens:%Y-%m-%d %H:%M} UTC"

    def resolve(self, spec: PlanSpec, now: datetime) -> Resolution | Skipped | list[tuple[str, str]]:
        """The plan's session fields on its contract's sessions, or the problems that refuse it."""
        key = contract_key(spec.symbol, spec.instrument)
        try:  # not the cached sessions: these reach as far as the dates the plan names
            found = self._found(spec, key, self._details_of(key), now)
        except HoursUnknown as exc:   # a future before its details were read: wait for them
            self._wanted.setdefault(key, now - FETCH_RETRY)
            why = f" (the last look: {self._refused[key]})" if key in self._refused else ""
            return Skipped("hours", now.date(), f"{exc}: it is loaded once they are read from IB{why}")
        except SessionsError as exc:
            return [("start" if spec.start else "-", f"the sessions of {spec.symbol} cannot be known ({exc}): "
                     "use start_at/expire_at with a UTC offset")]
        return resolve_spec(spec, found.sessions, now, found.anchor_hours)

    async def fetch_wanted(self, read: Callable[[str], Awaitable[ContractDetails]]) -> None:
        """Read from IB the details of the contracts plans wait for (``read`` learns them here)."""
        now = self.clock.now()
        for key, asked in list(self._wanted.items()):
            if self._details.get(key) is not None:
                del self._wanted[key]
            elif now - asked >= FETCH_RETRY:
                self._wanted[key] = now
                try:
                    await read(key)
                except (BrokerUnavailable, UnknownContract) as exc:
                    self._refused[key] = str(exc)
                    log.warning("contract details of %s not read (%s): its plans wait", key, exc)


def _unknown(exc: SessionsError) -> str:
    """Why the hours are not known, without the instant asked about (it changes at every look)."""
    if isinstance(exc, OutsideCoverage):
        return f"{exc.source} sessions cover {_when(exc.first)} to {_when(exc.last)} only"
    return str(exc)


def _when(moment: date | datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if isinstance(moment, datetime) else moment.isoformat()
