"""The control endpoint: JSON lines over TCP on loopback.

One JSON object per line in, one JSON reply line out.  Every reply has
``"ok"``; failures carry ``"error"``.  Commands::

    {"cmd": "ping"}
    {"cmd": "state"}                                  -> {"ok": true, "state": {...}}
    {"cmd": "journal", "since": 0}                    -> {"ok": true, "entries": [...]}
    {"cmd": "advance", "n": 1}
    {"cmd": "set_price", "symbol": "AAPL", "price": 181}     (a futures root, ES, moves every month)
    {"cmd": "fx", "pair": "EURUSD", "rate": 1.1}              -> {"ok": true, "base_currency": …, "fx": {…}}
    {"cmd": "drop_connections"}                       -> {"ok": true, "dropped": 2}
    {"cmd": "restart", "refuse_seconds": 0}
    {"cmd": "reject_next", "count": 1, "reason": "..."}
    {"cmd": "reject_next_modify", "count": 1, "reason": "..."}
    {"cmd": "exec_delay", "seconds": 0.05}
    {"cmd": "ignore_next", "msg_id": 99, "count": 1}
    {"cmd": "drop_next_order_status", "count": 1}
    {"cmd": "ack_delay", "seconds": 0.5}
    {"cmd": "refuse_for", "seconds": 2}
    {"cmd": "drop_at_tick", "tick": 40}
    {"cmd": "replay_executions", "twice": true}
    {"cmd": "clear_faults"}
    {"cmd": "market_data", "mode": "live|delayed|none", "symbol": "AAPL"}   (symbol optional)
    {"cmd": "competing_session"}
    {"cmd": "farm", "up": false}
    {"cmd": "stall_symbol", "symbol": "AAPL", "on": true}
    {"cmd": "no_quote", "symbol": "AAPL", "on": true}
    {"cmd": "read_only", "on": true}
    {"cmd": "precaution", "percent": 5}                 (null turns it off)
    {"cmd": "modify_processing", "seconds": 0.5}
    {"cmd": "cancel_race", "count": 1, "fill_first": true}
    {"cmd": "end_session"}
    {"cmd": "set_time", "at": "2026-12-02T14:30:00Z"}   -> {"ok": true, "time": …, "open": true}
    {"cmd": "advance_time", "seconds": 60}            -> the same
    {"cmd": "set_hours", "symbol": "AAPL", "date": "2026-12-02", "hours": "CLOSED"}   (or "0930-1300")
    {"cmd": "connectivity", "lost_seconds": 2, "restore": "1101|1102"}
    {"cmd": "slow_sync", "seconds": 6}
    {"cmd": "hold_client_id", "client_id": 7, "seconds": 10}
    {"cmd": "restart", "refuse_seconds": 0, "rollback": 0}
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from .entitlement import MODES
from .gateway import SimGateway

log = logging.getLogger("orchestrator.simgw")


class CommandError(ValueError):
    pass


def _num(cmd: dict[str, Any], key: str, default: float | None = None) -> float:
    value = cmd.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandError(f"{key!r} must be a number")
    return float(value)


def _flag(cmd: dict[str, Any], key: str, default: bool | None = None) -> bool:
    value = cmd.get(key, default)
    if not isinstance(value, bool):
        raise CommandError(f"{key!r} must be true or false")
    return value


def _symbol(gw: SimGateway, cmd: dict[str, Any], required: bool = True) -> str | None:
    symbol = cmd.get("symbol")
    if symbol is None and not required:
        return None
    if not isinstance(symbol, str) or gw.catalog.by_key(symbol) is None:
        raise CommandError(f"unknown symbol {symbol!r}")
    return symbol


def _market_data(gw: SimGateway, cmd: dict[str, Any]) -> None:
    mode = cmd.get("mode")
    if mode not in MODES:
        raise CommandError(f"'mode' must be one of {', '.join(MODES)}")
    gw.feed.set_entitlement(str(mode), _symbol(gw, cmd, required=False))


def _set_hours(gw: SimGateway, cmd: dict[str, Any]) -> None:
    symbol, day, hours = _symbol(gw, cmd), cmd.get("date"), cmd.get("hours")
    try:
        when = date.fromisoformat(str(day))
    except ValueError:
        raise CommandError(f"'date' must be a date YYYY-MM-DD (got {day!r})") from None
    try:
        gw.set_hours(str(symbol), when, str(hours))
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _precaution(gw: SimGateway, cmd: dict[str, Any]) -> None:
    if cmd.get("percent") is None:
        gw.policy.precaution_percent = None
        return
    percent = _num(cmd, "percent")
    if percent <= 0:
        raise CommandError("'percent' must be > 0 (or null to turn the check off)")
    gw.policy.precaution_percent = percent


def _connectivity(gw: SimGateway, cmd: dict[str, Any]) -> None:
    restore = str(cmd.get("restore", "1101"))
    if restore not in ("1101", "1102"):
        raise CommandError("'restore' must be \"1101\" (data lost) or \"1102\" (data maintained)")
    seconds = _num(cmd, "lost_seconds")
    if seconds <= 0:
        raise CommandError("'lost_seconds' must be > 0")
    gw.connectivity.lose(seconds, restore)


def _time(cmd: dict[str, Any]) -> datetime:
    text = cmd.get("at")
    try:
        at = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise CommandError("'at' must be an ISO time with its offset, e.g. \"2026-12-02T14:30:00Z\"")
    return at


def _nonnegative(cmd: dict[str, Any], key: str) -> float:
    value = _num(cmd, key)
    if value < 0:
        raise CommandError(f"{key!r} must be >= 0")
    return value


#: Commands about the account's market data, settings and IB's side of the connection.
_IB_SIDE: dict[str, Callable[[SimGateway, dict[str, Any]], None]] = {
    "market_data": _market_data,
    "competing_session": lambda gw, cmd: gw.feed.competing_session(),
    "farm": lambda gw, cmd: gw.feed.set_farm(_flag(cmd, "up")),
    "stall_symbol": lambda gw, cmd: gw.feed.stall(str(_symbol(gw, cmd)), _flag(cmd, "on", True)),
    "no_quote": lambda gw, cmd: gw.feed.set_no_quote(str(_symbol(gw, cmd)), _flag(cmd, "on", True)),
    "read_only": lambda gw, cmd: setattr(gw.policy, "read_only", _flag(cmd, "on", True)),
    "precaution": _precaution,
    "modify_processing": lambda gw, cmd: setattr(gw.policy, "modify_processing_seconds",
                                                 _nonnegative(cmd, "seconds")),
    "end_session": lambda gw, cmd: gw.end_session(),
    "connectivity": _connectivity,
    "hold_client_id": lambda gw, cmd: gw.hold_client_id(int(_num(cmd, "client_id")), _nonnegative(cmd, "seconds")),
}


async def execute(gw: SimGateway, cmd: dict[str, Any]) -> dict[str, Any]:
    """Run one control command against ``gw``; returns the reply object."""
    name = cmd.get("cmd")
    f = gw.faults
    if name == "ping":
        return {"ok": True}
    if name == "state":
        return {"ok": True, "state": gw.state()}
    if name == "journal":
        since = int(_num(cmd, "since", 0))
        return {"ok": True, "entries": gw.journal_entries[since:]}
    if name == "advance":
        n = int(_num(cmd, "n", 1))
        if n < 0:
            raise CommandError("'n' must be >= 0")
        await gw.advance(n)
        return {"ok": True, "tick": gw.tick}
    if name == "set_price":
        symbol = cmd.get("symbol")
        price = _num(cmd, "price")
        if not isinstance(symbol, str) or not gw.catalog.keys_of(symbol):
            raise CommandError(f"unknown symbol {symbol!r}")
        if price <= 0:
            raise CommandError("'price' must be positive")
        gw.set_price(symbol, price)
        return {"ok": True}
    if name == "fx":
        pair, rate = cmd.get("pair"), _num(cmd, "rate")
        if not isinstance(pair, str):
            raise CommandError("'pair' must be a currency pair such as \"EURUSD\"")
        gw.set_fx(pair, rate)
        return {"ok": True, "base_currency": gw.account.base, "fx": gw.account.fx}
    if name in ("set_time", "advance_time"):
        if name == "set_time":
            gw.set_time(_time(cmd))
        else:
            gw.advance_time(_nonnegative(cmd, "seconds"))
        return {"ok": True, "time": gw.clock().isoformat(), "open": gw.market_clock.is_open()}
    if name == "set_hours":
        _set_hours(gw, cmd)
        return {"ok": True}
    if name == "drop_connections":
        return {"ok": True, "dropped": f.drop_connections()}
    if name == "restart":
        gw.restart(_num(cmd, "refuse_seconds", 0), int(_num(cmd, "rollback", 0)))
        return {"ok": True}
    if name in _IB_SIDE:
        _IB_SIDE[name](gw, cmd)
        return {"ok": True, "market_data": gw.feed.to_json(), "policy": gw.policy.to_json()}
    if name == "reject_next":
        f.reject_next(int(_num(cmd, "count", 1)), str(cmd.get("reason", "simulated rejection")))
    elif name == "reject_next_modify":
        f.reject_next_modify(int(_num(cmd, "count", 1)), str(cmd.get("reason", "simulated modify rejection")))
    elif name == "drop_next_order_status":
        f.drop_next_order_status(int(_num(cmd, "count", 1)))
    elif name == "ack_delay":
        f.delay_acks(_num(cmd, "seconds"))
    elif name == "exec_delay":
        f.delay_executions(_num(cmd, "seconds"))
    elif name == "ignore_next":
        f.ignore_next(int(_num(cmd, "msg_id")), int(_num(cmd, "count", 1)))
    elif name == "refuse_for":
        f.refuse_for(_num(cmd, "seconds"))
    elif name == "drop_at_tick":
        f.drop_at_tick(int(_num(cmd, "tick")))
    elif name == "replay_executions":
        f.replay_executions(bool(cmd.get("twice", True)))
    elif name == "clear_faults":
        f.clear()
    elif name == "cancel_race":
        f.race_next_cancel(int(_num(cmd, "count", 1)), _flag(cmd, "fill_first", True))
    elif name == "slow_sync":
        f.slow_sync(_num(cmd, "seconds"))
    else:
        raise CommandError(f"unknown command {name!r}")
    return {"ok": True, "faults": f.to_json()}


class ControlServer:
    """Serves :func:`execute` on a TCP port."""

    def __init__(self, gw: SimGateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self.gw = gw
        self.host = host
        self.port = port
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> ControlServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                try:
                    cmd = json.loads(line)
                    if not isinstance(cmd, dict):
                        raise CommandError("a command must be a JSON object")
                    reply = await execute(self.gw, cmd)
                except (ValueError, KeyError) as exc:  # JSONDecodeError and CommandError are ValueErrors
                    reply = {"ok": False, "error": str(exc)}
                writer.write((json.dumps(reply, default=str) + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
