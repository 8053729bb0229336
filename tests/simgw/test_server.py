"""Connection handling with a raw socket client: handshake rules, garbage, slow readers."""

from __future__ import annotations

import asyncio
import struct

import pytest

from orchestrator.simgw import server

from .helpers import WAIT, barrier, connect, gateway, qualified


class Raw:
    """A minimal TWS API client speaking raw frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, handshake: str | None = "v157..178") -> Raw:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = cls(reader, writer)
        if handshake is not None:
            payload = handshake.encode()
            writer.write(b"API\0" + struct.pack(">I", len(payload)) + payload)
        return raw

    def send(self, *fields: object) -> None:
        payload = "".join(f"{f}\0" for f in fields).encode()
        self.writer.write(struct.pack(">I", len(payload)) + payload)

    async def frame(self) -> list[str]:
        size = struct.unpack(">I", await asyncio.wait_for(self.reader.readexactly(4), WAIT))[0]
        data = await asyncio.wait_for(self.reader.readexactly(size), WAIT)
        fields = data.decode().split("\0")
        assert fields.pop() == ""
        return fields

    async def closed_by_peer(self) -> bool:
        """Read until the gateway closes the connection (then close our side too)."""
        try:
            while await asyncio.wait_for(self.reader.read(65536), WAIT):
                pass
        except ConnectionResetError:
            pass
        self.close()
        return True

    def close(self) -> None:
        self.writer.close()


async def test_nothing_is_sent_before_start_api() -> None:
    async with gateway() as gw:
        raw = await Raw.open(gw.port)
        version, conn_time = await raw.frame()
        assert version == "157" and conn_time.endswith(("EST", "EDT"))
        raw.send(49, 1)  # reqCurrentTime before startApi: ignored
        raw.send(71, 2, 12, "")
        first = [await raw.frame() for _ in range(5)]
        assert [f[0] for f in first] == ["15", "9", "4", "4", "4"]
        assert first[0] == ["15", "1", "DU1234567"] and first[1] == ["9", "1", "1"]
        assert [f[3] for f in first[2:]] == ["2104", "2106", "2158"]
        raw.send(49, 1)
        assert (await raw.frame())[0] == "49"
        raw.send(8, 1, 1)  # reqIds
        assert await raw.frame() == ["9", "1", "1"]
        raw.send(17, 1)  # reqManagedAccts
        assert await raw.frame() == ["15", "1", "DU1234567"]
        raw.send(15, 1, 1)  # reqAutoOpenOrders: no answer
        raw.send(5, 1)  # reqOpenOrders
        assert await raw.frame() == ["53", "1"]
        raw.close()
        await raw.writer.wait_closed()


async def test_version_range_without_157_is_closed() -> None:
    async with gateway() as gw:
        raw = await Raw.open(gw.port, "v100..150")
        assert await raw.closed_by_peer()


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"API\0" + struct.pack(">I", 9) + b"v157..178" + struct.pack(">I", 4) + b"xyz\0",
        b"API\0" + struct.pack(">I", 9) + b"v157..178" + struct.pack(">I", 0x7FFFFFFF),
    ],
)
async def test_garbage_drops_only_that_connection(garbage: bytes) -> None:
    async with gateway() as gw, connect(gw, 1) as ib:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(garbage)
        raw = Raw(reader, writer)
        assert await raw.closed_by_peer()
        assert await ib.reqCurrentTimeAsync()
        assert gw.clients == [1]


async def test_malformed_known_message_after_start_api_is_dropped() -> None:
    async with gateway() as gw, connect(gw, 1) as ib:
        raw = await Raw.open(gw.port)
        await raw.frame()
        raw.send(71, 2, 2, "")
        for _ in range(5):
            await raw.frame()
        raw.send(3, "not-an-order-id", "x")  # placeOrder with nonsense
        assert await raw.closed_by_peer()
        await gw.wait_until(lambda: gw.clients == [1], WAIT)
        aapl = await qualified(ib)
        assert aapl.conId == 265598


async def test_unknown_message_ids_are_ignored() -> None:
    async with gateway() as gw:
        raw = await Raw.open(gw.port)
        await raw.frame()
        raw.send(71, 2, 3, "")
        for _ in range(5):
            await raw.frame()
        raw.send(230, 1, 7)  # no such message
        raw.send(20, 77, 0, "AAPL", "STK", "", 0, "", "", "SMART", "", "USD", "", "", 0, "", "1 D", "1 min",
                 1, "TRADES", 1, 0, "")  # reqHistoricalData: not simulated, answered with 322
        assert (await raw.frame())[:4] == ["4", "2", "77", "322"]
        raw.send(49, 1)
        assert (await raw.frame())[0] == "49"
        raw.close()
        await raw.writer.wait_closed()


async def test_a_client_that_does_not_read_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "MAX_BACKLOG", 256 * 1024)
    async with gateway() as gw, connect(gw, 1) as ib:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.transport.pause_reading()  # never read again
        payload = b"v157..178"
        writer.write(b"API\0" + struct.pack(">I", len(payload)) + payload)
        for fields in ((71, 2, 2, ""), (1, 11, 1, 265598, "AAPL", "STK", "", 0.0, "", "", "SMART", "NASDAQ",
                                         "USD", "AAPL", "NMS", 0, "", 0, 0, "")):
            data = "".join(f"{f}\0" for f in fields).encode()
            writer.write(struct.pack(">I", len(data)) + data)
        await gw.wait_until(lambda: 2 in gw.clients, WAIT)
        await gw.wait_until(lambda: gw.feed.subscriptions.has_quotes("AAPL"), WAIT)
        price = 180.0
        while 2 in gw.clients:
            price = 180.0 if price > 181.0 else price + 0.01
            gw.set_price("AAPL", round(price, 2))
            await asyncio.sleep(0)  # let the writer tasks run (not a synchronisation wait)
        await barrier(ib)  # the well-behaved client is still served
        assert gw.clients == [1]
        writer.close()
        await Raw(reader, writer).closed_by_peer()
