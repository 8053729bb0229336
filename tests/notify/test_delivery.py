"""Delivery over real HTTP to the Discord stand-in: rate limits, outages, dead webhooks, restarts."""

from __future__ import annotations

import asyncio
import io
import json
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from machines import PlanMachine
from orchestrator import cli
from orchestrator.clock import SystemClock
from orchestrator.engine.step import apply_event
from orchestrator.notify import OutboxSender, RetryPolicy
from orchestrator.notify.discord import DiscordDeliver
from orchestrator.store import Store

from .helpers import (
    VirtualTime,
    at,
    fill_outbox,
    lifecycle,
    outbox,
    pending,
    run_until,
    sender_for,
    spec,
    until,
    validate_discord_payload,
)
from .standin import (
    DROP,
    HANG,
    TOKEN,
    WEBHOOK_ID,
    DiscordStandIn,
    Reply,
    invalid_form_body,
    ok,
    rate_limited,
    unavailable,
    unknown_webhook,
)


async def test_delivers_everything_in_order_with_wait_true(store: Store, vt: VirtualTime) -> None:
    expected = fill_outbox(store, ["A-1", "B-2", "C-3"])
    async with DiscordStandIn(vt.clock) as hook:
        sender = sender_for(store, hook.url, vt)
        assert await sender.drain() == len(expected)
        await sender.aclose()
    assert [r.key for r in hook.requests] == expected
    for r in hook.requests:
        assert r.method == "POST" and r.path == f"/api/webhooks/{WEBHOOK_ID}/{TOKEN}" and r.query == {"wait": ["true"]}
        validate_discord_payload(r.body)
    rows = outbox(store)
    assert all(r["sent_at"] and r["attempts"] == 1 and r["last_error"] is None for r in rows)


async def test_a_thread_id_in_the_webhook_url_is_kept(store: Store, vt: VirtualTime) -> None:
    fill_outbox(store, ["A-1"], events_per_plan=1)
    async with DiscordStandIn(vt.clock) as hook:
        sender = sender_for(store, hook.url + "?thread_id=55", vt)
        assert await sender.drain() == 1
        await sender.aclose()
    assert hook.requests[0].query == {"thread_id": ["55"], "wait": ["true"]}


async def test_429_storm_no_request_before_retry_after(store: Store, vt: VirtualTime) -> None:
    """Every third request is refused with a (sometimes global) 429; nothing is sent early."""
    expected = fill_outbox(store, ["A-1", "B-2"])
    waits = iter([1.5, 0.25, 7.0, 2.0, 0.75, 3.3, 1.0])
    n = {"i": 0}

    def script(req: Any) -> Reply:
        n["i"] += 1
        if n["i"] % 3 == 1:
            ra = next(waits, 0.5)
            return rate_limited(ra, is_global=n["i"] % 2 == 0, header_only=n["i"] == 7)
        return ok()

    async with DiscordStandIn(vt.clock) as hook:
        hook.responder = script
        sender = sender_for(store, hook.url, vt)
        await run_until(sender, lambda: pending(store) == 0)
        await sender.aclose()

    limited = [(t, req, r) for t, req, r in hook.reply_times if isinstance(r, Reply) and r.status == 429]
    assert len(limited) >= 4
    for t, req, reply in limited:
        retry_after = float(reply.headers["X-RateLimit-Reset-After"])
        following = hook.requests[hook.requests.index(req) + 1:]
        assert following, "something was sent after each 429"
        assert following[0].at >= t + timedelta(seconds=retry_after), (t, retry_after, following[0].at)
    assert [r.key for r in hook.delivered()] == expected  # global order kept, no duplicates
    assert all(r["attempts"] == 1 for r in outbox(store)), "a 429 is not an attempt"


async def test_remaining_zero_waits_before_being_told(store: Store, vt: VirtualTime) -> None:
    fill_outbox(store, ["A-1"], events_per_plan=4)
    async with DiscordStandIn(vt.clock) as hook:
        hook.responder = lambda req: Reply(200, None, {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                                                       "X-RateLimit-Reset-After": "1.750"})
        sender = sender_for(store, hook.url, vt)
        await run_until(sender, lambda: pending(store) == 0)
        await sender.aclose()
    times = [r.at for r in hook.requests]
    assert len(times) == 4 and all(r.answered == "200" for r in hook.requests)  # never told off
    assert all(b - a >= timedelta(seconds=1.75) for a, b in zip(times, times[1:]))


