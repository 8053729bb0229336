"""Benchmark of the simulated IB Gateway.

Run: ``.venv/bin/python -m bench.simgw_bench [--ticks N] [--orders N] [--json]``

The gateway runs as a separate process (the real ``sim-gateway`` command), so
the client's decoding and the gateway's work do not share one core.

* tick throughput: tick messages (tickPrice/tickSize) per second delivered to
  one ib_async client subscribed to 5 symbols, while the gateway applies N
  price rows as fast as it can (one ``advance`` on the control port); and the
  same to a raw socket client that only counts frames.
* order acknowledgement time: placeOrder sent → orderStatus received, for
  resting limit orders placed one at a time by ib_async (its client-side
  45 requests/s throttle is switched off so the gateway is what is measured)
  and by the raw client.

Targets (issue): ≥ 20,000 tick messages/s, median ack ≤ 1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ib_async import IB, LimitOrder, Stock

SYMBOLS = {"AAPL": 180.0, "MSFT": 420.0, "NVDA": 120.0, "TSLA": 250.0, "SPY": 560.0}
REPO = Path(__file__).resolve().parents[1]


def write_path(rows: int, directory: str) -> Path:
    path = Path(directory) / "bench-prices.csv"
    lines = ["symbol,price"]
    names = list(SYMBOLS)
    for i in range(rows):
        symbol = names[i % len(names)]
        lines.append(f"{symbol},{SYMBOLS[symbol] + ((i // 5) % 40 - 20) * 0.01:.2f}")
    path.write_text("\n".join(lines) + "\n")
    return path


class Gateway:
    """The sim-gateway command as a subprocess, with its control port."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self.control: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def start(self, prices: Path, *extra: str) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestrator.simgw", "--port", "0", "--prices", str(prices),
            "--tick-seconds", "0", "--control-port", "0",
            # these figures are the gateway's and the orchestrator's speed, not IB's 50 messages/s
            "--pacing-limit", "1000000", *extra, cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout and self.proc.stderr
        self.port = int((await self.proc.stdout.readline()).decode().rsplit(":", 1)[1])
        control_port = int((await self.proc.stderr.readline()).decode().rsplit(":", 1)[1])
        self.control = await asyncio.open_connection("127.0.0.1", control_port)

    async def command(self, **cmd: Any) -> dict[str, Any]:
        assert self.control
        reader, writer = self.control
        writer.write(json.dumps(cmd).encode() + b"\n")
        return json.loads(await reader.readline())

    async def stop(self) -> None:
        if self.control:
            self.control[1].close()
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.communicate()


async def ib_tick_throughput(gw: Gateway, rows: int) -> dict[str, float]:
    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=1, timeout=5)
    contracts = await ib.qualifyContractsAsync(*(Stock(s, "SMART", "USD") for s in SYMBOLS))
    count = 0
    handlers = ib.client.decoder.handlers
    price_tick, size_tick = handlers[1], handlers[2]

    def counted(handler):  # type: ignore[no-untyped-def]
        def wrapper(fields):  # type: ignore[no-untyped-def]
            nonlocal count
            count += 1
            handler(fields)
        return wrapper

    handlers[1], handlers[2] = counted(price_tick), counted(size_tick)
    for c in contracts:
        ib.reqMktData(c)
    await ib.reqCurrentTimeAsync()
    while count < 7 * len(SYMBOLS):  # the initial quotes
        await ib.updateEvent
    count = 0
    expected = 4 * rows  # bid, ask, last, volume per row
    started = time.perf_counter()
    await gw.command(cmd="advance", n=rows)
    while count < expected:
        await asyncio.wait_for(ib.updateEvent, 30)
    elapsed = time.perf_counter() - started
    ib.disconnect()
    return {"messages": count, "seconds": elapsed, "per_second": count / elapsed}


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, client_id: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self = cls(reader, writer)
        writer.write(b"API\0" + struct.pack(">I", 9) + b"v157..178")
        await self.frame()
        self.send(71, 2, client_id, "")
        while (await self.frame())[:4] != ["4", "2", "-1", "2158"]:  # the last startup notice
            pass
        return self

    def send(self, *fields: object) -> None:
        payload = "".join(f"{f}\0" for f in fields).encode()
        self.writer.write(struct.pack(">I", len(payload)) + payload)

    async def frame(self) -> list[str]:
        (size,) = struct.unpack(">I", await self.reader.readexactly(4))
        return (await self.reader.readexactly(size)).decode().split("\0")[:-1]


