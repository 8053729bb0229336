"""Session mode's simulated time (``python -m chaos --sessions``): one episode's two trading days
on the XNYS calendar, the gateway's accelerated clock, the maintenance window, the orchestrator's
config for it, and the session fields its plans carry.

The timeline, in New York time on day D1 (a full session, drawn) and D2 (the next session):

    D1 15:10  the gateway's clock starts (``--speed`` 360: one real second is six minutes)
    D1 16:00  the close: plans hold positions, stops and targets work; DAY orders end
              (the closed period: prices move, stops do not trigger, market orders wait)
    D2 09:05  the night is compressed: the orchestrator is stopped, the clock set here, restarted
    D2 09:10-09:25  the maintenance window (``[maintenance] windows``): a disconnect in it
    D2 09:30  the open, at a price away from the close (a gap, sometimes through a stop or target)

Plans mix absolute times and anchors: ``flatten_at = "close-10m"`` and ``expire = "close-15m"``
on D1, ``start = "open+5m"`` with ``session_day = "next"``, a ``start`` inside the maintenance
window (``outside_rth = true``, so it may fall outside the session), ``tif`` DAY or GTC and some
``outside_rth = true``. Whether the market is open at an instant is the simulator's own rule
(``orchestrator.simgw.marketclock``: XNYS for stocks, CME Globex's hours for futures).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from orchestrator.simgw.marketclock import MarketClock

NEW_YORK = ZoneInfo("America/New_York")
SPEED = 360.0                      # simulated seconds per real second
DAY1_FROM = time(15, 10)           # the gateway's clock starts here on D1
NIGHT_TO = time(9, 5)              # where the compressed night lands on D2
WINDOW = (time(9, 10), time(9, 25))   # the maintenance window on D2
IN_WINDOW = time(9, 17)            # a plan's start inside it
KINDS = ("hold", "hold", "flatten", "next_open", "in_window")   # what a plan does with the sessions


@dataclass(frozen=True)
class Timeline:
    day1: date
    day2: date
    start: datetime        # UTC, all of them
    close1: datetime
    night_to: datetime
    window: tuple[datetime, datetime]
    open2: datetime
    close2: datetime
    later: tuple[tuple[datetime, datetime], ...] = ()   # the next sessions' (open, close), for a late drain
    speed: float = SPEED

    def gateway_args(self) -> list[str]:
        return ["--clock", self.start.isoformat(), "--speed", f"{self.speed:g}", "--calendar", "XNYS"]

    def config(self) -> str:
        """The orchestrator's session settings: IB's clock, market hours on, the window."""
        a, b = (t.astimezone(NEW_YORK) for t in self.window)
        day = f"{a:%a}".lower()
        return (f'[clock]\nsource = "broker"\n[sessions]\nmarket_hours = true\n'
                f'[maintenance]\nwindows = [{{ name = "chaos maintenance", zone = "America/New_York", '
                f'days = "{day}", start = "{a:%H:%M}", end = "{b:%H:%M}" }}]\n'
                # a price's age is counted on the engine's (simulated) clock: a minute of real time
                f"[market_data]\nmax_age_seconds = {60 * self.speed:g}\n")

    def close_after(self, t: datetime) -> datetime:
        """The close that ends the trading day of an order placed at ``t``."""
        return next(c for c in (self.close1, self.close2, *(c for _o, c in self.later), datetime.max.replace(
            tzinfo=UTC)) if c > t)

    def open_after(self, t: datetime) -> datetime:
        return next(o for o in (self.open2, *(o for o, _c in self.later)) if o > t)

    def in_window(self, t: datetime, margin: float = 0.0) -> bool:
        """``t`` inside the maintenance window, ``margin`` simulated seconds in from either edge."""
        return self.window[0] + timedelta(seconds=margin) <= t <= self.window[1] - timedelta(seconds=margin)


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, NEW_YORK).astimezone(UTC)


def draw(rng: random.Random) -> Timeline:
    """A D1 with a full session (16:00 close) whose next session is a full one too, in 2026-2027."""
    import exchange_calendars as xcals  # type: ignore[import-untyped]  # lazy: pandas loads only in session mode
    cal = xcals.get_calendar("XNYS", start="2026-01-02", end="2027-12-30")
    schedule = cal.schedule
    days = [(o.to_pydatetime(), c.to_pydatetime()) for o, c in zip(schedule["open"], schedule["close"])]
    full = [i for i in range(len(days) - 7)
            if days[i][1].astimezone(NEW_YORK).hour == 16 and days[i + 1][1].astimezone(NEW_YORK).hour == 16]
    i = rng.choice(full)
    (_o1, c1), (o2, c2) = days[i], days[i + 1]
    d1, d2 = c1.astimezone(NEW_YORK).date(), o2.astimezone(NEW_YORK).date()
    later = tuple((o.astimezone(UTC), c.astimezone(UTC)) for o, c in days[i + 2:i + 7])
    return Timeline(d1, d2, _local(d1, DAY1_FROM), c1.astimezone(UTC), _local(d2, NIGHT_TO),
                    (_local(d2, WINDOW[0]), _local(d2, WINDOW[1])), o2.astimezone(UTC), c2.astimezone(UTC), later)


class Hours:
    """The simulator's rule for whether a contract's market is open at an instant."""

    def __init__(self) -> None:
        self._clock = MarketClock(datetime.now(UTC), speed=0, calendar="XNYS")

    def is_open(self, t: datetime, *, future: bool) -> bool:
        return self._clock.is_open(t, future=future)


def plan_fields(rng: random.Random, kind: str, timeline: Timeline, *, tick_plan: bool, entry: str) -> list[str]:
    """The session lines of one plan (a plan on a contract with tick rules keeps absolute times:
    a future's session fields wait for IB's hours)."""
    lines = [f'tif = "{rng.choice(["DAY", "GTC", "GTC"])}"']
    outside = kind == "in_window" or rng.random() < 0.25
    if outside:
        lines.append("outside_rth = true")
    if tick_plan or kind == "hold":
        return lines
    if kind == "flatten":
        lines.append('flatten_at = "close-10m"')
        if entry != "market" and rng.random() < 0.5:
            lines.append('expire = "close-15m"')
    elif kind == "next_open":
        lines += ['start = "open+5m"', 'session_day = "next"']
    else:   # in_window: the engine holds the entry until the window ends
        lines.append(f'start = "{timeline.day2.isoformat()} {IN_WINDOW:%H:%M} America/New_York"')
    return lines
