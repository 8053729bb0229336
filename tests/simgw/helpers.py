"""Helpers for the simulated gateway tests (imported by the test modules)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from ib_async import IB, Stock

from orchestrator.simgw import PricePath, SimGateway

from ..logguard import LogGuard

__all__ = ["LogGuard"]  # re-exported for the type hints of the tests

WAIT = 5.0  # seconds to wait for any single expected event

ROWS = [
    ("AAPL", 180.00), ("MSFT", 420.00), ("NVDA", 120.00), ("TSLA", 250.00), ("SPY", 560.00),
    ("AAPL", 180.10), ("MSFT", 420.20), ("NVDA", 120.30), ("TSLA", 250.40), ("SPY", 560.50),
    ("AAPL", 180.20), ("MSFT", 420.40), ("NVDA", 120.60), ("TSLA", 250.80), ("SPY", 561.00),
]


def read_journal(file: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in file.read_text().splitlines()]


def events(file: Path, *kinds: str) -> list[tuple[object, ...]]:
    """(event, order_id, status) of the journal, optionally only some kinds."""
    return [(e["event"], e["order_id"], e["status"]) for e in read_journal(file)
            if not kinds or e["event"] in kinds]


@contextlib.asynccontextmanager
async def gateway(prices: PricePath | None = None, **kwargs: object) -> AsyncIterator[SimGateway]:
    kwargs.setdefault("tick_seconds", None)
    gw = SimGateway(prices or PricePath.from_rows(ROWS), port=0, **kwargs)  # type: ignore[arg-type]
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@contextlib.asynccontextmanager
async def connect(gw: SimGateway, client_id: int = 1, **kwargs: object) -> AsyncIterator[IB]:
    ib = IB()
    kwargs.setdefault("timeout", 3)
    await ib.connectAsync("127.0.0.1", gw.port, clientId=client_id, **kwargs)  # type: ignore[arg-type]
    try:
        yield ib
    finally:
        if ib.isConnected():
            ib.disconnect()
            await gw.wait_until(lambda: client_id not in gw.clients, WAIT)


async def qualified(ib: IB, symbol: str = "AAPL") -> Stock:
    (contract,) = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    assert contract is not None
    return contract  # type: ignore[return-value]


def error_codes(ib: IB) -> list[int]:
    """Every error code ``ib`` hears from now on, in order (a live list)."""
    seen: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: seen.append(code)
    return seen


async def wait_event(event: object, timeout: float = WAIT) -> object:
    """Await an eventkit event (or any awaitable) with a timeout."""
    return await asyncio.wait_for(event, timeout)  # type: ignore[arg-type]


async def barrier(ib: IB) -> None:
    """A round trip: the gateway has processed everything ib sent before this."""
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), WAIT)


async def until(ib: IB, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Wait until ``predicate()`` holds, re-checking after every message batch ib_async processes."""

    async def loop() -> None:
        while not predicate():
            await ib.updateEvent

    if not predicate():
        await asyncio.wait_for(loop(), timeout)
