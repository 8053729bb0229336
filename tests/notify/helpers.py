"""Shared pieces of the notification tests: virtual time, outbox rows, Discord's limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import machines
from machines import EntryType, PlanMachine, PlanSpec, RiskCategory, Side
from orchestrator.clock import FixedClock
from orchestrator.engine.step import apply_event
from orchestrator.notify import OutboxSender, RetryPolicy
from orchestrator.notify.discord import DiscordDeliver
from orchestrator.store import Store

T0 = datetime(2026, 3, 9, 14, 30, tzinfo=UTC)  # the Monday after the US DST change


def at(seconds: float = 0) -> datetime:
    return T0 + timedelta(seconds=seconds)


class VirtualTime:
    """A FixedClock and a ``sleep`` that moves it: waiting costs no real time."""

    def __init__(self, start: datetime = T0) -> None:
        self.clock = FixedClock(start)
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, seconds: float) -> datetime:
        return self.clock.advance(seconds)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(max(0.0, seconds))
        await asyncio.sleep(0.001)  # let real I/O run; no busy loop


def spec(plan_id: str, *, symbol: str = "AAPL", side: Side = Side.LONG) -> PlanSpec:
    return PlanSpec(plan_id, symbol, side, EntryType.LIMIT, D("180.50"), D("178.00"), D("185.00"),
                    RiskCategory.NORMAL)


def lifecycle(start: float = 1) -> list[Any]:
    """sized, submitted, filled, protected, take-profit exit: five outbox rows."""
    return [
        machines.Activate(at(start), D(100000), D(200000), D(0)),
        machines.EntryAccepted(at(start + 1), 10, 1000),
        machines.EntryFilled(at(start + 2), "e-1", 800, D("180.50")),
        machines.ProtectionStatus(at(start + 3), 800, 800, D("178.00"), D("185.00")),
        machines.ExitFilled(at(start + 4), "x-1", machines.Leg.TARGET, 800, D("185.00")),
    ]


def fill_outbox(store: Store, plan_ids: list[str], events_per_plan: int = 5) -> list[tuple[str, int]]:
    """Commit the lifecycle of each plan, interleaved; returns (plan, step) in outbox order."""
    machine = PlanMachine()
    plans = {pid: machine.bind(store.insert_plan(spec(pid), at=at(0))) for pid in plan_ids}
    for k in range(events_per_plan):
        for plan in plans.values():
            event = lifecycle()[k]
            apply_event(machine, store, plan, event, now=event.at)
    return [(r[0], r[1]) for r in store.db.execute("SELECT plan_id, seq FROM outbox ORDER BY id")]


def outbox(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.db.execute(
        "SELECT id, dedupe_key, plan_id, seq, kind, attempts, next_attempt_at, sent_at, dead_at, last_error "
        "FROM outbox ORDER BY id")]


def pending(store: Store) -> int:
    return int(store.db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL").fetchone()[0])


def sender_for(store: Store, url: str, vt: VirtualTime, *, timeout: float = 5.0,
               policy: RetryPolicy | None = None) -> OutboxSender:
    deliver = DiscordDeliver(url, clock=vt.clock, timeout=timeout)
    return OutboxSender(store, vt.clock, deliver, sleep=vt.sleep, policy=policy or RetryPolicy(jitter=0.0))


async def until(condition: Callable[[], bool], *, timeout: float = 10.0,
                task: asyncio.Future[Any] | None = None) -> None:
    """Wait until ``condition()`` holds (looked at every 2 ms; fails after ``timeout`` s)."""
    async def loop() -> None:
        while not condition():
            if task is not None and task.done():
                task.result()
                raise AssertionError("the sender task ended")
            await asyncio.sleep(0.002)
    await asyncio.wait_for(loop(), timeout)


async def run_until(sender: OutboxSender, condition: Callable[[], bool], *, timeout: float = 10.0,
                    interval: float = 0.5) -> None:
    """Run the sender's task until ``condition()`` holds."""
    task = asyncio.ensure_future(sender.run(interval))
    try:
        await until(condition, timeout=timeout, task=task)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# --------------------------------------------------------------------------- Discord's limits

LIMITS = {"content": 2000, "embeds": 10, "title": 256, "description": 4096, "fields": 25, "field.name": 256,
          "field.value": 1024, "footer.text": 2048, "author.name": 256, "total": 6000}


def _len(s: str) -> int:
    """Characters as Discord may count them, the stricter of code points and UTF-16 units, trimmed."""
    s = s.strip()
    return max(len(s), len(s.encode("utf-16-le")) // 2)


def validate_discord_payload(body: dict[str, Any]) -> None:
    """Raise AssertionError unless ``body`` is a webhook body Discord accepts (libs.md §4)."""
    encoded = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")  # what goes on the wire
    assert json.loads(encoded) == body
    assert set(body) <= {"content", "embeds", "allowed_mentions", "username", "avatar_url", "tts", "flags"}
    assert body.get("allowed_mentions") == {"parse": []}
    content = body.get("content", "")
    embeds = body.get("embeds", [])
    assert content.strip() or embeds, "a message needs content or an embed"
    assert _len(content) <= LIMITS["content"]
    assert isinstance(embeds, list) and len(embeds) <= LIMITS["embeds"]
    total = 0
    for e in embeds:
        assert set(e) <= {"title", "description", "url", "timestamp", "color", "footer", "author", "fields"}, e.keys()
        for key in ("title", "description"):
            if key in e:
                assert isinstance(e[key], str) and e[key].strip(), key
                assert _len(e[key]) <= LIMITS[key], (key, _len(e[key]))
                total += _len(e[key])
        if "color" in e:
            assert isinstance(e["color"], int) and 0 <= e["color"] <= 0xFFFFFF
        if "timestamp" in e:
            datetime.fromisoformat(e["timestamp"])
        fields = e.get("fields", [])
        assert len(fields) <= LIMITS["fields"]
        for f in fields:
            assert set(f) <= {"name", "value", "inline"}
            assert f["name"].strip() and f["value"].strip(), f
            assert _len(f["name"]) <= LIMITS["field.name"]
            assert _len(f["value"]) <= LIMITS["field.value"], (f["name"], _len(f["value"]))
            total += _len(f["name"]) + _len(f["value"])
        if "footer" in e:
            assert _len(e["footer"]["text"]) <= LIMITS["footer.text"]
            total += _len(e["footer"]["text"])
        if "author" in e:
            assert _len(e["author"]["name"]) <= LIMITS["author.name"]
            total += _len(e["author"]["name"])
    assert total <= LIMITS["total"], total
