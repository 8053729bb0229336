"""Seeded scenarios: plans (long and short; market, limit and stop entries; some trailing, some
expiring) and one price path per symbol that takes each plan through its entry and then to its
target, its stop, or up far enough to trail and back down onto the trailing stop.

Everything comes from one ``random.Random``: the same seed gives the same plans and paths.
One plan of each episode trades a contract whose tick rules bite (``chaos/instruments.py``:
MES, a stock under $1 or SAP in EUR); the others trade US stocks at a cent. Each plan trades
its own symbol, so the broker's position per symbol is the plan's position (and the trader's own
shares, ``chaos/hand.py``). Two more symbols no plan trades (``foreign``) wander on a path of
their own, drawn from their own generator so that the plans' paths do not change.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from .instruments import CENT, Instrument, quantise, tick_instrument, us_stock


def cents(x: float | Decimal) -> Decimal:
    return quantise(x, CENT)


@dataclass
class PlanDraft:
    id: str
    symbol: str
    side: str                 # long | short
    entry: str                # market | limit | stop
    entry_price: Decimal
    stop: Decimal
    target: Decimal
    risk: str
    trail: tuple[Decimal, Decimal] | None = None   # (trigger_r, distance)
    expire_in: float | None = None                 # seconds after the file is written
    outcome: str = "target"                        # target | stop | trail | drift
    inst: Instrument | None = None                 # None: a US stock on SMART at a cent
    session: list[str] = field(default_factory=list)   # session mode's lines (chaos/sessiontime.py)

    @property
    def instrument(self) -> Instrument:
        return self.inst or us_stock(self.symbol)

    @property
    def sign(self) -> int:
        return 1 if self.side == "long" else -1

    def toml(self, now: datetime | None = None) -> str:
        lines = [
            "[[plans]]",
            f'id = "{self.id}"',
            f'symbol = "{self.symbol}"',
            *self.instrument.lines,
            f'side = "{self.side}"',
            f'entry = "{self.entry}"',
            f"entry_price = {self.entry_price}",
            f"stop_loss = {self.stop}",
            f"take_profit = {self.target}",
            f'risk = "{self.risk}"',
        ]
        if self.expire_in is not None:
            when = (now or datetime.now(UTC)) + timedelta(seconds=self.expire_in)
            lines.append(f'expire_at = "{when.isoformat(timespec="seconds")}"')
        lines += self.session
        if self.trail is not None:
            lines += ["[plans.trail]", f"trigger_r = {self.trail[0]}", f"distance = {self.trail[1]}"]
        return "\n".join(lines) + "\n"


@dataclass
class Scenario:
    plans: list[PlanDraft]
    spare: list[PlanDraft]              # plans added mid-run (e.g. for an entry rejection)
    base: dict[str, Decimal]            # every symbol's first price (the gateway's prices file)
    steps: list[dict[str, Decimal]]     # the price path: one price per live symbol per step
    foreign: list[str] = field(default_factory=list)   # symbols no plan trades (the trader's own business)
    sim_date: date | None = None        # the gateway's date (it decides the futures months listed)

    def instrument(self, symbol: str) -> Instrument:
        """The instrument of a price-path symbol (a plan's symbol): how its prices are quantised."""
        return next((d.instrument for d in (*self.plans, *self.spare) if d.symbol == symbol), us_stock(symbol))

    def prices_csv(self) -> str:
        return "symbol,price\n" + "".join(f"{s},{p}\n" for s, p in self.base.items())


def _draft(rng: random.Random, plan_id: str, inst: Instrument, base: Decimal, *,
           market_only: bool = False) -> PlanDraft:
    q = inst.plan_price
    side = rng.choice(["long", "short"])
    sign = 1 if side == "long" else -1
    entry = "market" if market_only else rng.choice(["market", "market", "limit", "stop"])
    if entry == "market":
        entry_price = q(base)   # on the plan's grid (a path price may be finer)
    elif entry == "limit":   # a long buys below the market, a short sells above it
        entry_price = q(float(base) * (1 - sign * rng.uniform(0.004, 0.012)))
    else:                    # a long buy stop above the market, a short sell stop below it
        entry_price = q(float(base) * (1 + sign * rng.uniform(0.004, 0.012)))
    r = q(float(entry_price) * rng.uniform(0.02, 0.04))
    stop = entry_price - sign * r
    target = entry_price + sign * q(float(r) * rng.uniform(1.5, 2.5))
    trail = None
    outcome = rng.choice(["target", "stop", "drift"])
    if rng.random() < 0.5:
        trail = (Decimal(str(round(rng.uniform(0.4, 0.8), 2))), q(float(r) * rng.uniform(0.5, 0.8)))
        outcome = rng.choice(["trail", "trail", "target", "stop"])
    expire = round(rng.uniform(2.0, 6.0), 1) if entry != "market" and rng.random() < 0.3 else None
    return PlanDraft(plan_id, inst.symbol, side, entry, entry_price, stop, target,
                     rng.choice(["small", "normal", "large"]), trail, expire, outcome,
                     None if inst.kind == "us" else inst)


def _leg(rng: random.Random, start: float, end: float, n: int, noise: float) -> list[float]:
    out = []
    for i in range(1, n + 1):
        x = start + (end - start) * i / n
        if i < n:
            x *= 1 + rng.gauss(0, noise)
        out.append(x)
    return out


def _path(rng: random.Random, d: PlanDraft, base: Decimal) -> list[Decimal]:
    s = d.sign
    p0 = float(base)
    entry = float(d.entry_price)
    r = abs(entry - float(d.stop))
    noise = 0.0008
    pts: list[float] = _leg(rng, p0, p0, rng.randint(2, 8), noise)
    if d.entry == "limit":   # come to the limit (a little through it)
        pts += _leg(rng, pts[-1], entry - s * 0.1 * r, rng.randint(3, 10), noise)
    elif d.entry == "stop":  # run through the stop entry
        pts += _leg(rng, pts[-1], entry + s * 0.1 * r, rng.randint(3, 10), noise)
    here = pts[-1]
    if d.outcome == "target":
        pts += _leg(rng, here, float(d.target) + s * 0.15 * r, rng.randint(6, 20), noise)
    elif d.outcome == "stop":
        pts += _leg(rng, here, float(d.stop) - s * 0.15 * r, rng.randint(6, 20), noise)
    elif d.outcome == "trail":
        assert d.trail is not None
        top = entry + s * r * (float(d.trail[0]) + rng.uniform(0.6, 1.3))
        top = min(top, float(d.target) - s * 0.2 * r) if s > 0 else max(top, float(d.target) - s * 0.2 * r)
        pts += _leg(rng, here, top, rng.randint(8, 20), noise / 2)
        pts += _leg(rng, pts[-1], float(d.stop) - s * 0.15 * r, rng.randint(6, 16), noise / 2)
    else:                    # drift: wander near the entry; the end of the run closes it
        pts += _leg(rng, here, here, rng.randint(5, 15), noise)
    return [d.instrument.path_price(x) for x in pts]


Shape = Callable[[random.Random, list[PlanDraft], dict[str, list[Decimal]]], list[dict[str, Decimal]]]


def padded(rng: random.Random, drafts: list[PlanDraft], paths: dict[str, list[Decimal]]) -> list[dict[str, Decimal]]:
    """Every plan's path side by side, the shorter ones wandering on at their last price."""
    length = max(len(p) for p in paths.values()) + 4
    for d in drafts:
        p = paths[d.symbol]
        while len(p) < length:
            p.append(d.instrument.path_price(float(p[-1]) * (1 + rng.gauss(0, 0.0002))))
    return [{sym: paths[sym][i] for sym in paths} for i in range(length)]


def build(rng: random.Random, *, run: int, episode: int, plans: int, spare: int = 3,
          sim_date: date | None = None, shape: Shape = padded) -> Scenario:
    """``plans`` plans on their own symbols (one of them, drawn, on a contract with tick rules that
    bite), ``spare`` more for mid-run additions; ``sim_date`` (default today, UTC) picks the
    futures month, and is the gateway's date. ``shape`` lays the plans' paths out as the market's
    steps (session mode's puts a close, a closed period and a gap in them: chaos/sessionpath.py)."""
    sim_date = sim_date or datetime.now(UTC).date()
    tick_plan = rng.randrange(plans) if plans else -1
    drafts: list[PlanDraft] = []
    extra: list[PlanDraft] = []
    base: dict[str, Decimal] = {}
    for i in range(plans + spare):
        symbol = f"C{episode % 100:02d}{chr(ord('A') + i)}"
        inst = tick_instrument(rng, symbol, sim_date) if i == tick_plan else us_stock(symbol)
        base[inst.symbol] = inst.path_price(rng.uniform(inst.low, inst.high))
        plan_id = f"R{run}-E{episode}-{'P' if i < plans else 'L'}{i}"
        d = _draft(rng, plan_id, inst, base[inst.symbol], market_only=i >= plans)
        (drafts if i < plans else extra).append(d)
    paths = {d.symbol: _path(rng, d, base[d.symbol]) for d in drafts}
    steps = shape(rng, drafts, paths)
    foreign = [f"C{episode % 100:02d}{c}" for c in "XY"]
    walk = random.Random(f"foreign:{run}:{episode}")
    for symbol in foreign:
        price = base[symbol] = cents(walk.uniform(20, 400))
        for step in steps:
            price = step[symbol] = max(cents(float(price) * (1 + walk.gauss(0, 0.0005))), CENT)
    return Scenario(drafts, extra, base, steps, foreign, sim_date)


# the orchestrator's config in an episode (paper mode against the episode's gateway)
_CONFIG = """\
[broker]
mode = "paper"
host = "127.0.0.1"
port = {port}
client_id = {client_id}
[store]
url = "sqlite:///{db}"
[plans]
files = ["{plans}/*.toml"]
rescan_seconds = 0.2
{sessions}[risk]
small_pct = 0.1
normal_pct = 0.2
large_pct = 0.3
max_portfolio_risk_pct = 10
[trailing]
interval_seconds = 0.1
[discord]
timeout_seconds = 2
"""
RISK_PCT = {"small": Decimal("0.1"), "normal": Decimal("0.2"), "large": Decimal("0.3")}
ACCOUNT_VALUE = 2_000_000


ALWAYS_OPEN = "[maintenance]\nwindows = []\n[sessions]\nmarket_hours = false\n"


def config_toml(port: int, client_id: int, *, db: str = "state.db", plans: str = "plans",
                sessions: str = ALWAYS_OPEN) -> str:
    """``sessions``: the clock, sessions and maintenance sections (default: a market always open,
    no window; session mode's are ``sessiontime.Timeline.config``)."""
    return _CONFIG.format(port=port, client_id=client_id, db=db, plans=plans, sessions=sessions)
