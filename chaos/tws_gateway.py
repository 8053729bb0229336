"""The simulated gateway with a TWS window: ``python -m chaos.tws_gateway`` takes the arguments of
``python -m orchestrator.simgw`` and runs the same gateway and control port, plus one more
loopback port where the trader works in "TWS" itself rather than through the API.

Why: a trader in TWS can cancel any order of the account by clicking it — the orchestrator's
stop included. Through the API they cannot: IB binds an order to the client that placed it, so
a clientId-0 ``cancelOrder`` of another client's order id is refused (10147, and the simulator
does the same). The simulator models the click as ``SimGateway.cancel_in_tws``; its control
port does not offer it, so this window does. Everything else the trader does goes through the
TWS socket protocol (``chaos/trader.py``).

The window speaks JSON lines, one reply per command::

    {"cmd": "cancel", "order_ref": "P1:stop"}   -> {"ok": true, "cancelled": 1}

Its address goes to stderr once listening: ``tws window on 127.0.0.1:PORT``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

from orchestrator.simgw import PricePath, PricesError, SimGateway
from orchestrator.simgw.command import build_gateway, build_parser, serve

PROG = "tws-gateway"


def _window(gw: SimGateway, cmd: dict[str, Any]) -> dict[str, Any]:
    if cmd.get("cmd") == "cancel" and isinstance(cmd.get("order_ref"), str):
        working = [o for o in gw.book.orders.values() if o.order_ref == cmd["order_ref"] and not o.is_done]
        gw.cancel_in_tws(cmd["order_ref"])
        return {"ok": True, "cancelled": len(working)}
    return {"ok": False, "error": f"unknown window command {cmd!r}"}


async def _serve_window(gw: SimGateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            try:
                cmd = json.loads(line)
                reply = _window(gw, cmd) if isinstance(cmd, dict) else {"ok": False, "error": "not an object"}
            except ValueError as exc:
                reply = {"ok": False, "error": str(exc)}
            writer.write((json.dumps(reply) + "\n").encode())
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _main(argv: list[str]) -> int:
    args = build_parser(PROG).parse_args(argv)
    try:
        gw = build_gateway(args, PricePath.from_csv(args.prices))
    except PricesError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    window = await asyncio.start_server(lambda r, w: _serve_window(gw, r, w), "127.0.0.1", 0)
    print(f"tws window on 127.0.0.1:{window.sockets[0].getsockname()[1]}", file=sys.stderr, flush=True)
    try:
        return await serve(args, gw, PROG)
    finally:
        window.close()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_main(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
