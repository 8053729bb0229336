"""The pacer's margin against IB's own count, on an injected clock (nothing is timed).

IB counts a message when it reads it. The model: each message we write reaches IB after a
delay, the delays of any two messages differ by at most ``PAUSE`` (a reader descheduled for up
to 0.25 s reads what waited in one go; a network stall the same), and IB reads in order. IB's
count is the gateway's own (``simgw.pacing.PaceWindow``, what sends error 100). The property:
whatever we are asked to send and whenever, and whatever the delays within ``PAUSE``, IB never
sees a 51st message within one second. It holds at 45 in any 1 s and 50 in any 1.25 s (40/s
sustained); it fails at the former 50 in any 1.1 s. After an error 100 the pacer halves its rate
for ``hold`` seconds, then recovers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestrator.broker.pacer import SLOWEST, Item, Pacer
from orchestrator.broker.ratewindow import IB_LIMIT, SLACK
from orchestrator.simgw.pacing import PaceWindow, Verdict

PAUSE = 0.25 - 1e-6   # the reader pause the margin is for (to a microsecond: float sums at the edge)


@dataclass
class Clock:
    t: float = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Run:
    clock: Clock = field(default_factory=Clock)
    written: list[float] = field(default_factory=list)

    def item(self) -> Item:
        return Item(lambda: self.written.append(self.clock.t))


def drive(pacer: Pacer, run: Run, offers: list[tuple[float, int]], until: float | None = None) -> None:
    """Offer ``count`` items ``gap`` seconds after the previous offer, for each (gap, count); in
    between, release whatever is due the moment it is due (as the drain does, 1 ms later if the
    loop clock's resolution made nothing go)."""
    clock = run.clock
    at = clock.t
    pending = []
    for gap, count in offers:
        at += gap
        pending.append((at, count))
    pending.reverse()
    while True:
        due = pacer.next_due()
        offer_at = pending[-1][0] if pending else None
        if due is None and offer_at is None:
            return
        if offer_at is not None and (due is None or offer_at <= due):
            clock.t = max(clock.t, offer_at)
            for _ in range(pending.pop()[1]):
                pacer.offer(run.item())
        else:
            assert due is not None
            if until is not None and due >= until:
                return
            clock.t = max(clock.t, due)
        if not pacer.release() and pacer.next_due() == clock.t and not (pending and pending[-1][0] <= clock.t):
            clock.t += 0.001


def ib_reads(written: list[float], delays: list[float], latency: float = 0.002) -> list[Verdict]:
    """What the gateway's own count says of each message, read in order after its delay."""
    window = PaceWindow()
    verdicts, last = [], 0.0
    for i, w in enumerate(written):
        last = max(last, w + latency + delays[i % len(delays)])   # in order: a message waits for the one before
        verdicts.append(window.admit(last, IB_LIMIT))
    return verdicts


offers = st.lists(st.tuples(st.floats(0.0, 1.5), st.integers(1, 60)), min_size=1, max_size=25)
delays = st.lists(st.floats(0.0, PAUSE), min_size=1, max_size=200)


@settings(max_examples=300, deadline=None)
@given(offers=offers, delays=delays)
@example(offers=[(0.0, 400)], delays=[PAUSE] * 45 + [0.0] * 200)   # the first burst read late, the next at once
def test_a_reader_pause_up_to_a_quarter_second_never_lets_ib_see_51_in_a_second(
        offers: list[tuple[float, int]], delays: list[float]) -> None:
    run = Run()
    pacer = Pacer(clock=run.clock)
    drive(pacer, run, offers)
    assert len(run.written) == sum(n for _gap, n in offers)
    assert set(ib_reads(run.written, delays)) <= {Verdict.OK}


def test_the_former_margin_of_a_tenth_of_a_second_lets_such_a_pause_through() -> None:
    """The same pause at 45/1 s and 50/1.1 s: IB sees more than 50 in a second (the one error
    100 the 1,000-stop benchmark met)."""
    run = Run()
    pacer = Pacer(slack=0.1, clock=run.clock)
    drive(pacer, run, [(0.0, 400)])
    assert Verdict.REFUSE_NOTIFY in ib_reads(run.written, [PAUSE] * 45 + [0.0] * 200)


def test_the_margin_costs_the_sustained_rate_40_a_second_but_45_may_leave_at_once() -> None:
    run = Run()
    pacer = Pacer(clock=run.clock)
    drive(pacer, run, [(0.0, 1000)])
    start = run.written[0]
    assert run.written.count(start) == 45 and pacer.current_rate() == 40.0 == IB_LIMIT / (1.0 + SLACK)
    assert run.written[-1] - start == (1000 - 50) / 40 + 1.0   # 50 in the first 1.25 s, then 40 a second


def test_after_an_error_100_the_rate_halves_for_the_hold_then_recovers() -> None:
    run = Run()
    pacer = Pacer(hold=10.0, clock=run.clock)
    drive(pacer, run, [(0.0, 100)])          # full speed first
    t0 = run.clock.t = run.written[-1] + 5.0   # the windows are empty again
    assert pacer.refused() is True and pacer.slowed_since == t0 and pacer.current_rate() == 20.0
    assert pacer.refused() is False and pacer.current_rate() == 10.0   # again while slowed: slower still
    for _ in range(5):
        pacer.refused()
    assert pacer.slowdown == SLOWEST and pacer.current_rate() == 10.0 and pacer.stats.refusals == 7
    n = len(run.written)
    drive(pacer, run, [(0.0, 1000)], until=t0 + 10.0)
    slowed = run.written[n:]
    assert slowed and all(t < t0 + 10.0 for t in slowed)
    for i, t in enumerate(slowed):   # at a quarter of the speed: 45 in any 4 s, 50 in any 5 s
        assert sum(1 for u in slowed[i:] if u < t + 4.0) <= 45
        assert sum(1 for u in slowed[i:] if u < t + 5.0) <= 50
    run.clock.t = t0 + 10.0
    assert pacer.current_rate() == 20.0 and pacer.slowed_since == t0   # one step undone per hold
    run.clock.t = t0 + 20.0
    assert pacer.current_rate() == 40.0 and pacer.slowed_since is None and pacer.slowdown == 1
    assert pacer.refused() is True   # a later error 100 starts a new slow-down (and a new notice)