async def test_429_retry_after_in_real_time(store: Store) -> None:
    """The same with the wall clock and real sleeps: the next request waits the retry_after out."""
    fill_outbox(store, ["A-1"], events_per_plan=2)
    clock = SystemClock()
    async with DiscordStandIn(clock) as hook:
        hook.queue(rate_limited(0.3), ok(), rate_limited(0.2, is_global=True), ok())
        sender = OutboxSender(store, clock, DiscordDeliver(hook.url, clock=clock, timeout=5),
                              policy=RetryPolicy(jitter=0))
        await run_until(sender, lambda: pending(store) == 0, interval=0.05)
        await sender.aclose()
    r = hook.requests
    assert [x.answered for x in r] == ["429", "200", "429", "200"]
    assert r[1].mono - r[0].mono >= 0.3 - 0.002 and r[1].at - r[0].at >= timedelta(seconds=0.3)
    assert r[3].at - r[2].at >= timedelta(seconds=0.2)


async def test_ten_second_503_outage_then_all_delivered_in_order(store: Store, vt: VirtualTime) -> None:
    expected = fill_outbox(store, ["A-1", "B-2", "C-3"])
    outage_ends = vt.now() + timedelta(seconds=10)
    async with DiscordStandIn(vt.clock) as hook:
        hook.responder = lambda req: unavailable() if req.at < outage_ends else ok()
        sender = sender_for(store, hook.url, vt)
        await run_until(sender, lambda: pending(store) == 0)
        await sender.aclose()
    failed = [r for r in hook.requests if r.answered == "503"]
    # backoff 1, 2, 4, 8 s: requests at 0, 1, 3, 7 s fail; the one at 15 s gets through
    assert [(r.at - failed[0].at).total_seconds() for r in failed] == [0, 1, 3, 7]
    assert {r.key for r in failed} == {expected[0]}, "during the outage only the head message is tried"
    assert hook.delivered()[0].at >= outage_ends
    assert [r.key for r in hook.delivered()] == expected
    rows = outbox(store)
    assert rows[0]["attempts"] == 5 and all(r["attempts"] == 1 for r in rows[1:])
    assert all(r["sent_at"] and r["dead_at"] is None for r in rows)


async def test_a_wait_set_before_the_clock_stepped_back_never_holds_the_outbox(store: Store, vt: VirtualTime) -> None:
    """A 503 while the clock still reads the machine's time, then the clock follows a simulator's
    IB months earlier: the retry set on the old time would hold every message for months. The
    clock's step makes them due now, and they are delivered in order."""
    expected = fill_outbox(store, ["A-1", "B-2"], events_per_plan=2)
    first = vt.now()
    async with DiscordStandIn(vt.clock) as hook:
        hook.responder = lambda req: unavailable() if req.at == first else ok()
        sender = sender_for(store, hook.url, vt)
        assert await sender.drain() == 0                     # the 503: the head waits a second
        vt.advance(-200 * 86400)                              # IB's clock, as followed: 200 days earlier
        assert await sender.drain() == 0                      # the old wait, months away now
        sender.clock_moved()
        assert await sender.drain() == len(expected)
        await sender.aclose()
    assert [r.key for r in hook.delivered()] == expected
    assert pending(store) == 0


async def test_outage_longer_than_the_attempts_dead_letters_the_head(store: Store, vt: VirtualTime,
                                                                     log_guard: Any) -> None:
    log_guard.expect(r"dead-lettered: gave up after 4 attempts: Discord 503 Service Unavailable")
    expected = fill_outbox(store, ["A-1"], events_per_plan=3)
    async with DiscordStandIn(vt.clock) as hook:
        hook.queue(*[unavailable()] * 4)
        sender = sender_for(store, hook.url, vt, policy=RetryPolicy(max_attempts=4, jitter=0))
        await run_until(sender, lambda: pending(store) == 0)
        await sender.aclose()
    rows = outbox(store)
    assert rows[0]["dead_at"] and rows[0]["attempts"] == 4
    assert rows[0]["last_error"].startswith("gave up after 4 attempts: Discord 503")
    assert [r.key for r in hook.delivered()] == expected[1:]
    gaps = [(b.at - a.at).total_seconds() for a, b in zip(hook.requests, hook.requests[1:4])]
    assert gaps == [1, 2, 4]


