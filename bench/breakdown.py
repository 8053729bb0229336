"""Where P1's and P5's time goes, sample by sample: timestamps taken inside a live runtime.

Probes are thin wrappers set on the runtime's own objects (this process only, benchmarks only):
the ib_async decoder (``Decoder.interpret``), the engine's queue (put, taken), the machine's
``step``, the store's commits, the executor's ``run``, ib_async's encoder (``Client.send``) and
the socket write. For each sample they split the latency into consecutive parts:

P1 (fill at the gateway → ``EntryFilled`` committed):
  wire       the gateway's journal stamp → ib_async starts decoding the message that carries it
             (the socket, and the wait for our event loop)
  decode     ib_async's parsing and wrapper, the adapter's translation → the event on the queue
  queue      waiting on the engine's queue
  step       ``PlanMachine.step``
  commit     ``Store.commit_step`` (one transaction)
  rest       the unit of work around them (look-up, snapshot, commit hooks)
P5 (``ActivateRequest`` queued → the bracket's stop child at the gateway):
  queue      waiting on the engine's queue
  activate   the activation's checks before the step (account, gates, cached contract and
             market data, the open-risk total)
  step       the machine's steps (Activate)
  commit     its commits: the step's, the order intents'
  effect     the executor and the adapter: the bracket's orders built, the pacer
  encode     ib_async's encoding of the three placeOrder messages
  wire       the socket write → the gateway's journal stamp of the stop child
  rest       everything else between the two ends (hooks, marking the effect done)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import machines
from machines import effects as fx
from orchestrator.broker.port import PlanEvent
from orchestrator.engine import ActivateRequest

from .common import pct

P1_PARTS = ("wire", "decode", "queue", "step", "commit", "rest")
P5_PARTS = ("queue", "activate", "step", "commit", "effect", "encode", "wire", "rest")


def _timed(fn: Callable[..., Any], record: Callable[[tuple[Any, ...], float, float], None]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.time()
        try:
            return fn(*args, **kwargs)
        finally:
            record(args, t0, time.time())
    return wrapper


class Probes:
    def __init__(self, rt: Any) -> None:
        engine, store, ib = rt.engine, rt.store, rt.broker.ib
        self.decoding: float | None = None     # start of the message ib_async decodes now
        self.put: dict[tuple[str, str], float] = {}
        self.decoded: dict[str, float] = {}
        self.taken: dict[tuple[str, str], float] = {}
        self.step: dict[tuple[str, str], tuple[float, float]] = {}
        self.commit: dict[tuple[str, str], float] = {}
        self.intents: dict[str, float] = {}
        self.effect: dict[str, tuple[float, float]] = {}
        self.encode: dict[str, float] = {}
        self.written: dict[str, float] = {}
        self._effect_of: str | None = None      # the plan whose bracket is being carried out

        decoder = ib.client.decoder
        interpret = decoder.interpret

        def decode(fields: Any) -> Any:
            outer, self.decoding = self.decoding, time.time()
            try:
                return interpret(fields)
            finally:
                self.decoding = outer
        decoder.interpret = decode
        engine.queue.observers.append(self._on_put)
        taken = engine.queue.taken

        def on_taken(item: Any) -> None:
            key = _key(item)
            if key is not None:
                self.taken.setdefault(key, time.time())
            taken(item)
        engine.queue.taken = on_taken
        machine = engine.registry.machine
        machine.step = _timed(machine.step, lambda a, t0, t1: self._once(self.step, a[0], a[1], (t0, t1)))
        store.commit_step = _timed(store.commit_step,
                                   lambda a, t0, t1: self._once(self.commit, a[0], a[1], t1 - t0))
        store.record_intents = _timed(store.record_intents, self._on_intents)
        run = engine.executor.run

        async def on_run(effect: Any, plan: Any = None) -> str:
            bracket = isinstance(effect, fx.PlaceBracket)
            if bracket:
                self._effect_of = effect.plan_id
            t0 = time.time()
            try:
                return str(await run(effect, plan))
            finally:
                if bracket:
                    self.effect.setdefault(effect.plan_id, (t0, time.time()))
                    self._effect_of = None
        engine.executor.run = on_run
        client = ib.client
        client.send = _timed(client.send, self._on_encode)
        conn = client.conn
        conn.sendMsg = _timed(conn.sendMsg, self._on_write)  # the write's start: the gateway may read before it returns

    def _once(self, book: dict[tuple[str, str], Any], plan: Any, event: Any, value: Any) -> None:
        book.setdefault((plan.id, type(event).__name__), value)

    def _on_put(self, item: Any) -> None:
        key = _key(item)
        if key is None:
            return
        self.put.setdefault(key, time.time())
        if key[1] == "EntryFilled" and self.decoding is not None:
            self.decoded.setdefault(key[0], self.decoding)

    def _on_intents(self, args: tuple[Any, ...], t0: float, t1: float) -> None:
        if self._effect_of is not None:
            self.intents[self._effect_of] = self.intents.get(self._effect_of, 0.0) + t1 - t0

    def _on_encode(self, args: tuple[Any, ...], t0: float, t1: float) -> None:
        if self._effect_of is not None:
            self.encode[self._effect_of] = self.encode.get(self._effect_of, 0.0) + t1 - t0

    def _on_write(self, args: tuple[Any, ...], t0: float, t1: float) -> None:
        if self._effect_of is not None:
            self.written[self._effect_of] = t0

    # ------------------------------------------------------------------ per sample
    def p1(self, plan_id: str, filled_at: float, committed_at: float) -> dict[str, float] | None:
        key = (plan_id, "EntryFilled")
        try:
            dec, put, taken = self.decoded[plan_id], self.put[key], self.taken[key]
            (s0, s1), commit = self.step[key], self.commit[key]
        except KeyError:
            return None
        parts = {"wire": dec - filled_at, "decode": put - dec, "queue": taken - put, "step": s1 - s0,
                 "commit": commit}
        parts["rest"] = (committed_at - taken) - parts["step"] - commit
        return parts

    def p5(self, plan_id: str, at_gateway: float) -> dict[str, float] | None:
        key = (plan_id, "ActivateRequest")
        try:
            put, taken = self.put[key], self.taken[key]
            s0, s1 = self.step[(plan_id, "Activate")]
            commit = self.commit[(plan_id, "Activate")] + self.intents.get(plan_id, 0.0)
            e0, _e1 = self.effect[plan_id]
            written = self.written[plan_id]
        except KeyError:
            return None
        encode = self.encode.get(plan_id, 0.0)
        parts = {"queue": taken - put, "activate": s0 - taken, "step": s1 - s0, "commit": commit,
                 "effect": (written - e0) - self.intents.get(plan_id, 0.0) - encode, "encode": encode,
                 "wire": at_gateway - written}
        parts["rest"] = (at_gateway - put) - sum(parts.values())
        return parts


def _key(item: Any) -> tuple[str, str] | None:
    if isinstance(item, ActivateRequest):
        return item.plan_id, "ActivateRequest"
    if isinstance(item, PlanEvent) and isinstance(item.event, machines.EntryFilled):
        return item.plan_id, "EntryFilled"
    return None


def summary(samples: list[dict[str, float]], parts: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per part: the mean, the median and the p99 (ms); ``total`` sums each sample's parts."""
    out: dict[str, dict[str, float]] = {}
    for name in (*parts, "total"):
        values = [sum(s.values()) if name == "total" else s[name] for s in samples]
        if values:
            out[name] = {"mean": sum(values) / len(values) * 1000, "p50": pct(values, 50) * 1000,
                         "p99": pct(values, 99) * 1000}
    return out
