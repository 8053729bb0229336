"""Two helpers over ib_async's session state: sending several orders in one socket write, and
finding a plan's trades and fills without scanning every order at each look-up."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Batch:
    """Stands in for ib_async's connection while a group of orders is built: collects the
    framed messages instead of writing each, then writes them as one."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.chunks: list[bytes] = []

    def sendMsg(self, msg: bytes) -> None:  # noqa: N802 (ib_async's name)
        self.chunks.append(msg)

    def flush(self) -> None:
        if self.chunks:
            self.conn.sendMsg(b"".join(self.chunks))
            self.chunks = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


@contextmanager
def one_write(client: Any) -> Iterator[Batch]:
    """Everything ib_async writes inside the block is collected and written at once by
    ``batch.flush()`` (the pacer has already let the whole group go); the connection is put back
    whatever happens."""
    batch = Batch(client.conn)
    client.conn = batch
    try:
        yield batch
    finally:
        client.conn = batch.conn


class ByPlan:
    """The entries of an ib_async session dict (``wrapper.trades``, ``wrapper.fills``) grouped by
    the plan their orderRef names, in the dict's order.

    ib_async only ever adds entries to these dicts (it never replaces or removes one) and starts
    a new dict when a session is reset, so each entry is parsed once, when first seen, instead of
    at every look-up (with 1,000 live plans, 3,000 orders were parsed per look-up: 71 % of the
    engine's time, docs/benchmarks.md). An entry whose orderRef changed since it was indexed
    makes the next look-up of its plan rebuild the index.
    """

    def __init__(self, ref: Callable[[Any], str], plan_of: Callable[[str], str | None]) -> None:
        self._ref = ref
        self._plan_of = plan_of
        self._source: dict[Any, Any] | None = None
        self._seen = 0
        self._by_plan: dict[str, list[tuple[str, Any]]] = {}

    def reset(self) -> None:
        self._source = None

    def of(self, source: dict[Any, Any], plan_id: str) -> list[Any]:
        if source is not self._source or len(source) < self._seen:
            self._source, self._seen, self._by_plan = source, 0, {}
        if len(source) > self._seen:
            for item in itertools.islice(source.values(), self._seen, None):
                ref = self._ref(item) or ""
                plan = self._plan_of(ref)
                if plan is not None:
                    self._by_plan.setdefault(plan, []).append((ref, item))
            self._seen = len(source)
        entries = self._by_plan.get(plan_id, ())
        if any(self._ref(item) != ref for ref, item in entries):
            self._source = None  # an orderRef changed under us: index again from scratch
            return self.of(source, plan_id)
        return [item for _ref, item in entries]