async def test_timeout_then_delivered_a_duplicate_only_because_the_reply_was_lost(store: Store,
                                                                                  vt: VirtualTime) -> None:
    expected = fill_outbox(store, ["A-1"], events_per_plan=2)
    async with DiscordStandIn(vt.clock) as hook:
        hook.queue(HANG)
        sender = sender_for(store, hook.url, vt, timeout=0.2)
        assert await sender.drain() == 0
        row = outbox(store)[0]
        assert row["attempts"] == 1 and row["last_error"].startswith("no reply from Discord (ReadTimeout")
        await run_until(sender, lambda: pending(store) == 0)
        await sender.aclose()
    assert [r.key for r in hook.requests] == [expected[0], expected[0], expected[1]]
    assert [r.answered for r in hook.requests] == [HANG, "200", "200"]


async def test_connection_refused_is_retried(store: Store, vt: VirtualTime) -> None:
    fill_outbox(store, ["A-1"], events_per_plan=1)
    async with DiscordStandIn(vt.clock) as hook:
        url = hook.url
    sender = sender_for(store, url, vt)  # nothing listens there any more
    assert await sender.drain() == 0
    await sender.aclose()
    row = outbox(store)[0]
    assert row["attempts"] == 1 and row["last_error"].startswith("cannot reach Discord: ConnectError")
    assert sender.paused_until == vt.now() + timedelta(seconds=1)


@pytest.mark.parametrize("status", [404, 401, 403])
async def test_dead_webhook_disables_sending_and_keeps_messages_pending(store: Store, vt: VirtualTime,
                                                                        log_guard: Any, status: int) -> None:
    log_guard.expect(r"Discord webhook disabled")
    expected = fill_outbox(store, ["A-1", "B-2"], events_per_plan=2)
    async with DiscordStandIn(vt.clock) as hook:
        hook.responder = lambda req: unknown_webhook(status)
        sender = sender_for(store, hook.url, vt)
        for _ in range(3):
            await sender.drain()
            vt.advance(3600)
        naps = len(vt.slept)
        await run_until(sender, lambda: len(vt.slept) >= naps + 50)  # the task keeps polling: still nothing
        await sender.aclose()
    assert len(hook.requests) == 1, "one request, then nothing until the webhook is fixed"
    assert pending(store) == len(expected) and all(r["dead_at"] is None for r in outbox(store))
    assert all(r["attempts"] == 0 for r in outbox(store))
    assert outbox(store)[0]["last_error"].startswith(f"Discord {status} Unknown Webhook (code 10015): webhook ")
    errors = [m for m in log_guard.messages() if "webhook disabled" in m]
    assert len(errors) == 1, errors
    assert sender.disabled is not None and TOKEN not in sender.disabled

    # fixed (a restart with a working webhook): everything goes out, in order
    async with DiscordStandIn(vt.clock) as fixed:
        again = sender_for(store, fixed.url, vt)
        assert await again.drain() == len(expected)
        await again.aclose()
    assert [r.key for r in fixed.requests] == expected


async def test_400_is_dead_lettered_with_discords_reason(store: Store, vt: VirtualTime, log_guard: Any,
                                                         tmp_path: Path) -> None:
    log_guard.expect(r"dead-lettered: Discord 400 Invalid Form Body \(code 50035\)")
    expected = fill_outbox(store, ["A-1"], events_per_plan=3)
    async with DiscordStandIn(vt.clock) as hook:
        hook.queue(invalid_form_body())
        sender = sender_for(store, hook.url, vt)
        assert await sender.drain() == 2
        await sender.aclose()
    assert len(hook.requests) == 3, "a 400 is never retried"
    rows = outbox(store)
    assert rows[0]["dead_at"] and rows[0]["attempts"] == 1
    assert rows[0]["last_error"] == ("Discord 400 Invalid Form Body (code 50035): "
                                     "embeds.0.fields.1.value: Must be 1024 or fewer in length.")
    assert [r.key for r in hook.delivered()] == expected[1:]

    # visible to the operator
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{store.url}"\n')
    out = io.StringIO()
    assert cli.main(["outbox", "--json", "--config", str(config)], out=out) == 0
    listed = json.loads(out.getvalue())
    assert [(r["kind"], bool(r["dead_at"]), r["last_error"]) for r in listed] == [
        ("sized", True, rows[0]["last_error"])]
    out = io.StringIO()
    assert cli.main(["outbox", "--config", str(config)], out=out) == 0
    assert out.getvalue().startswith("notifications: 0 pending, 1 dead-lettered, 2 sent\n")
    assert "dead    A-1 sized attempts=1 error=Discord 400 Invalid Form Body" in out.getvalue()
    out = io.StringIO()
    assert cli.main(["status", "--config", str(config)], out=out) == 0
    assert "notifications pending 0, dead-lettered 1" in out.getvalue()