def place_order_template() -> list[str]:
    """The fields of a resting BUY LMT exactly as ib_async encodes it at version 157."""
    from ib_async import Contract
    from ib_async.client import Client

    sent: list[bytes] = []

    class Transport:
        def write(self, data: bytes) -> None:
            sent.append(data)

    client = Client(None)
    client._serverVersion = 157
    client.connState = Client.CONNECTED
    client.MaxRequests = 0
    client.conn.transport = Transport()  # type: ignore[assignment]
    contract = Contract(secType="STK", conId=265598, symbol="AAPL", exchange="SMART",
                        primaryExchange="NASDAQ", currency="USD", localSymbol="AAPL", tradingClass="NMS")
    client.placeOrder(0, contract, LimitOrder("BUY", 1, 100.0, orderRef="bench", tif="GTC"))
    return sent[0][4:].decode().split("\0")[:-1]


async def raw_tick_throughput(gw: Gateway, rows: int) -> dict[str, float]:
    raw = await RawClient.connect(gw.port, 2)
    for i, symbol in enumerate(SYMBOLS):
        raw.send(1, 11, 100 + i, 0, symbol, "STK", "", 0.0, "", "", "SMART", "", "USD", "", "", 0, "", 0, 0, "")
    seen = 0
    while seen < 7 * len(SYMBOLS):
        if (await raw.frame())[0] in ("1", "2"):
            seen += 1
    count = 0
    expected = 4 * rows
    started = time.perf_counter()
    await gw.command(cmd="advance", n=rows)
    while count < expected:
        if (await raw.frame())[0] in ("1", "2"):
            count += 1
    elapsed = time.perf_counter() - started
    raw.writer.close()
    return {"messages": count, "seconds": elapsed, "per_second": count / elapsed}


def summarize(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "orders": len(ordered),
        "median_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


async def ib_ack_latency(gw: Gateway, orders: int) -> dict[str, float]:
    ib = IB()
    ib.client.MaxRequests = 0  # no client-side throttle: measure the gateway
    await ib.connectAsync("127.0.0.1", gw.port, clientId=3, timeout=5)
    (aapl,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    samples = []
    for _ in range(orders):
        acked = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        trade = ib.placeOrder(aapl, LimitOrder("BUY", 1, 100.0, tif="GTC"))
        trade.statusEvent += lambda t, f=acked: f.done() or f.set_result(time.perf_counter())
        samples.append(await asyncio.wait_for(acked, 5) - started)
    ib.disconnect()
    return summarize(samples)


async def raw_ack_latency(gw: Gateway, orders: int) -> dict[str, float]:
    raw = await RawClient.connect(gw.port, 4)
    raw.send(8, 1, 1)
    next_id = 0
    while not next_id:
        fields = await raw.frame()
        if fields[0] == "9":
            next_id = int(fields[2])
    template = place_order_template()
    samples = []
    for i in range(orders):
        template[1] = str(next_id + i)
        started = time.perf_counter()
        raw.send(*template)
        while (await raw.frame())[0] != "3":
            pass
        samples.append(time.perf_counter() - started)
    raw.writer.close()
    return summarize(samples)


async def run(rows: int, orders: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        prices = write_path(rows * 2, tmp)
        gw = Gateway()
        await gw.start(prices)
        try:
            results["ticks_ib_async"] = await ib_tick_throughput(gw, rows)
            results["ticks_raw"] = await raw_tick_throughput(gw, rows)
            results["ack_ib_async"] = await ib_ack_latency(gw, orders)
            results["ack_raw"] = await raw_ack_latency(gw, orders)
        finally:
            await gw.stop()
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.simgw_bench", description=__doc__.splitlines()[0])
    p.add_argument("--ticks", type=int, default=20_000, help="price rows per throughput run")
    p.add_argument("--orders", type=int, default=1_000, help="orders per latency run")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)
    results = asyncio.run(run(args.ticks, args.orders))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key in ("ticks_ib_async", "ticks_raw"):
            r = results[key]
            print(f"{key:15} {r['per_second']:>10,.0f} tick messages/s  ({r['messages']:,} in {r['seconds']:.2f} s)")
        for key in ("ack_ib_async", "ack_raw"):
            r = results[key]
            print(f"{key:15} median {r['median_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  max {r['max_ms']:.3f} ms"
                  f"  ({r['orders']} orders)")
    return results


if __name__ == "__main__":
    main()
