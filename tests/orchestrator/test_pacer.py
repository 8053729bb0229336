"""The pacer on its own, with an injected clock: its rate, its order (exit, entry, request,
trailing move; trailing moves by urgency), coalescing, and the drain on a real event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.broker.pacer import Drain, Item, Lane, Pacer
from orchestrator.broker.ratewindow import SLACK


@dataclass
class Clock:
    t: float = 100.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Wire:
    """What left, in order: (name, clock time)."""

    clock: Clock
    sent: list[tuple[str, float]] = field(default_factory=list)

    def item(self, name: str, lane: Lane = Lane.REQUEST, urgency: float = 0.0, *, key: Hashable | None = None,
             drops: tuple[Hashable, ...] = (), cost: int = 1, plan_id: str | None = None) -> Item:
        return Item(lambda: self.sent.append((name, self.clock.t)), lane, urgency, key, drops, cost, plan_id)

    @property
    def names(self) -> list[str]:
        return [n for n, _t in self.sent]


def world(rate: int = 3, limit: int | None = None) -> tuple[Clock, Pacer, Wire]:
    """A pacer of ``rate`` a second; with ``limit``, also ``limit`` in 1.25 s (else one window)."""
    clock = Clock()
    pacer = Pacer(rate, 1.0, limit=limit or rate, slack=SLACK if limit else 0.0, clock=clock)
    return clock, pacer, Wire(clock)


def test_what_fits_goes_at_once_and_the_rest_waits_for_the_window() -> None:
    clock, pacer, wire = world(rate=3)
    for i in range(7):
        pacer.offer(wire.item(f"m{i}"))
    assert wire.names == [] and pacer.next_due() == 100.0   # nothing leaves from inside ``offer``
    assert pacer.release() == 3
    assert wire.names == ["m0", "m1", "m2"] and pacer.backlog() == 4
    assert pacer.next_due() == 101.0
    clock.t = 100.999
    assert pacer.release() == 0
    clock.t = 101.0
    assert pacer.release() == 3 and wire.names[3:] == ["m3", "m4", "m5"]
    clock.t = 102.0
    pacer.release()
    assert wire.names[6:] == ["m6"] and pacer.backlog() == 0 and pacer.next_due() is None
    assert pacer.stats.sent == 7 and pacer.stats.max_backlog == 7 and pacer.stats.max_wait == pytest.approx(2.0)


def test_a_second_window_keeps_late_reads_under_ibs_limit() -> None:
    """45 in any second, and IB's 50 in any 1.25 s: messages IB reads up to 0.25 s late cannot
    meet the next second's burst in one of IB's seconds; sustained, that is 40 a second."""
    clock, pacer, wire = world(rate=45, limit=50)
    for i in range(1000):
        pacer.offer(wire.item(f"m{i}"))
    while (due := pacer.next_due()) is not None:
        clock.t = max(clock.t, due)
        pacer.release()
    times = [t for _n, t in wire.sent]
    assert times[:51] == [100.0] * 45 + [101.0] * 5 + [101.25]   # 45 at once, then the second window holds
    for t in times:
        assert sum(1 for u in times if t <= u < t + 1.0) <= 45
        assert sum(1 for u in times if t <= u < t + 1.25) <= 50
    assert times[-1] - times[0] == pytest.approx((1000 - 50) / 40 + 1.0, abs=0.01)   # 40 a second sustained
    assert pacer.current_rate() == 40.0


def test_waiting_items_leave_exit_entry_request_then_trailing_moves_nearest_first() -> None:
    clock, pacer, wire = world(rate=2)
    pacer.offer(wire.item("fill-the-window"))
    pacer.offer(wire.item("fill-the-window-too"))
    pacer.release()
    pacer.offer(wire.item("trail far", Lane.TRAIL, 3.0, key="a"))
    pacer.offer(wire.item("market data", Lane.REQUEST))
    pacer.offer(wire.item("trail near", Lane.TRAIL, 0.5, key="b"))
    pacer.offer(wire.item("entry", Lane.ENTRY))
    pacer.offer(wire.item("trail middle", Lane.TRAIL, 1.0, key="c"))
    pacer.offer(wire.item("exit", Lane.EXIT))
    pacer.offer(wire.item("second exit", Lane.EXIT))
    for second in range(1, 5):
        clock.t = 100.0 + second
        pacer.release()
    assert wire.names[2:] == ["exit", "second exit", "entry", "market data", "trail near", "trail middle",
                              "trail far"]


def test_a_newer_stop_replaces_the_queued_one_and_takes_its_own_place() -> None:
    clock, pacer, wire = world(rate=1)
    pacer.offer(wire.item("busy"))
    pacer.release()
    pacer.offer(wire.item("A at 101", Lane.TRAIL, 2.0, key=("trail", 1), plan_id="A"))
    pacer.offer(wire.item("B at 50", Lane.TRAIL, 1.0, key=("trail", 2), plan_id="B"))
    pacer.offer(wire.item("A at 102", Lane.TRAIL, 0.1, key=("trail", 1), plan_id="A"))
    assert pacer.backlog() == 2 and pacer.stats.coalesced == 1
    for second in range(1, 4):
        clock.t = 100.0 + second
        pacer.release()
    assert wire.names == ["busy", "A at 102", "B at 50"]


def test_a_cancel_drops_the_queued_move_of_its_order() -> None:
    clock, pacer, wire = world(rate=1)
    pacer.offer(wire.item("busy"))
    pacer.release()
    pacer.offer(wire.item("move 7", Lane.TRAIL, key=("trail", 7), plan_id="P"))
    assert pacer.waiting("P")
    pacer.offer(wire.item("cancel 7", Lane.EXIT, drops=(("trail", 7),), plan_id="P"))
    clock.t = 101.0
    pacer.release()
    clock.t = 102.0
    pacer.release()
    assert wire.names == ["busy", "cancel 7"] and not pacer.waiting("P") and pacer.sent_at("P") == 101.0


def test_an_item_no_longer_wanted_is_not_sent_and_its_sender_learns_it() -> None:
    clock, pacer, wire = world(rate=1)
    dropped: list[str] = []
    pacer.offer(wire.item("busy"))
    pacer.release()
    gone = wire.item("move of a filled stop", Lane.TRAIL)
    gone.wanted, gone.dropped = (lambda: False), (lambda: dropped.append("gone"))
    pacer.offer(gone)
    pacer.offer(wire.item("next", Lane.TRAIL))
    clock.t = 101.0
    pacer.release()
    assert wire.names == ["busy", "next"] and dropped == ["gone"] and pacer.stats.unwanted == 1


def test_a_group_waits_for_room_for_all_of_it_and_nothing_less_urgent_overtakes() -> None:
    clock, pacer, wire = world(rate=4)
    for i in range(3):
        pacer.offer(wire.item(f"m{i}"))
    pacer.release()
    pacer.offer(wire.item("bracket", Lane.ENTRY, cost=3))
    pacer.offer(wire.item("move", Lane.TRAIL))
    pacer.release()
    assert wire.names == ["m0", "m1", "m2"]   # one slot free: the bracket needs three
    assert pacer.next_due() == 101.0
    clock.t = 101.0
    pacer.release()
    assert wire.names[3:] == ["bracket", "move"]
    with pytest.raises(ValueError):
        pacer.offer(wire.item("too big", cost=5))   # more than a window holds


def test_clear_discards_what_waits_and_tells_each_sender() -> None:
    _clock, pacer, wire = world(rate=1)
    told: list[str] = []
    pacer.offer(wire.item("first"))
    pacer.release()
    for name in ("a", "b"):
        item = wire.item(name, plan_id=name)
        item.dropped = lambda name=name: told.append(name)
        pacer.offer(item)
    assert pacer.clear() == 2 and sorted(told) == ["a", "b"]
    assert pacer.backlog() == 0 and not pacer.waiting("a") and pacer.next_due() is None


# ---------------------------------------------------------------------- properties
ops = st.lists(st.one_of(
    st.tuples(st.just("wait"), st.floats(0.0, 0.7)),
    st.tuples(st.just("offer"), st.sampled_from(list(Lane)), st.integers(0, 3), st.integers(0, 4),
              st.integers(1, 3)),
), min_size=1, max_size=80)


@settings(max_examples=300, deadline=None)
@given(ops, st.integers(3, 6), st.integers(0, 3))
def test_never_over_the_rate_most_urgent_first_one_per_key_and_everything_leaves(
        script: list[tuple], rate: int, extra: int) -> None:
    clock = Clock()
    pacer = Pacer(rate, 1.0, limit=rate + extra, slack=0.1, clock=clock)
    sent: list[tuple[float, int, bool]] = []   # (time, messages, an exit) per release
    waiting: dict[int, tuple[int, int, int]] = {}   # item number → (lane, urgency, arrival)
    keys: dict[Hashable, int] = {}

    def sender(n: int, cost: int, exit_: bool) -> object:
        def send() -> None:
            rank = waiting.pop(n)
            assert all(rank <= other for other in waiting.values()), "a more urgent item was waiting"
            sent.append((clock.t, cost, exit_))
        return send

    for n, op in enumerate(script):
        if op[0] == "wait":
            clock.t += op[1]
            pacer.release()
            continue
        _o, lane, urgency, key, cost = op
        k = ("k", key) if lane is Lane.TRAIL and key else None
        if k in keys:
            waiting.pop(keys.pop(k), None)   # replaced: it must never be sent
        waiting[n] = (int(lane), urgency, n)
        if k is not None:
            keys[k] = n
        item = Item(sender(n, cost, lane is Lane.EXIT), lane, float(urgency), k, (), cost)  # type: ignore[arg-type]
        pacer.offer(item)
        pacer.release()
        keys = {key_: m for key_, m in keys.items() if m in waiting}
    while (due := pacer.next_due()) is not None:
        clock.t = max(clock.t, due)
        pacer.release()
    assert not waiting and pacer.backlog() == 0
    for t0, _c, _x in sent:
        assert sum(c for t, c, _x in sent if t0 <= t < t0 + 1.0) <= rate
        assert sum(c for t, c, _x in sent if t0 <= t < t0 + 1.1) <= rate + extra


# ---------------------------------------------------------------------- the drain on a real loop
async def test_the_drain_sends_everything_in_order_and_no_faster_than_the_rate() -> None:
    loop = asyncio.get_running_loop()
    pacer = Pacer(5, 0.05, clock=loop.time)
    drain = Drain(pacer)
    sent: list[tuple[int, float]] = []
    finished = loop.create_future()

    def send(i: int) -> None:
        sent.append((i, loop.time()))
        if i == 19:
            finished.set_result(None)

    for i in range(20):
        pacer.offer(Item(lambda i=i: send(i), Lane.TRAIL, float(i)))
        drain.arm()
    await asyncio.wait_for(finished, 5)
    assert [i for i, _t in sent] == list(range(20))
    for _i, t0 in sent:
        assert sum(1 for _j, t in sent if t0 <= t < t0 + 0.05) <= 5
    assert pacer.backlog() == 0