async def test_restart_with_messages_pending_delivers_each_once(db_url: str, vt: VirtualTime) -> None:
    """Stopped mid-send (reply never came) and between sends; a new process on state.db finishes."""
    first = Store(db_url)
    expected = fill_outbox(first, ["A-1", "B-2"], events_per_plan=3)
    async with DiscordStandIn(vt.clock) as hook:
        hook.queue(ok(), ok(), HANG)
        sender = sender_for(first, hook.url, vt)
        task = asyncio.ensure_future(sender.run(0.5))
        await hook.wait_requests(3)            # the third is in flight, unanswered: the process dies now
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sender.aclose()
        first.close()

        second = Store(db_url)
        assert pending(second) == len(expected) - 2
        again = sender_for(second, hook.url, vt)
        assert await again.drain() == len(expected) - 2
        await again.aclose()
        second.close()

        third = Store(db_url)  # and once more: nothing left, nothing sent
        last = sender_for(third, hook.url, vt)
        assert await last.drain() == 0
        await last.aclose()
        third.close()
    keys = [r.key for r in hook.requests]
    assert keys == expected[:3] + expected[2:]  # only the message whose reply was lost went twice
    assert [r.key for r in hook.delivered()] == expected


async def test_a_wait_survives_a_restart(db_url: str, vt: VirtualTime) -> None:
    first = Store(db_url)
    fill_outbox(first, ["A-1", "B-2"], events_per_plan=1)
    async with DiscordStandIn(vt.clock) as hook:
        hook.queue(rate_limited(30))
        sender = sender_for(first, hook.url, vt)
        await sender.drain()
        await sender.aclose()
        first.close()
        vt.advance(10)
        second = Store(db_url)
        again = sender_for(second, hook.url, vt)
        assert await again.drain() == 0 and len(hook.requests) == 1  # B-2 is not sent either
        vt.advance(20)
        assert await again.drain() == 2
        await again.aclose()
        second.close()
    assert hook.requests[1].at - hook.requests[0].at >= timedelta(seconds=30)


async def test_lost_reply_on_dropped_connection_is_retried(store: Store, vt: VirtualTime) -> None:
    expected = fill_outbox(store, ["A-1"], events_per_plan=1)
    async with DiscordStandIn(vt.clock) as hook:
        hook.queue(DROP)
        sender = sender_for(store, hook.url, vt)
        await run_until(sender, lambda: pending(store) == 0)
        await sender.aclose()
    assert [r.key for r in hook.requests] == expected * 2 and hook.requests[0].answered == DROP


async def test_overlapping_drains_never_send_twice(store: Store, vt: VirtualTime) -> None:
    """shutdown's flush may run while the sender task is mid-drain."""
    expected = fill_outbox(store, ["A-1", "B-2"], events_per_plan=3)
    async with DiscordStandIn(vt.clock) as hook:
        sender = sender_for(store, hook.url, vt)
        counts = await asyncio.gather(sender.drain(), sender.drain(), sender.drain())
        await sender.aclose()
    assert sorted(counts) == [0, 0, len(expected)]
    assert [r.key for r in hook.requests] == expected


async def test_trading_steps_never_wait_on_discord(store: Store, vt: VirtualTime) -> None:
    """With Discord hanging, transitions keep committing; the outbox simply holds them."""
    fill_outbox(store, ["FIRST"], events_per_plan=1)
    machine = PlanMachine()
    plans = [machine.bind(store.insert_plan(spec(f"P-{i}"), at=at(0))) for i in range(40)]
    async with DiscordStandIn(vt.clock) as hook:
        hook.responder = lambda req: HANG
        sender = sender_for(store, hook.url, vt, timeout=600)
        task = asyncio.ensure_future(sender.run(0.01))
        await hook.wait_requests(1)  # the sender is now blocked on a request that never returns
        steps = 0
        for event in lifecycle():
            for plan in plans:
                apply_event(machine, store, plan, event, now=event.at)
                steps += 1
                await asyncio.sleep(0)  # the engine yields between steps: the sender task gets to run
        assert steps == 200
        assert not task.done() and len(hook.requests) == 1 and hook.requests[0].answered == HANG
        assert pending(store) == 201, "every step committed its outbox row"
        hook.responder = lambda req: ok()
        hook.release()
        await until(lambda: pending(store) == 0, timeout=20)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sender.aclose()
    delivered = [r.key for r in hook.delivered()]
    assert len(delivered) == 201 and len(set(delivered)) == 201
    by_plan: dict[str, list[int]] = defaultdict(list)
    for plan_id, step in delivered:
        by_plan[plan_id].append(step)
    assert all(steps == [1, 2, 3, 4, 5] for plan_id, steps in by_plan.items() if plan_id != "FIRST")


async def test_per_plan_order_when_one_plan_waits(store: Store, vt: VirtualTime) -> None:
    """A message that waits (not a channel pause) holds back its own plan only."""
    expected = fill_outbox(store, ["A-1", "B-2"], events_per_plan=2)
    calls: list[str] = []

    async def flaky(payload: dict[str, Any]) -> None:
        calls.append(f"{payload['plan_id']}:{payload['seq']}")
        if payload["plan_id"] == "A-1" and calls.count("A-1:1") == 1:
            raise RuntimeError("formatting bug")

    sender = OutboxSender(store, vt.clock, flaky, sleep=vt.sleep, policy=RetryPolicy(jitter=0))
    assert await sender.drain() == 2
    assert calls == ["A-1:1", "B-2:1", "B-2:2"]
    vt.advance(1)
    assert await sender.drain() == 2
    assert calls[3:] == ["A-1:1", "A-1:2"]
    assert expected == [("A-1", 1), ("B-2", 1), ("A-1", 2), ("B-2", 2)]


async def test_bootstrap_sends_to_the_configured_webhook(tmp_path: Path, vt: VirtualTime) -> None:
    from orchestrator import bootstrap
    from orchestrator.config import load_config

    async with DiscordStandIn(vt.clock) as hook:
        config = tmp_path / "config.toml"
        config.write_text(f'[broker]\nmode = "paper"\n[store]\nurl = "sqlite:///state.db"\n'
                          f'[discord]\nwebhook_url = "{hook.url}"\ntimeout_seconds = 3\n')
        rt = await bootstrap.build(load_config(str(config), {}), clock=vt.clock, port=1, host="127.0.0.1")
        try:
            assert isinstance(rt.sender.deliver, DiscordDeliver) and rt.sender.deliver.timeout == 3
            expected = fill_outbox(rt.store, ["A-1"], events_per_plan=2)
            assert await rt.sender.drain() == 2
        finally:
            await rt.sender.aclose()
            rt.store.close()
    assert [r.key for r in hook.requests] == expected


async def test_a_disabled_webhook_can_be_resumed_in_process(store: Store, vt: VirtualTime, log_guard: Any) -> None:
    """For a future config reload: ``resume()`` turns the channel back on without a restart."""
    log_guard.expect(r"Discord webhook disabled")
    expected = fill_outbox(store, ["A-1"], events_per_plan=3)
    async with DiscordStandIn(vt.clock) as hook:
        hook.queue(unknown_webhook())
        sender = sender_for(store, hook.url, vt)
        assert await sender.drain() == 0 and await sender.drain() == 0
        assert len(hook.requests) == 1 and "disabled" in repr(sender.deliver)
        sender.resume()
        assert await sender.drain() == 3
        await sender.aclose()
    assert [r.key for r in hook.requests] == expected[:1] + expected
